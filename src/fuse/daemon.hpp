// The daemon's life: config -> volumes -> mount -> daemonize -> serve ->
// flush -> unmount.  The only place that owns the process-wide objects.
#pragma once

#include <string>
#include <vector>

namespace mpathfs::fuse {

struct DaemonArgs {
  std::string source;      // JSON config file, or "none"
  std::string mountpoint;
  bool foreground = false;
  bool debug = false;
  std::vector<std::string> option_lists;  // each -o argument
};

// Exit status: 0 clean stop; 1 bad config, options or paths; 2 mount failed.
int run_daemon(const DaemonArgs& args);

}  // namespace mpathfs::fuse
