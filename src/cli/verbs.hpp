// Running a parsed gmultipath command against its mount: a changing verb is
// one control line written with ONE write(); getactive reads ctl/NAME/active;
// status and list read ctl/NAME/status.json and render it.
#pragma once

#include "cli/invocation.hpp"

namespace mpathfs::cli {

// Exit status: 0 on success, 1 after printing why not (gmultipath's).
int run_invocation(const Invocation& c);

}  // namespace mpathfs::cli
