// What daxfs needs to know of an open file, read with statx(2). fstat() would bind the
// addon to glibc 2.33's new symbol; statx needs only 2.28, what Node 20 itself needs.
#pragma once
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstdint>

namespace daxfs {

struct FileIdentity {
  uint32_t mode = 0;
  uint64_t size = 0;
  dev_t rdev = 0;     // the device a character or block special file stands for
  uint64_t dev = 0;   // the device holding the file
  uint64_t ino = 0;
};

inline int identify(int fd, FileIdentity &out) {
  struct statx sx;
  if (statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_MODE | STATX_SIZE | STATX_INO, &sx) != 0) return errno;
  out.mode = sx.stx_mode;
  out.size = sx.stx_size;
  out.rdev = makedev(sx.stx_rdev_major, sx.stx_rdev_minor);
  out.dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
  out.ino = sx.stx_ino;
  return 0;
}

}  // namespace daxfs
