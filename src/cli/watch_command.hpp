// mpathfs watch [-m MNT] [-i SECONDS] [-n COUNT] [VOL...]: a live view of
// every path (watch_render.hpp), from ctl/VOL/status.json read once per
// interval.  On a terminal each interval redraws the screen in place, with
// FAIL and DEGRADED in colour; piped, one plain block per interval follows
// the last.  Ctrl-C (SIGINT) or SIGTERM ends it with status 0; -n ends it
// after COUNT intervals.
#pragma once

namespace mpathfs::cli {

// argv[0] is "watch".
int run_watch(int argc, char** argv);

}  // namespace mpathfs::cli
