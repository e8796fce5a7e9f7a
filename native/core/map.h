// Mapping persistent memory (or what stands in for it) into the address space.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace daxfs {

enum class MapKind { DevDax, FsDax, File, Anonymous };

struct MapOptions {
  bool hasSize = false;
  uint64_t size = 0;
  uint64_t offset = 0;
  bool create = false;
  bool exclusive = false;
  unsigned mode = 0600;
  bool sparse = false;
  bool isPrivate = false;
  bool syncRequired = false;   // fail with EOPNOTSUPP unless MAP_SYNC or device DAX
};

struct Mapping {
  void *base = nullptr;
  size_t size = 0;
  MapKind kind = MapKind::Anonymous;
  bool isPrivate = false;
  size_t align = 0;            // device DAX alignment (0 elsewhere)
};

struct MapError {
  int err = 0;                 // positive errno
  const char *syscall = "";
  std::string message;
};

bool map_file(const char *path, const MapOptions &options, Mapping &out, MapError &error);
bool map_anonymous(size_t size, Mapping &out, MapError &error);
void unmap(Mapping &mapping);
// Replaces the mapping with private anonymous memory at the same addresses (one atomic
// mmap), releasing the file or device while stale pointers stay harmless; unmap() later.
void retire(Mapping &mapping);

// msync(MS_SYNC) of the pages that cover [offset, offset+length) of a file mapping.
int sync_pages(const Mapping &mapping, size_t offset, size_t length);

size_t page_size();

}  // namespace daxfs
