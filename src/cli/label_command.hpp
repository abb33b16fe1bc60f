// The gmultipath-style metadata commands: `mpathfs label`, `clear`, `dump`.
// main() hands over argv with argv[0] = the subcommand word.  Each returns
// the process exit status: 0 on success, 1 on failure (as gmultipath).
#pragma once

namespace mpathfs::cli {

// mpathfs label [-A|-R] [-f] [-v] NAME PATH [PATH...]
// Unlike FreeBSD, a path that does not show the new label afterwards (it
// leads to another disk) makes the command fail, after all paths are checked.
int run_label(int argc, char** argv);
// mpathfs clear [-v] PATH...
int run_clear(int argc, char** argv);
// mpathfs dump [--json] PATH...
int run_dump(int argc, char** argv);

}  // namespace mpathfs::cli
