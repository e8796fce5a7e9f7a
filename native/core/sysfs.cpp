#include "sysfs.h"

#include <dirent.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>

namespace daxfs {

static std::mutex g_root_mutex;
static std::string g_root = "/sys";

std::string sysfs_root() {
  std::lock_guard<std::mutex> lock(g_root_mutex);
  return g_root;
}

void set_sysfs_root(const std::string &root) {
  std::lock_guard<std::mutex> lock(g_root_mutex);
  g_root = root.empty() ? "/sys" : root;
}

static std::string read_line(const std::string &path) {
  std::ifstream in(path);
  std::string line;
  if (in) std::getline(in, line);
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  return line;
}

static bool read_number(const std::string &path, unsigned long long &out) {
  std::string s = read_line(path);
  if (s.empty()) return false;
  char *end = nullptr;
  out = std::strtoull(s.c_str(), &end, 0);
  return end != s.c_str();
}

static std::string char_dir(dev_t dev) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "/dev/char/%u:%u", major(dev), minor(dev));
  return sysfs_root() + buf;
}

std::string char_device_subsystem(dev_t dev) {
  char target[4096];
  ssize_t n = readlink((char_dir(dev) + "/subsystem").c_str(), target, sizeof target - 1);
  if (n <= 0) return "";
  target[n] = '\0';
  std::string t(target);
  size_t slash = t.find_last_of('/');
  return slash == std::string::npos ? t : t.substr(slash + 1);
}

bool dax_device_info(dev_t dev, DaxDeviceInfo &info) {
  if (char_device_subsystem(dev) != "dax") return false;
  const std::string dir = char_dir(dev);
  read_number(dir + "/size", info.size);
  // Newer kernels give each device its own alignment; older ones only the region's.
  if (!read_number(dir + "/align", info.align) &&
      !read_number(dir + "/device/dax_region/align", info.align))
    info.align = 2ull << 20;
  return true;
}

bool cpu_cache_is_persistent() {
  const std::string dir = sysfs_root() + "/bus/nd/devices";
  DIR *d = opendir(dir.c_str());
  if (!d) return false;
  int regions = 0;
  bool all_cpu_cache = true;
  while (struct dirent *e = readdir(d)) {
    std::string name = e->d_name;
    if (name.compare(0, 6, "region") != 0) continue;
    ++regions;
    if (read_line(dir + "/" + name + "/persistence_domain") != "cpu_cache") all_cpu_cache = false;
  }
  closedir(d);
  return regions > 0 && all_cpu_cache;
}

}  // namespace daxfs
