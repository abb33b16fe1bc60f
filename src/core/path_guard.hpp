// Refuses paths that would route I/O back into an mpathfs daemon: a file
// inside any mpathfs mount, or a block device whose data comes from one (a
// loop device on it, a partition of that, a device stacked on those).
#pragma once

#include <string>
#include <vector>

#include "core/result.hpp"

namespace mpathfs {

// The FUSE subtype every mpathfs mount carries ("fuse.mpathfs" in mountinfo).
inline constexpr const char* kFsType = "fuse.mpathfs";

// EINVAL when `path` lies inside an mpathfs mount (directly, through a
// symlink, or as a block device that sysfs shows is built on such a file,
// whatever its major number or where its node was made).  Success otherwise,
// including when the path does not exist (opening it reports that).
VoidResult check_not_inside_mpathfs(const std::string& path);

// One line of /proc/self/mountinfo: where, and what.
struct MountOf {
  std::string mount_point;  // unescaped
  std::string fstype;       // "fuse.mpathfs", "ext4", ...
};
// Every mount this process sees, in mount order.
std::vector<MountOf> read_mountinfo();
// The mount that contains `real_path` (already resolved).
MountOf mount_of(const std::string& real_path);

}  // namespace mpathfs
