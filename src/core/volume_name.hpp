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

}  // namespace mpathfs
