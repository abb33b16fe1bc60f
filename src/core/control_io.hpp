// The client side of a mount's control tree, shared by the CLI and the
// end-to-end tests: a control line goes out as ONE write() (the daemon
// applies one write as one command), and status files are read whole.
#pragma once

#include <string>
#include <string_view>

namespace mpathfs {

// What control_write returns for a short write, which a control file never
// does (it takes the line whole or refuses it): not an errno, so a caller can
// tell it from every error the daemon answers.
inline constexpr int kShortWrite = -1;

// One open(O_WRONLY) and exactly one write() of `line`: 0, the errno of the
// failing call, or kShortWrite.
int control_write(const std::string& file, std::string_view line);

// The whole of `file` in `out` (read until EOF, EINTR retried): 0 or the errno.
int read_whole_file(const std::string& file, std::string& out);

}  // namespace mpathfs
