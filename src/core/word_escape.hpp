// Path words in control lines and in everything the daemon shows: the
// mountinfo-style octal escapes (\040 blank, \011 tab, \012 newline,
// \134 backslash).  A path read from status can be written back to a
// control file as it is, whatever bytes the name holds.
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"

namespace mpathfs {

// \ooo for every byte a line, a terminal or JSON cannot carry as is: blanks
// and control characters (C0, DEL, and C1 written in UTF-8), the backslash,
// and each byte that is not part of valid UTF-8.  Plain names come back
// unchanged.
std::string escape_word(std::string_view raw);

// The inverse: \ooo (three octal digits, 001-377) is that byte.  EINVAL for
// a backslash not followed by such an escape, so every word reads one way.
Result<std::string> unescape_word(std::string_view word);

// True when `s` holds a control character other than a tab (a tab is a
// blank, like a space).  Such names are refused for new paths.
bool has_control_character(std::string_view s);

}  // namespace mpathfs
