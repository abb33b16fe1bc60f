// Start-up checks of the mount point, each with a message that says what to
// do about it.
#pragma once

#include <string>

namespace mpathfs::fuse {

// "" when `mnt` can take a new mpathfs mount; otherwise why not:
//  - a stale FUSE mount (its daemon was killed: stat answers ENOTCONN),
//    with how to clear it;
//  - already an mpathfs mount, or inside one: a second daemon would stack
//    on top of the first and hide it;
//  - missing, or not a directory.
std::string mount_point_problem(const std::string& mnt);

}  // namespace mpathfs::fuse
