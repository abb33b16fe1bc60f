// One parsed gmultipath command: the verb, the mount it talks to and its
// arguments, as gmultipath_command.cpp fills it in and verbs.cpp runs it.
#pragma once

#include <string>
#include <vector>

#include "cli/mount_client.hpp"
#include "cli/verb_table.hpp"

namespace mpathfs::cli {

struct Invocation {
  const VerbDef* def = nullptr;
  MountClient mount;
  bool verbose = false;            // -v: say what was done
  std::vector<std::string> words;  // the command as typed, for messages: "fail vol0 /dev/sdb"

  bool flag_a = false, flag_r = false, flag_p = false, flag_l = false;
  bool script = false;             // status -s
  std::string name;                // the one volume of most verbs
  std::string path;                // the path as typed (messages)
  std::string daemon_path;         // the path as the daemon is sent it (see path_for_daemon)
  std::vector<std::string> daemon_paths;  // create's paths, as sent
  std::vector<std::string> names;  // status, list: the volumes asked for (none: all)

  Verb verb() const { return def->verb; }
};

}  // namespace mpathfs::cli
