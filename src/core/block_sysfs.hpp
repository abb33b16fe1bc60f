// Where the kernel describes a block device: /sys/dev/block/MAJ:MIN for the
// device a name leads to (links followed).  The guard, the loop autoclear
// check and the scan's taste read their attributes from it.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace mpathfs {

struct BlockSysfs {
  dev_t rdev;       // the device number
  std::string dir;  // "/sys/dev/block/MAJ:MIN", no trailing slash
};

// nullopt when `name` does not lead to a block device.
std::optional<BlockSysfs> block_sysfs(const std::string& name);

}  // namespace mpathfs
