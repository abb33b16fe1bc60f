#include "core/mode.hpp"

namespace mpathfs {

std::string_view mode_name(Mode m) {
  switch (m) {
    case Mode::kActiveActive: return "active-active";
    case Mode::kActiveRead: return "active-read";
    case Mode::kActivePassive: break;
  }
  return "active-passive";
}

std::string_view mode_gmultipath_name(Mode m) {
  switch (m) {
    case Mode::kActiveActive: return "Active/Active";
    case Mode::kActiveRead: return "Active/Read";
    case Mode::kActivePassive: break;
  }
  return "Active/Passive";
}

std::optional<Mode> parse_mode(std::string_view s) {
  if (s == "active-passive" || s == "P" || s == "-P") return Mode::kActivePassive;
  if (s == "active-active" || s == "A" || s == "-A") return Mode::kActiveActive;
  if (s == "active-read" || s == "R" || s == "-R") return Mode::kActiveRead;
  return std::nullopt;
}

}  // namespace mpathfs
