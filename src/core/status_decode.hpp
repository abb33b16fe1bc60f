// status.json read back into a VolumeStatus: the inverse of volume_to_json
// (status_render.hpp), for clients of a mount (the CLI), so that what they
// show is drawn by the same renderers as the daemon's own status files.
#pragma once

#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.hpp"
#include "core/status.hpp"

namespace mpathfs {

// The inverses of path_state_name / volume_state_name.
std::optional<PathState> parse_path_state(std::string_view word);
std::optional<VolumeState> parse_volume_state(std::string_view word);

// One volume's status.json as the daemon writes it.  Words come back
// unescaped (status.json shows them escaped), counters default to 0 when
// absent, and sector_size / path_size are 0 when the JSON does not carry
// them.  EPROTO when a name, a word or a state is missing or malformed.
Result<VolumeStatus> volume_from_json(const nlohmann::json& j);

}  // namespace mpathfs
