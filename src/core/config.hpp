// Daemon options (-o and the config's "options") and the JSON config file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/registry.hpp"
#include "core/result.hpp"

namespace mpathfs {

// failback=: what the path checker does when a FAIL path answers again.
//  kManual     report it (checker "up") and wait for `restore` (gmultipath parity)
//  kImmediate  restore it at once (multipathd's failback immediate)
//  kAfter      restore it once it has answered every probe for failback_after seconds (failback=N)
enum class Failback { kManual, kImmediate, kAfter };

struct DaemonOptions {
  int workers = 0;              // most I/O workers serving at once; 0 = 2 per CPU, at least 8
  double check_interval = 5;    // seconds between checker rounds
  double io_timeout = 5;        // seconds before a silent path is failed
  int no_path_retry = 0;        // seconds to queue while BROKEN; -1 forever
  Failback failback = Failback::kManual;
  double failback_after = 0;    // failback=N: seconds a FAIL path must answer before it returns
  int flap_threshold = 3;       // failures within flap_window that hold a path down
  double flap_window = 60;      // seconds
  double hold_down = 60;        // seconds a held path must answer every probe before it may return
  std::string log;              // "syslog", "stderr" or a file; empty = stderr with -f, else syslog
  std::vector<std::string> scan;  // globs of devices to taste for metadata
  uint32_t file_mode = 0600;    // volume files
  bool direct = true;           // O_DIRECT where the path supports it
  bool exclusive = true;        // O_EXCL on block devices
  bool read_only = false;       // ro
  bool allow_other = false;
  std::vector<std::string> fuse_opts;  // passed to the kernel mount as is
};

// Applies one -o option (or a config "options" key rendered as key=value).
// Options mount(8) and systemd add (_netdev, nofail, x-systemd.*, ...) are
// accepted and dropped.  EINVAL names the option.
VoidResult apply_option(DaemonOptions& o, std::string_view opt);
// Splits "a,b=c,d" and applies each.
VoidResult apply_option_list(DaemonOptions& o, std::string_view list);

struct Config {
  DaemonOptions options;
  std::vector<VolumeSpec> volumes;
};

// Reads and validates a JSON config.  Errors name the file, the volume and
// the fault ("/etc/mpathfs.json: volume vol0: paths: expected a list").
// Does not open paths: Registry::create does, and its errors get the same
// prefix from the caller.
Result<Config> load_config(const std::string& file);
Result<Config> parse_config(std::string_view json_text, const std::string& file_for_messages);

// Expands the scan globs into device names.
std::vector<std::string> expand_globs(const std::vector<std::string>& globs);

}  // namespace mpathfs
