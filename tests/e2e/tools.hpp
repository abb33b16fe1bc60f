// External tools the tests run, and the Debian package of each: a missing
// tool fails the test with "install PACKAGE", not an exec error (exit 127).
#pragma once

#include <string>

namespace mpathfs::e2e {

// The Debian package that ships `tool` (as scripts/setup.sh installs it),
// or "" for a tool this table does not know.
std::string package_of(const std::string& tool);

// Empty when `tool` (a name looked up in PATH, or a path) can be executed;
// otherwise a message naming the package to install.
std::string missing_tool_message(const std::string& tool);

// Throws std::runtime_error with that message when `tool` is missing.
// run() and spawn() call it for argv[0]; tests call it first so they fail
// before setting anything up.
void require_tool(const std::string& tool);

}  // namespace mpathfs::e2e
