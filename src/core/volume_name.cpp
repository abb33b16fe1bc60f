#include "core/volume_name.hpp"

namespace mpathfs {

bool valid_volume_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxVolumeNameLength) return false;
  // "." and ".." would name directories of the mounted tree, not a volume.
  if (name == "." || name == "..") return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace mpathfs
