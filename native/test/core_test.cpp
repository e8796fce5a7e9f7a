// Unit tests of native/core on its own (no Node): run by `npm test` on the host and, cross
// built, under qemu-aarch64 by `npm run test:arm64`.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <atomic>
#include <thread>
#include <vector>

#include "../core/cpu.h"
#include "../core/lock.h"
#include "../core/map.h"
#include "../core/persist.h"
#include "../core/sysfs.h"

using namespace daxfs;

static int g_passed = 0, g_failed = 0;

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::fprintf(stderr, "  check failed at line %d: %s\n", __LINE__, #cond); \
      ok = false;                                                                \
    }                                                                            \
  } while (0)

static void run(const char *name, bool (*fn)()) {
  bool ok = fn();
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", name);
  (ok ? g_passed : g_failed)++;
}

static std::string temp_dir() {
  std::string tmpl = "/tmp/daxfs-core-" + std::string(6, 'X');  // mkdtemp's template
  return mkdtemp(&tmpl[0]);
}

static void write_file(const std::string &path, const std::string &text) {
  std::ofstream(path) << text << "\n";
}

static bool cache_line_is_a_power_of_two() {
  bool ok = true;
  size_t line = cpu_features().cacheLine;
  CHECK(line >= 16 && line <= 256);
  CHECK((line & (line - 1)) == 0);
  return ok;
}

static bool persist_ops_are_named_and_chosen() {
  bool ok = true;
  const PersistOps &ops = persist_ops();
  CHECK(ops.flush != nullptr && ops.fence != nullptr && ops.copyNoDrain != nullptr && ops.fillNoDrain != nullptr);
  std::string flush = ops.flushName;
#if defined(__x86_64__)
  CHECK(flush == "clwb" || flush == "clflushopt" || flush == "clflush");
  CHECK(std::string(ops.fenceName) == "sfence");
  if (env_switch("DAXFS_NO_CLWB")) CHECK(flush != "clwb");
  if (env_switch("DAXFS_NO_CLWB") && env_switch("DAXFS_NO_CLFLUSHOPT")) CHECK(flush == "clflush");
  if (env_switch("DAXFS_NO_MOVNT")) CHECK(std::string(ops.copyName) == "plain");
#elif defined(__aarch64__)
  CHECK(flush == "dc cvap" || flush == "dc cvac");
  CHECK(std::string(ops.fenceName) == "dsb");
  if (env_switch("DAXFS_NO_CVAP")) CHECK(flush == "dc cvac");
  const char *expect = std::getenv("DAXFS_EXPECT_FLUSH");
  if (expect) CHECK(flush == expect);
#endif
  std::printf("     flush=%s fence=%s copy=%s line=%zu\n", ops.flushName, ops.fenceName, ops.copyName,
              cpu_features().cacheLine);
  return ok;
}

static bool flush_and_fence_run_over_any_range() {
  bool ok = true;
  std::vector<char> buf(1 << 16, 7);
  for (size_t off : {0, 1, 63, 64, 65, 4095}) {
    for (size_t len : {0, 1, 63, 64, 65, 300, 4096, 10000}) {
      persist_range(buf.data() + off, len);
    }
  }
  CHECK(buf[100] == 7);
  return ok;
}

// Copies and fills at every alignment and length around the head/tail and threshold edges
// must produce exactly the bytes of memcpy/memset and touch nothing outside the range.
static bool copy_and_fill_match_memcpy_at_every_edge() {
  bool ok = true;
  const PersistOps &ops = persist_ops();
  std::vector<unsigned char> src(70000), dst(70100), want(70100);
  for (size_t i = 0; i < src.size(); i++) src[i] = static_cast<unsigned char>(i * 31 + 7);
  const size_t lens[] = {0, 1, 8, 63, 64, 65, 255, 256, 257, 511, 4096, 4097, 65536 + 17};
  for (size_t doff = 0; doff < 70; doff += 7) {
    for (size_t soff : {0, 3}) {
      for (size_t len : lens) {
        std::memset(dst.data(), 0xee, dst.size());
        std::memset(want.data(), 0xee, want.size());
        std::memcpy(want.data() + doff, src.data() + soff, len);
        ops.copyNoDrain(dst.data() + doff, src.data() + soff, len);
        ops.fence();
        if (std::memcmp(dst.data(), want.data(), dst.size()) != 0) {
          std::fprintf(stderr, "  copy mismatch doff=%zu soff=%zu len=%zu\n", doff, soff, len);
          ok = false;
        }
        std::memset(want.data() + doff, 0x5a, len);
        ops.fillNoDrain(dst.data() + doff, 0x5a, len);
        ops.fence();
        if (std::memcmp(dst.data(), want.data(), dst.size()) != 0) {
          std::fprintf(stderr, "  fill mismatch doff=%zu len=%zu\n", doff, len);
          ok = false;
        }
      }
    }
  }
  return ok;
}

static bool anonymous_mapping_is_zeroed_and_aligned() {
  bool ok = true;
  Mapping m;
  MapError e;
  CHECK(map_anonymous(3 << 20, m, e));
  CHECK(reinterpret_cast<uintptr_t>(m.base) % (2 << 20) == 0);
  const unsigned char *p = static_cast<const unsigned char *>(m.base);
  CHECK(p[0] == 0 && p[(3 << 20) - 1] == 0);
  unmap(m);
  CHECK(!map_anonymous(0, m, e) && e.err == EINVAL);
  return ok;
}

static bool file_mapping_persists_through_msync() {
  bool ok = true;
  std::string dir = temp_dir(), path = dir + "/f";
  MapOptions o;
  o.create = true;
  o.hasSize = true;
  o.size = 8192;
  Mapping m;
  MapError e;
  CHECK(map_file(path.c_str(), o, m, e));
  CHECK(m.kind == MapKind::File || m.kind == MapKind::FsDax);
  std::memcpy(static_cast<char *>(m.base) + 4096, "durable", 7);
  CHECK(sync_pages(m, 4096, 7) == 0);
  unmap(m);
  char buf[8] = {0};
  FILE *f = std::fopen(path.c_str(), "rb");
  std::fseek(f, 4096, SEEK_SET);
  CHECK(std::fread(buf, 1, 7, f) == 7);
  std::fclose(f);
  CHECK(std::string(buf) == "durable");
  struct stat st;
  stat(path.c_str(), &st);
  CHECK((st.st_mode & 0077) == 0);  // created 0600 by default
  // exclusive create of an existing file fails, and leaves it alone
  o.exclusive = true;
  CHECK(!map_file(path.c_str(), o, m, e) && e.err == EEXIST);
  CHECK(access(path.c_str(), F_OK) == 0);
  // creating without a size fails and leaves no file
  MapOptions nosize;
  nosize.create = true;
  std::string other = dir + "/g";
  CHECK(!map_file(other.c_str(), nosize, m, e) && e.err == EINVAL);
  CHECK(access(other.c_str(), F_OK) != 0);
  unlink(path.c_str());
  rmdir(dir.c_str());
  return ok;
}

// A fake sysfs that claims /dev/zero is a device-DAX node lets the detection and the
// alignment rules run without a real device.
static bool device_dax_detection_reads_sysfs() {
  bool ok = true;
  std::string root = temp_dir();
  struct stat st;
  stat("/dev/zero", &st);
  char node[64];
  std::snprintf(node, sizeof node, "/dev/char/%u:%u", major(st.st_rdev), minor(st.st_rdev));
  std::string dir = root + node;
  std::string cmd = "mkdir -p '" + dir + "' '" + root + "/bus/dax'";
  CHECK(std::system(cmd.c_str()) == 0);
  CHECK(symlink((root + "/bus/dax").c_str(), (dir + "/subsystem").c_str()) == 0);
  write_file(dir + "/size", "8388608");
  write_file(dir + "/align", "2097152");

  CHECK(char_device_subsystem(st.st_rdev) != "dax");  // the real sysfs first
  set_sysfs_root(root);
  DaxDeviceInfo info;
  CHECK(dax_device_info(st.st_rdev, info));
  CHECK(info.size == 8388608 && info.align == 2097152);
  Mapping m;
  MapError e;
  MapOptions o;
  CHECK(map_file("/dev/zero", o, m, e));
  CHECK(m.kind == MapKind::DevDax && m.size == 8388608 && m.align == 2097152);
  unmap(m);
  o.hasSize = true;
  o.size = 4096;
  CHECK(!map_file("/dev/zero", o, m, e) && e.err == EINVAL);
  o.size = 2 << 20;
  o.offset = 4096;
  CHECK(!map_file("/dev/zero", o, m, e) && e.err == EINVAL);
  MapOptions priv;
  priv.isPrivate = true;
  CHECK(!map_file("/dev/zero", priv, m, e) && e.err == EINVAL);
  set_sysfs_root("");
  MapOptions plain;
  CHECK(!map_file("/dev/zero", plain, m, e) && e.err == EINVAL);
  cmd = "rm -rf '" + root + "'";
  CHECK(std::system(cmd.c_str()) == 0);
  return ok;
}

static bool eadr_needs_every_region_in_cpu_cache() {
  bool ok = true;
  std::string root = temp_dir();
  std::string nd = root + "/bus/nd/devices";
  std::string cmd = "mkdir -p '" + nd + "/region0' '" + nd + "/region1' '" + nd + "/ndbus0'";
  CHECK(std::system(cmd.c_str()) == 0);
  set_sysfs_root(root + "/nothing");
  CHECK(!cpu_cache_is_persistent());  // no region: no eADR
  set_sysfs_root(root);
  write_file(nd + "/region0/persistence_domain", "cpu_cache");
  write_file(nd + "/region1/persistence_domain", "memory_controller");
  CHECK(!cpu_cache_is_persistent());
  write_file(nd + "/region1/persistence_domain", "cpu_cache");
  CHECK(cpu_cache_is_persistent());
  set_sysfs_root("");
  cmd = "rm -rf '" + root + "'";
  CHECK(std::system(cmd.c_str()) == 0);
  return ok;
}

// One flock per device identity per process: claims are counted inside the process and
// another process is refused with EBUSY until the last claim goes.
static bool device_claims_are_counted_and_exclusive_across_processes() {
  bool ok = true;
  std::string dir = temp_dir(), path = dir + "/dev.img";
  write_file(path, "x");
  uint64_t a = 0, b = 0;
  CHECK(device_claim(path.c_str(), &a) == 0);
  CHECK(device_claim(path.c_str(), &b) == 0);
  CHECK(a == b && device_claims(a) == 2);
  auto child_result = [&]() {
    pid_t pid = fork();
    if (pid == 0) {
      // A forked child inherits the parent's claim table, so it asks the kernel directly,
      // as device_claim in another process would.
      int fd = open(path.c_str(), O_RDONLY);
      _exit(flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : (errno == EWOULDBLOCK ? EBUSY : errno));
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  CHECK(child_result() == EBUSY);
  device_release(a);
  CHECK(child_result() == EBUSY);  // one claim left
  device_release(b);
  CHECK(device_claims(a) == 0);
  CHECK(child_result() == 0);
  CHECK(device_claim((dir + "/missing").c_str(), &a) == ENOENT);
  unlink(path.c_str());
  rmdir(dir.c_str());
  return ok;
}

static bool rw_locks_exclude_writers_across_threads() {
  bool ok = true;
  rw_lock(1, 7, false);
  CHECK(rw_try_lock(1, 7, false));       // readers share
  CHECK(!rw_try_lock(1, 7, true));       // a writer waits for them
  CHECK(rw_try_lock(1, 8, true));        // other keys are independent
  CHECK(rw_unlock(1, 8, true));
  CHECK(rw_unlock(1, 7, false) && rw_unlock(1, 7, false));
  CHECK(!rw_unlock(1, 7, false));        // not held: reported, not fatal
  std::atomic<int> inside{0}, worst{0};
  long counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; i++) {
        rw_lock(2, 1, true);
        int now = ++inside;
        if (now > worst) worst = now;
        counter++;
        --inside;
        rw_unlock(2, 1, true);
      }
    });
  }
  for (auto &t : threads) t.join();
  CHECK(worst == 1);
  CHECK(counter == 8000);
  int64_t value = 0;
  CHECK(counter_add(3, 4, 5, 100, &value) && value == 5);
  CHECK(counter_add(3, 4, -2, 100, &value) && value == 3);
  CHECK(!counter_add(3, 4, 98, 100, &value) && value == 3);              // past the limit: unchanged
  CHECK(!counter_add(3, 4, INT64_MAX, INT64_MAX, &value) && value == 3);  // no int64 overflow
  CHECK(counter_add(3, 4, -103, 100, &value) && value == -100);
  return ok;
}

int main() {
  run("cache line is a power of two", cache_line_is_a_power_of_two);
  run("persist ops are named and chosen by the switches", persist_ops_are_named_and_chosen);
  run("flush and fence run over any range", flush_and_fence_run_over_any_range);
  run("copy and fill match memcpy at every edge", copy_and_fill_match_memcpy_at_every_edge);
  run("anonymous mapping is zeroed and 2 MiB aligned", anonymous_mapping_is_zeroed_and_aligned);
  run("file mapping persists through msync", file_mapping_persists_through_msync);
  run("device DAX detection reads sysfs", device_dax_detection_reads_sysfs);
  run("eADR needs every region in cpu_cache", eadr_needs_every_region_in_cpu_cache);
  run("device claims are counted and exclusive across processes", device_claims_are_counted_and_exclusive_across_processes);
  run("rw locks exclude writers across threads", rw_locks_exclude_writers_across_threads);
  std::printf("core: %d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}
