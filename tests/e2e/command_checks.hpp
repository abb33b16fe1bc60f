// Running the `mpathfs` command line from a test, and checking its result.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "e2e/harness.hpp"

namespace mpathfs::e2e {

// `mpathfs ARGS...` as given.
inline RunResult mp_raw(const std::vector<std::string>& args) {
  std::vector<std::string> argv{MPATHFS_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, 20);
}

// `mpathfs VERB -m MNT ARGS...` (args[0] is the verb).
inline RunResult mp(const std::string& mnt, const std::vector<std::string>& args) {
  std::vector<std::string> argv{args.at(0), "-m", mnt};
  argv.insert(argv.end(), args.begin() + 1, args.end());
  return mp_raw(argv);
}

// Blanks and newlines off both ends.
inline std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t i = s.find_first_not_of(" \t\n");
  return i == std::string::npos ? std::string() : s.substr(i);
}

}  // namespace mpathfs::e2e

// The command's exit code, checked with Catch's CHECK or REQUIRE.
#define MPATHFS_EXIT_IS_(ASSERT, expr, code) \
  do {                                       \
    RunResult r_ = (expr);                   \
    INFO(r_.describe());                     \
    ASSERT(r_.exit_code() == (code));        \
  } while (0)
// The command exits 0.
#define REQUIRE_OK(expr) MPATHFS_EXIT_IS_(REQUIRE, expr, 0)
#define CHECK_OK(expr) MPATHFS_EXIT_IS_(CHECK, expr, 0)
// The command exits 1 (gmultipath's failure status) and says `text`.
#define CHECK_FAILS(expr, text)                             \
  do {                                                      \
    RunResult r_ = (expr);                                  \
    INFO(r_.describe());                                    \
    CHECK(r_.exit_code() == 1);                             \
    CHECK_THAT(r_.output, Catch::Matchers::Contains(text)); \
  } while (0)
