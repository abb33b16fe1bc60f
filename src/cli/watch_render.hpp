// `mpathfs watch`'s picture of one interval: iostat -x for multipath.
// Pure: two status reads of each volume and the seconds between them in,
// text out, so the layout is tested without a mount.
//
//   # 2026-12-02 12:00:01  interval 1.00 s
//   NAME            STATE        r/s      w/s   rMB/s   wMB/s  inflight   p99_us  errors
//   vol0            DEGRADED   812.0    790.0     3.2     3.1         4    310.2       3
//     /dev/sdb      FAIL         0.0      0.0     0.0     0.0         0        -       3
//     /dev/sdc      ACTIVE     812.0    790.0     3.2     3.1         4    305.0       0
//
// A volume line first (its state; requests as the application saw them;
// bytes, in-flight and errors summed over its paths), then one indented
// line per path.  Rates and p99 are over the interval (the difference of
// the two reads); errors are cumulative.  Names are shown escaped
// (word_escape.hpp): one word each, so a line splits on blanks.
#pragma once

#include <string>
#include <vector>

#include "core/status.hpp"

namespace mpathfs::cli {

struct WatchFrame {
  std::string time;                   // "2026-12-02 12:00:01"
  double seconds = 1;                 // between the two reads
  std::vector<VolumeStatus> before;   // matched to `after` by volume name, paths by path name
  std::vector<VolumeStatus> after;
  std::vector<std::string> missing;   // volumes asked for that are not there now
};

// colour: ANSI colours for FAIL (red), DEGRADED (yellow), BROKEN (red).
std::string render_watch(const WatchFrame& f, bool colour);

}  // namespace mpathfs::cli
