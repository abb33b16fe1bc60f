// The rule for volume names, shared by label, create and the config loader.
#pragma once

#include <cstddef>
#include <string_view>

namespace mpathfs {

// gmultipath's md_name holds 15 characters and a NUL.
inline constexpr size_t kMaxVolumeNameLength = 15;

// 1-15 characters of A-Za-z0-9._- : fits the on-disk field and is usable as
// a file name under MNT/ ("." and ".." are refused: they name directories).
bool valid_volume_name(std::string_view name);

// Names the mounted tree takes for itself: MNT/status, MNT/metrics, MNT/ctl,
// and ctl/create, ctl/rescan, ctl/destroy, ctl/stop (a volume's ctl/VOL
// directory would shadow them).  "-" reads as an option to every tool.
inline bool reserved_volume_name(std::string_view name) {
  constexpr std::string_view kReserved[] = {"status", "metrics", "ctl", "create", "rescan", "destroy", "stop", "-"};
  for (auto r : kReserved)
    if (name == r) return true;
  return false;
}

// A name a new volume may take (ctl/create, the config): valid, not reserved.
inline bool usable_volume_name(std::string_view name) {
  return valid_volume_name(name) && !reserved_volume_name(name);
}

}  // namespace mpathfs
