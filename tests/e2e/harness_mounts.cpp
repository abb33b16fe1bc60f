// Harness, mounts: is a directory mounted (the core's mountinfo reader),
// and unmounting that never throws.
#include <limits.h>
#include <stdlib.h>

#include <filesystem>

#include "core/path_guard.hpp"
#include "e2e/harness.hpp"

namespace mpathfs::e2e {

namespace fs = std::filesystem;

bool is_mountpoint(const std::string& dir) {
  std::string real = dir;
  char buf[PATH_MAX];
  // realpath() would stat the mount point itself, which may hang on a dead
  // FUSE server: resolve the parent instead.
  fs::path p(dir);
  if (::realpath(p.parent_path().c_str(), buf)) real = (fs::path(buf) / p.filename()).string();
  for (auto& m : read_mountinfo())
    if (m.mount_point == real) return true;
  return false;
}

void unmount(const std::string& dir) {
  if (!is_mountpoint(dir)) return;
  run({"fusermount3", "-u", dir}, 10);
  if (!is_mountpoint(dir)) return;
  run({"fusermount3", "-uz", dir}, 10);
  if (is_mountpoint(dir)) run({"umount", "-l", dir}, 10);
}

}  // namespace mpathfs::e2e
