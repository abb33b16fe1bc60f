// The gmultipath(8) command line's entry: the verb is looked up in the verb
// table, its options parsed (CLI11) into an Invocation, the words checked,
// the mount found, and verbs.cpp runs it.  The CLI is split by concern:
//   verb_table    the verbs' names, usage and help
//   arguments     checks of volume names and path words
//   mount_client  finding the mount, reading and writing its control files
//   verbs         the line each verb writes or what it reads; what -v says
//   messages      failure messages and errno hints
//   list_render   `list`'s layout (`status` uses the core's status_render)
#include "cli/gmultipath_command.hpp"

#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli/arguments.hpp"
#include "cli/invocation.hpp"
#include "cli/messages.hpp"
#include "cli/verb_table.hpp"
#include "cli/verbs.hpp"

namespace mpathfs::cli {
namespace {

// nullopt: parsed, go on.  Otherwise the exit status (help: 0; a usage
// error: 1 after a message naming the verb and its usage).
std::optional<int> parse(CLI::App& app, const VerbDef& def, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e) == 0 ? 0 : 1;
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e) == 0 ? 0 : 1;
  } catch (const CLI::ParseError& e) {
    std::cerr << "mpathfs " << def.name << ": " << e.what() << "\n"
              << "usage: mpathfs " << def.usage << "\n";
    return 1;
  }
}

// The options and positionals of each verb.
void add_options(CLI::App& app, Invocation& c, std::string& mnt_arg, std::vector<std::string>& paths) {
  app.add_option("-m,--mount", mnt_arg, "mount point of the mpathfs daemon (default: the only one mounted)");
  app.add_flag("-v,--verbose", c.verbose, "say what was done");
  switch (c.verb()) {
    case Verb::kCreate: {
      auto* a = app.add_flag("-A", c.flag_a, "Active/Active mode");
      auto* r = app.add_flag("-R", c.flag_r, "Active/Read mode (default: Active/Passive)");
      a->excludes(r);
      app.add_flag("-l", c.flag_l, "label: write gmultipath metadata to the first path's last sector");
      app.add_option("NAME", c.name, "volume name, 1-15 characters of A-Za-z0-9._-")->required();
      app.add_option("PATH", paths, "paths to one disk (sdb means /dev/sdb)")->required();
      break;
    }
    case Verb::kDestroy:
    case Verb::kStop:
    case Verb::kRotate:
    case Verb::kGetactive:
      app.add_option("NAME", c.name, "volume name")->required();
      break;
    case Verb::kAdd:
    case Verb::kRemove:
    case Verb::kFail:
    case Verb::kRestore:
    case Verb::kPrefer:
      app.add_option("NAME", c.name, "volume name")->required();
      app.add_option("PATH", c.path, "a path of the volume (sdb means /dev/sdb)")->required();
      break;
    case Verb::kConfigure:
      app.add_flag("-A", c.flag_a, "Active/Active");
      app.add_flag("-R", c.flag_r, "Active/Read");
      app.add_flag("-P", c.flag_p, "Active/Passive");
      app.add_option("NAME", c.name, "volume name")->required();
      break;
    case Verb::kStatus:
      app.add_flag("-s", c.script, "script mode: no header, no padding, NAME and STATE on every line");
      app.add_option("NAME", c.names, "volume names (default: all)");
      break;
    case Verb::kList:
      app.add_option("NAME", c.names, "volume names (default: all)");
      break;
  }
}

int run_verb(const VerbDef* def, int argc, char** argv) {
  CLI::App app{def->help, std::string("mpathfs ") + std::string(def->name)};
  app.footer(std::string("usage: mpathfs ") + def->usage);
  Invocation c;
  c.def = def;
  std::string mnt_arg;
  std::vector<std::string> paths;  // create, as typed
  add_options(app, c, mnt_arg, paths);
  if (auto rc = parse(app, *def, argc, argv)) return *rc;

  const Verb verb = c.verb();
  if (verb == Verb::kConfigure && int(c.flag_a) + int(c.flag_r) + int(c.flag_p) != 1) {
    std::cerr << "mpathfs configure: give exactly one of -A, -R, -P\n"
              << "usage: mpathfs " << def->usage << "\n";
    return 1;
  }
  if (takes_name(verb) && !check_name(c.name)) return 1;
  // What the daemon is sent; checked after the working directory is
  // prefixed, which may bring characters of its own.
  c.daemon_path = path_for_daemon(c.path);
  for (auto& p : paths) c.daemon_paths.push_back(path_for_daemon(p));
  if (takes_path(verb) && !check_path_word(c.daemon_path)) return 1;
  for (auto& p : c.daemon_paths)
    if (!check_path_word(p)) return 1;

  auto mnt = find_mount(mnt_arg);
  if (!mnt) return 1;
  c.mount = MountClient(*mnt);

  // The command as typed, for messages: "fail vol0 /dev/sdb".
  c.words.push_back(std::string(def->name));
  if (c.flag_a) c.words.push_back("-A");
  if (c.flag_r) c.words.push_back("-R");
  if (c.flag_p) c.words.push_back("-P");
  if (c.flag_l) c.words.push_back("-l");
  if (takes_name(verb)) c.words.push_back(c.name);
  if (takes_path(verb)) c.words.push_back(c.path);
  for (auto& p : paths) c.words.push_back(p);

  return run_invocation(c);
}

}  // namespace

bool is_gmultipath_verb(std::string_view v) { return find_verb(v) != nullptr; }

int run_gmultipath(int argc, char** argv) {
  const VerbDef* def = argc > 0 ? find_verb(argv[0]) : nullptr;
  if (!def) return fail_msg(std::string("unknown command ") + (argc > 0 ? argv[0] : ""));
  try {
    return run_verb(def, argc, argv);
  } catch (const std::exception& e) {
    // A working directory that is gone, ...: a message and gmultipath's
    // failure status, not an abort.
    return fail_msg(std::string(def->name) + ": " + e.what());
  }
}

}  // namespace mpathfs::cli
