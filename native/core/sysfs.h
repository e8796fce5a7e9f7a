// What sysfs says about pmem: device-DAX nodes and the persistence domain of nd regions.
#pragma once
#include <string>
#include <sys/types.h>

namespace daxfs {

// "/sys" unless a test points it at a fake tree.
std::string sysfs_root();
void set_sysfs_root(const std::string &root);

struct DaxDeviceInfo {
  unsigned long long size = 0;
  unsigned long long align = 0;
};

// True when the character device dev is a device-DAX node (its sysfs subsystem is
// "dax"); fills size and alignment from sysfs.
bool dax_device_info(dev_t dev, DaxDeviceInfo &info);

// Name of the sysfs subsystem of a character device ("mem" for /dev/zero), or "".
std::string char_device_subsystem(dev_t dev);

// eADR: at least one nd region exists and every region's persistence_domain is
// "cpu_cache", so stores are persistent once globally visible.
bool cpu_cache_is_persistent();

}  // namespace daxfs
