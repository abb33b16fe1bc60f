// mpathfs: the daemon, and the gmultipath-style commands.
//   mpathfs [-f] [-d] [-o OPT[,OPT...]] SOURCE MNT
//   mpathfs label|clear|dump ...
//   mpathfs watch [-m MNT] [-i SECONDS] [-n COUNT] [VOL...]
//   mpathfs create|destroy|stop|add|remove|fail|restore|rotate|prefer|configure|getactive|status|list ...
#include <CLI/CLI.hpp>

#include <cstring>
#include <string>

#include "cli/gmultipath_command.hpp"
#include "cli/label_command.hpp"
#include "cli/watch_command.hpp"
#include "fuse/daemon.hpp"

int main(int argc, char** argv) {
  if (argc > 1) {
    std::string verb = argv[1];
    if (verb == "label") return mpathfs::cli::run_label(argc - 1, argv + 1);
    if (verb == "clear") return mpathfs::cli::run_clear(argc - 1, argv + 1);
    if (verb == "dump") return mpathfs::cli::run_dump(argc - 1, argv + 1);
    if (verb == "watch") return mpathfs::cli::run_watch(argc - 1, argv + 1);
    if (mpathfs::cli::is_gmultipath_verb(verb)) return mpathfs::cli::run_gmultipath(argc - 1, argv + 1);
  }

  mpathfs::fuse::DaemonArgs a;
  CLI::App app{"mpathfs: a multipath layer for Linux in user space (FUSE), modelled on gmultipath(8)\n"
               "  mpathfs [-f] [-d] [-o OPT[,OPT...]] SOURCE MNT\n"
               "  mpathfs label [-A|-R] [-f] NAME PATH [PATH...] | clear PATH... | dump [--json] PATH...\n"
               "  mpathfs watch [-m MNT] [-i SECONDS] [-n COUNT] [VOL...]"};
  app.set_version_flag("-V,--version", std::string("mpathfs ") + MPATHFS_VERSION);
  app.add_flag("-f,--foreground", a.foreground, "stay in the foreground, log to stderr");
  app.add_flag("-d,--debug", a.debug, "debug log");
  app.add_option("-o", a.option_lists,
                 "options: workers=N check_interval=S io_timeout=S no_path_retry=S failback=manual|immediate|S "
                 "flap_threshold=N flap_window=S hold_down=S log=syslog|stderr|FILE scan=GLOB file_mode=0600 direct=on|off allow_other ro ...")
      ->allow_extra_args(false);
  app.add_option("SOURCE", a.source, "JSON config file, or 'none'")->required();
  app.add_option("MNT", a.mountpoint, "mount point")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return mpathfs::fuse::run_daemon(a);
}
