// The gmultipath(8) command line, spoken to a running mount through its
// control files: `mpathfs fail vol0 /dev/sdb`, `mpathfs status`, ...
#pragma once

#include <string_view>

namespace mpathfs::cli {

// create destroy stop add remove fail restore rotate prefer configure
// getactive status list
bool is_gmultipath_verb(std::string_view verb);
// argv[0] is the verb.  Exit status 0 on success, 1 on failure (gmultipath).
int run_gmultipath(int argc, char** argv);

}  // namespace mpathfs::cli
