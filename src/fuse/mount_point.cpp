#include "fuse/mount_point.hpp"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <cerrno>
#include <cstring>

#include "core/path_guard.hpp"

namespace mpathfs::fuse {

std::string mount_point_problem(const std::string& mnt) {
  // statfs is never answered from the kernel's attribute cache: a dead
  // daemon's mount answers ENOTCONN at once, where stat may still succeed.
  struct statfs sfs{};
  struct stat st{};
  if (::statfs(mnt.c_str(), &sfs) != 0 || ::stat(mnt.c_str(), &st) != 0) {
    const int e = errno;
    if (e == ENOTCONN)
      return "mount point " + mnt +
             " is a stale FUSE mount (its daemon is gone: transport endpoint is not connected); clear it with "
             "`fusermount3 -u " + mnt + "` or `umount -l " + mnt + "`, then mount again";
    return "mount point " + mnt + ": " + std::strerror(e);
  }
  if (!S_ISDIR(st.st_mode)) return "mount point " + mnt + " is not a directory";
  char buf[PATH_MAX];
  if (!::realpath(mnt.c_str(), buf)) return {};  // stat worked: let the mount itself say
  const std::string real = buf;
  const MountOf m = mount_of(real);
  if (m.fstype == kFsType) {
    if (m.mount_point == real)
      return "mount point " + mnt + " is already an mpathfs mount; unmount it first (`umount " + mnt +
             "`) rather than stack a second daemon on it";
    return "mount point " + mnt + " lies inside the mpathfs mount " + m.mount_point;
  }
  return {};
}

}  // namespace mpathfs::fuse
