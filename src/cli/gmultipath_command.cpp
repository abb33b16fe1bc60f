// Placeholder until the gmultipath command line lands: every verb is
// recognised and refused with a clear message, so the daemon never
// mistakes a verb for a config file.
#include "cli/gmultipath_command.hpp"

#include <cstdio>
#include <string>

namespace mpathfs::cli {

bool is_gmultipath_verb(std::string_view v) {
  return v == "create" || v == "destroy" || v == "stop" || v == "add" || v == "remove" || v == "fail" ||
         v == "restore" || v == "rotate" || v == "prefer" || v == "configure" || v == "getactive" ||
         v == "status" || v == "list";
}

int run_gmultipath(int argc, char** argv) {
  std::fprintf(stderr, "mpathfs %s: not implemented yet; write to MNT/ctl/ instead\n", argv[0]);
  return 1;
}

}  // namespace mpathfs::cli
