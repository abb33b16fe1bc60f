// Text and JSON renderings of status snapshots.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.hpp"

namespace mpathfs {

// MNT/status: gmultipath status's layout, names left-aligned:
//   Name    Status    Components
//   vol0    DEGRADED  /dev/sdb (FAIL)
//                     /dev/sdc (ACTIVE)
std::string render_status_table(const std::vector<VolumeStatus>& volumes);
// `mpathfs status -s` (gmultipath's script mode): no header, no padding,
// NAME and STATE on every line:
//   vol0  DEGRADED  /dev/sdb (FAIL)
//   vol0  DEGRADED  /dev/sdc (ACTIVE)
std::string render_status_script(const std::vector<VolumeStatus>& volumes);
// MNT/ctl/VOL/status: one volume in detail, one line per path with counters.
std::string render_volume_text(const VolumeStatus& v);
// MNT/ctl/VOL/status.json.
nlohmann::json volume_to_json(const VolumeStatus& v);
std::string render_volume_json(const VolumeStatus& v);

}  // namespace mpathfs
