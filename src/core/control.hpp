// The control grammar: one write() to a control file = one command.
// parse_control() only parses; Registry::apply() applies, all-or-nothing.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/mode.hpp"
#include "core/result.hpp"

namespace mpathfs {

// The writable control files (SPEC.md "The mounted tree").
enum class CtlFile {
  kCreate, kDestroy, kStop, kRescan,                       // ctl/
  kAdd, kRemove, kFail, kRestore, kPrefer, kRotate,        // ctl/VOL/
  kConfigure, kNoPathRetry,
};

// The name of a control file ("add", ...) and back.
std::string_view ctl_file_name(CtlFile f);
bool parse_ctl_file_name(std::string_view name, bool volume_level, CtlFile* out);

struct CreateCmd {
  std::string name;
  std::optional<Mode> mode;  // unset: a labeled disk's mode, else active-passive
  bool label = false;
  std::vector<std::string> paths;
};
struct DestroyCmd { std::string name; };
struct StopCmd { std::string name; };
// rescan: anything written tastes the scan globs now.
struct RescanCmd {};
// add/remove/fail/restore/prefer: one path of the volume the file belongs to.
struct PathCmd { CtlFile verb; std::string path; };
struct RotateCmd {};
struct ConfigureCmd { Mode mode; };
struct NoPathRetryCmd { int seconds; };

using Command =
    std::variant<CreateCmd, DestroyCmd, StopCmd, PathCmd, RotateCmd, ConfigureCmd, NoPathRetryCmd, RescanCmd>;

// The most bytes one control write may carry.
inline constexpr size_t kMaxControlWrite = 64 * 1024;

// Parses what was written to `file`.  EINVAL with a reason for anything but
// one well-formed line (a trailing newline is allowed).  Path words may
// carry \ooo escapes (word_escape.hpp: \040 for a blank); the command holds
// the unescaped names.  New paths (create, add) must not hold control
// characters; volume names reserved by the tree are refused.
Result<Command> parse_control(CtlFile file, std::string_view text);

// Splits a line on blanks.
std::vector<std::string> split_words(std::string_view line);

}  // namespace mpathfs
