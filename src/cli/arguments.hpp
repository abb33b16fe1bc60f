// Checks and rewrites of the words a user types, before anything is sent to
// the daemon: volume names, path words, relative paths.
#pragma once

#include <string>

namespace mpathfs::cli {

// True for a valid volume name; otherwise prints why and returns false.
bool check_name(const std::string& name);
// True for a path word the daemon can take (not empty, no control
// characters; blanks travel escaped); otherwise prints why and returns false.
bool check_path_word(const std::string& path);
// The word as the daemon must see it: a relative path with a directory is
// made absolute here (the daemon's working directory is "/").
std::string path_for_daemon(const std::string& word);

}  // namespace mpathfs::cli
