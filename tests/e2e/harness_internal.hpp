// Helpers the harness_*.cpp files share and the tests do not see: error
// text, whole-file slurps, and printing a child's log after a failed test.
#pragma once

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "e2e/harness.hpp"

namespace mpathfs::e2e::detail {

// "what: ENOENT (No such file or directory)".
inline std::string sys_error(const std::string& what, int e) {
  return what + ": " + errno_name(e) + " (" + std::strerror(e) + ")";
}

[[noreturn]] inline void throw_errno(const std::string& what) { throw std::runtime_error(sys_error(what, errno)); }

// The whole file, "" when it cannot be read (logs, /proc entries).
inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// argv as one line, for messages and logs.
inline std::string join_argv(const std::vector<std::string>& v) {
  std::string s;
  for (auto& a : v) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

// Logs are printed on tear-down only when the test failed or is unwinding
// (harness_listener.cpp).
bool should_dump_logs();
void dump_log(const std::string& title, const std::string& text);

}  // namespace mpathfs::e2e::detail
