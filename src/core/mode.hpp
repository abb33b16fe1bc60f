// The routing mode of a volume (gmultipath's -A / -R / -P).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace mpathfs {

// Values equal gmultipath's on-disk md_active_active byte.
enum class Mode : uint8_t {
  kActivePassive = 0,  // all I/O to the one ACTIVE path; others PASSIVE
  kActiveActive = 1,   // all I/O spread: fewest in flight, round-robin on ties
  kActiveRead = 2,     // writes to the ACTIVE path, reads spread over ACTIVE and READ
};

// "active-passive" / "active-active" / "active-read".
std::string_view mode_name(Mode m);
// gmultipath list's words: "Active/Passive" ...
std::string_view mode_gmultipath_name(Mode m);
// Accepts the SPEC names and the gmultipath flags' letters ("A", "R", "P").
std::optional<Mode> parse_mode(std::string_view s);

}  // namespace mpathfs
