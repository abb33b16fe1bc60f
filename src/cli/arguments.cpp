// Argument checks (see arguments.hpp).
#include "cli/arguments.hpp"

#include <filesystem>

#include "cli/messages.hpp"
#include "core/path_open.hpp"
#include "core/volume_name.hpp"
#include "core/word_escape.hpp"

namespace mpathfs::cli {

bool check_name(const std::string& name) {
  if (valid_volume_name(name)) return true;
  fail_msg("bad volume name '" + escape_word(name) + "' (1-15 characters of A-Za-z0-9._-)");
  return false;
}

// Blanks travel escaped (\040); control characters the daemon refuses.
bool check_path_word(const std::string& p) {
  if (!p.empty() && !has_control_character(p)) return true;
  fail_msg("path '" + escape_word(p) + "' is empty or holds control characters");
  return false;
}

// gmultipath takes provider names without /dev/ ("sdb"): the daemon maps
// those, so a bare word is passed unchanged.  A relative path with a
// directory ("./disk.img", "imgs/a.img") means something only here, in
// our working directory (the daemon's is "/"): make it absolute, without
// resolving symlinks (mpathfs tells paths apart by name).
std::string path_for_daemon(const std::string& word) {
  if (word.empty() || word[0] == '/' || word.find('/') == std::string::npos || is_uri(word)) return word;
  return std::filesystem::absolute(word).lexically_normal().string();
}

}  // namespace mpathfs::cli
