// What the CLI prints when something fails: "mpathfs: ..." on stderr, exit
// status 1, and for a refused control write a hint at the likely reason.
#pragma once

#include <string>
#include <vector>

#include "cli/invocation.hpp"

namespace mpathfs::cli {

// "a, b, c" for messages.
std::string join(const std::vector<std::string>& v, const char* sep);

// Prints "mpathfs: MSG"; returns 1 (gmultipath's failure status).
int fail_msg(const std::string& msg);
// "mpathfs: fail vol0 /dev/sdb: No such file or directory (no such volume vol0)"; returns 1.
int fail_errno(const Invocation& c, int e, const std::string& hint);

// What errno `e` most likely means for this verb.  `volume_existed`: the
// volume was there before a create.  The daemon logs the exact reason of
// every refused write; the hint only points the right way.
std::string hint_for(const Invocation& c, int e, bool volume_existed);

}  // namespace mpathfs::cli
