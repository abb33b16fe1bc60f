// The gmultipath(8) command line, spoken to a running mount through its
// control files: `mpathfs fail vol0 /dev/sdb`, `mpathfs status`, ...
//
//   mpathfs create [-A|-R] [-l] NAME PATH...    ctl/create     "NAME [-A|-R] [-l] PATH..."
//   mpathfs destroy NAME | stop NAME            ctl/destroy, ctl/stop
//   mpathfs add|remove|fail|restore|prefer NAME PATH
//                                               ctl/NAME/<verb> "PATH"
//   mpathfs rotate NAME                         ctl/NAME/rotate
//   mpathfs configure -A|-R|-P NAME             ctl/NAME/configure "-A"
//   mpathfs getactive NAME                      reads ctl/NAME/active
//   mpathfs status [-s] [NAME...]               from ctl/NAME/status.json
//   mpathfs list [NAME...]                      from ctl/NAME/status.json
//
// Every verb takes -m MNT (default: the only mpathfs mount in
// /proc/self/mountinfo) and -v (say what was done).  A changing verb is ONE
// write() of one line; when it fails the command prints
// "mpathfs: VERB ARGS...: <strerror(errno)> (hint)" and exits 1.
#pragma once

#include <string_view>

namespace mpathfs::cli {

// create destroy stop add remove fail restore rotate prefer configure
// getactive status list
bool is_gmultipath_verb(std::string_view verb);
// argv[0] is the verb.  Exit status 0 on success, 1 on failure (gmultipath).
int run_gmultipath(int argc, char** argv);

}  // namespace mpathfs::cli
