#include "map.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "statx.h"
#include "sysfs.h"

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

namespace daxfs {

size_t page_size() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

static bool fail(MapError &error, int err, const char *syscall, std::string message) {
  error.err = err;
  error.syscall = syscall;
  error.message = std::move(message);
  return false;
}

// Large mappings start on a large boundary so device DAX and huge pages can use PMD
// (or PUD) entries: reserve address space with slack, map over the aligned part, and
// give the slack back.
static void *map_aligned(size_t size, size_t align, int prot, int flags, int fd, off_t offset) {
  size_t reserve = size + align;
  void *r = mmap(nullptr, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (r == MAP_FAILED) return MAP_FAILED;
  uintptr_t start = reinterpret_cast<uintptr_t>(r);
  uintptr_t aligned = (start + align - 1) & ~(uintptr_t(align) - 1);
  void *m = mmap(reinterpret_cast<void *>(aligned), size, prot, flags | MAP_FIXED, fd, offset);
  if (m == MAP_FAILED) {
    int saved = errno;
    munmap(r, reserve);
    errno = saved;
    return MAP_FAILED;
  }
  size_t mapped_end = (aligned + size + page_size() - 1) & ~(uintptr_t(page_size()) - 1);
  if (aligned > start) munmap(r, aligned - start);
  if (start + reserve > mapped_end) munmap(reinterpret_cast<void *>(mapped_end), start + reserve - mapped_end);
  return m;
}

static size_t alignment_for(size_t size) { return size >= (2ull << 30) ? (1ull << 30) : (2ull << 20); }

bool map_anonymous(size_t size, Mapping &out, MapError &error) {
  if (size == 0) return fail(error, EINVAL, "mmap", "size must be greater than 0");
  // Shared, so file mappings over a ram device can alias it read-only (mremap of size 0).
  void *m = map_aligned(size, alignment_for(size), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return fail(error, errno, "mmap", "cannot map anonymous memory");
  out = Mapping{m, size, MapKind::Anonymous, false, 0};
  return true;
}

static bool map_device_dax(int fd, const char *path, const DaxDeviceInfo &info, const MapOptions &o,
                           Mapping &out, MapError &error) {
  std::string p(path);
  if (o.isPrivate)
    return fail(error, EINVAL, "mmap", p + ": device DAX cannot be mapped private (copy-on-write needs a page cache)");
  size_t align = info.align ? info.align : (2ull << 20);
  if (o.offset % align)
    return fail(error, EINVAL, "mmap", p + ": offset " + std::to_string(o.offset) +
                " is not a multiple of the device alignment " + std::to_string(align));
  if (o.offset >= info.size)
    return fail(error, EINVAL, "mmap", p + ": offset is past the device's end (" + std::to_string(info.size) + " bytes)");
  uint64_t size = o.hasSize ? o.size : info.size - o.offset;
  if (size % align)
    return fail(error, EINVAL, "mmap", p + ": size " + std::to_string(size) +
                " is not a multiple of the device alignment " + std::to_string(align));
  if (o.offset + size > info.size)
    return fail(error, EINVAL, "mmap", p + ": offset + size exceeds the device size " + std::to_string(info.size));
  size_t boundary = align > alignment_for(size) ? align : alignment_for(size);
  void *m = map_aligned(size, boundary, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(o.offset));
  if (m == MAP_FAILED) return fail(error, errno, "mmap", p + ": cannot map the device-DAX node");
  out = Mapping{m, size, MapKind::DevDax, false, align};
  return true;
}

static bool map_regular(int fd, const char *path, bool created, const FileIdentity &st, const MapOptions &o,
                        Mapping &out, MapError &error) {
  std::string p(path);
  if (o.offset % page_size())
    return fail(error, EINVAL, "mmap", p + ": offset must be a multiple of the page size " + std::to_string(page_size()));
  uint64_t size = o.hasSize ? o.size : (static_cast<uint64_t>(st.size) > o.offset ? st.size - o.offset : 0);
  if (size == 0)
    return fail(error, EINVAL, "mmap", p + (created ? ": size is required when creating a file"
                                                     : ": the file is empty (or shorter than offset); pass size to extend it"));
  uint64_t end = o.offset + size;
  if (o.isPrivate && static_cast<uint64_t>(st.size) < end)
    return fail(error, EINVAL, "mmap", p + ": a private mapping cannot extend the file");
  // Any failure after the file grew gives it its old size back.
  const bool grows = !o.isPrivate && static_cast<uint64_t>(st.size) < end;
  auto undo = [&] {
    if (grows && ftruncate(fd, st.size) != 0) { /* best effort: the error reported is the first one */ }
  };
  if (grows && ftruncate(fd, static_cast<off_t>(end)) != 0) return fail(error, errno, "ftruncate", p + ": cannot extend the file");
  if (!o.isPrivate && !o.sparse) {
    // Preallocate so a later store cannot fault with SIGBUS on a full filesystem.
    int err = posix_fallocate(fd, static_cast<off_t>(o.offset), static_cast<off_t>(size));
    if (err != 0) {
      undo();
      return fail(error, err, "posix_fallocate", p + ": cannot allocate " + std::to_string(size) + " bytes");
    }
  }
  size_t boundary = alignment_for(size);
  const int prot = PROT_READ | PROT_WRITE;
  void *m = MAP_FAILED;
  MapKind kind = MapKind::File;
  if (!o.isPrivate) {
    m = map_aligned(size, boundary, prot, MAP_SHARED_VALIDATE | MAP_SYNC, fd, static_cast<off_t>(o.offset));
    if (m != MAP_FAILED) {
      kind = MapKind::FsDax;
    } else if (errno != EOPNOTSUPP && errno != EINVAL) {
      int err = errno;
      undo();
      return fail(error, err, "mmap", p + ": cannot map the file");
    } else if (o.syncRequired) {
      undo();
      return fail(error, EOPNOTSUPP, "mmap",
                  p + ": MAP_SYNC is not supported here (sync: 'required' needs a file on a filesystem mounted with -o dax, or a device-DAX node)");
    }
  }
  if (m == MAP_FAILED) {
    m = map_aligned(size, boundary, prot, o.isPrivate ? MAP_PRIVATE : MAP_SHARED, fd, static_cast<off_t>(o.offset));
    if (m == MAP_FAILED) {
      int err = errno;
      undo();
      return fail(error, err, "mmap", p + ": cannot map the file");
    }
  }
  Mapping mapped{m, size, kind, o.isPrivate, 0};
  out = mapped;
  return true;
}

bool map_file(const char *path, const MapOptions &o, Mapping &out, MapError &error) {
  std::string p(path);
  if (o.hasSize && o.size == 0) return fail(error, EINVAL, "mmap", p + ": size must be greater than 0");
  if (o.syncRequired && o.isPrivate)
    return fail(error, EINVAL, "mmap", p + ": a private mapping cannot be synchronous (sync: 'required')");
  int flags = o.isPrivate ? O_RDONLY : O_RDWR;
  flags |= O_CLOEXEC;
  if (o.create) flags |= O_CREAT;
  if (o.create && o.exclusive) flags |= O_EXCL;
  bool existed = access(path, F_OK) == 0;
  int fd = open(path, flags, o.mode);
  if (fd < 0) return fail(error, errno, "open", p + ": cannot open");
  bool created = o.create && !existed;
  FileIdentity st;
  bool ok;
  if (int err = identify(fd, st)) {
    ok = fail(error, err, "statx", p + ": cannot stat");
  } else if (S_ISCHR(st.mode)) {
    DaxDeviceInfo info;
    if (dax_device_info(st.rdev, info)) {
      ok = map_device_dax(fd, path, info, o, out, error);
    } else {
      std::string subsystem = char_device_subsystem(st.rdev);
      ok = fail(error, EINVAL, "mmap", p + ": a character device that is not device DAX" +
                (subsystem.empty() ? std::string() : " (subsystem '" + subsystem + "')") +
                "; map a /dev/daxX.Y node, a file on a -o dax filesystem, or a plain file");
    }
  } else if (S_ISREG(st.mode)) {
    ok = map_regular(fd, path, created, st, o, out, error);
  } else {
    ok = fail(error, EINVAL, "mmap", p + ": not a regular file or device-DAX node" +
              std::string(S_ISBLK(st.mode) ? " (a block device goes through the page cache: use a filesystem mounted -o dax on it)" : ""));
  }
  close(fd);  // the mapping keeps its own reference to the file
  if (!ok && created) unlink(path);  // leave no half-made file behind
  return ok;
}

void unmap(Mapping &m) {
  if (m.base) munmap(m.base, m.size);
  m.base = nullptr;
}

void retire(Mapping &m) {
  if (!m.base) return;
  void *r = mmap(m.base, m.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
  if (r == MAP_FAILED) unmap(m);  // out of memory for the placeholder: plain unmap
}

int sync_pages(const Mapping &m, size_t offset, size_t length) {
  uintptr_t start = reinterpret_cast<uintptr_t>(m.base) + offset;
  uintptr_t page_start = start & ~(uintptr_t(page_size()) - 1);
  size_t len = length + (start - page_start);
  if (len == 0) return 0;
  return msync(reinterpret_cast<void *>(page_start), len, MS_SYNC) == 0 ? 0 : errno;
}

}  // namespace daxfs
