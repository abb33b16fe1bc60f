#include "core/block_sysfs.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>

namespace mpathfs {

std::optional<BlockSysfs> block_sysfs(const std::string& name) {
  struct stat st{};
  if (::stat(name.c_str(), &st) != 0 || !S_ISBLK(st.st_mode)) return std::nullopt;
  return BlockSysfs{st.st_rdev,
                    "/sys/dev/block/" + std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev))};
}

}  // namespace mpathfs
