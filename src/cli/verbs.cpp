// The verbs (see verbs.hpp): the control line each one writes, what -v says
// afterwards, and the volumes status and list show.
#include "cli/verbs.hpp"

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "cli/arguments.hpp"
#include "cli/list_render.hpp"
#include "cli/messages.hpp"
#include "core/status_render.hpp"
#include "core/word_escape.hpp"

namespace mpathfs::cli {
namespace {

// Applies one control line; on failure prints the message and returns 1.
int apply(const Invocation& c, const std::string& file, const std::string& line, bool volume_existed) {
  int e = c.mount.write_line(file, line);
  if (e == 0) return 0;
  return fail_errno(c, e, hint_for(c, e, volume_existed));
}

// -v: one sentence on what was done, from what the daemon now shows.
void say_done(const Invocation& c) {
  if (!c.verbose) return;
  const std::string& name = c.name;
  const std::string& path = c.path;
  auto active = [&] {
    std::string a;
    if (c.mount.read_text(c.mount.ctl(name, "active"), a) != 0) return std::string("?");
    while (!a.empty() && (a.back() == '\n' || a.back() == ' ')) a.pop_back();
    return a;
  };
  switch (c.verb()) {
    case Verb::kCreate: {
      auto v = c.mount.status(name);
      if (!v) break;
      std::cout << "Volume " << name << " created: " << mode_gmultipath_name(v->mode) << ", " << v->paths.size()
                << " path(s), " << v->size << " bytes";
      if (v->uuid) std::cout << ", labeled, UUID " << escape_word(*v->uuid);
      std::cout << ".\n";
      return;
    }
    case Verb::kDestroy: std::cout << "Volume " << name << " destroyed.\n"; return;
    case Verb::kStop: std::cout << "Volume " << name << " stopped (metadata kept).\n"; return;
    case Verb::kAdd: std::cout << path << " added to " << name << ".\n"; return;
    case Verb::kRemove: std::cout << path << " removed from " << name << ".\n"; return;
    case Verb::kFail: std::cout << path << " in " << name << " is marked FAIL.\n"; return;
    case Verb::kRestore: std::cout << path << " in " << name << " is marked OK.\n"; return;
    case Verb::kRotate:
    case Verb::kPrefer: std::cout << name << ": active path is now " << active() << ".\n"; return;
    case Verb::kConfigure: {
      auto v = c.mount.status(name);
      if (!v) break;
      std::cout << name << ": mode is now " << mode_gmultipath_name(v->mode);
      if (v->uuid) std::cout << " (metadata updated)";
      std::cout << ".\n";
      return;
    }
    default: break;
  }
  std::cout << "Done.\n";
}

// The status of the named volumes (all when none are named).  Unknown
// names are reported and make *status 1; the others are still returned.
std::vector<VolumeStatus> collect(const Invocation& c, int* status) {
  std::vector<VolumeStatus> out;
  std::vector<std::string> which = c.names;
  const bool all = c.names.empty();
  if (all) {
    int err = 0;
    which = c.mount.volume_names(&err);
    if (err) {
      *status = fail_errno(c, err, "cannot list " + c.mount.mnt() + "/ctl");
      return out;
    }
  }
  const std::string verb(c.def->name);
  for (auto& n : which) {
    if (!all && !check_name(n)) {
      *status = 1;
      continue;
    }
    auto v = c.mount.status(n);
    if (v) {
      out.push_back(std::move(v.value()));
      continue;
    }
    const int err = v.error().code;
    if (err == ENOENT) {
      // Destroyed since we listed it: not an error unless it was asked for.
      if (!all) *status = fail_msg(verb + ": no such volume " + n);
    } else {
      *status = fail_msg(verb + " " + n + ": cannot read " + c.mount.ctl(n, "status.json") + ": " +
                         (err == EPROTO ? "it does not parse" : std::strerror(err)));
    }
  }
  return out;
}

}  // namespace

int run_invocation(const Invocation& c) {
  const std::string& name = c.name;
  switch (c.verb()) {
    case Verb::kCreate: {
      // "NAME [-A|-R] [-l] PATH [PATH...]"
      std::string line = name;
      if (c.flag_a) line += " -A";
      if (c.flag_r) line += " -R";
      if (c.flag_l) line += " -l";
      for (auto& p : c.daemon_paths) line += " " + escape_word(p);
      const bool existed = c.mount.volume_exists(name);
      if (apply(c, c.mount.ctl("create"), line + "\n", existed)) return 1;
      break;
    }
    case Verb::kDestroy:
    case Verb::kStop: {
      const char* file = c.verb() == Verb::kDestroy ? "destroy" : "stop";
      if (apply(c, c.mount.ctl(file), name + "\n", true)) return 1;
      break;
    }
    case Verb::kAdd:
    case Verb::kRemove:
    case Verb::kFail:
    case Verb::kRestore:
    case Verb::kPrefer: {
      const std::string file(c.def->name);
      if (apply(c, c.mount.ctl(name, file), escape_word(c.daemon_path) + "\n", true)) return 1;
      break;
    }
    case Verb::kRotate:
      if (apply(c, c.mount.ctl(name, "rotate"), "rotate\n", true)) return 1;
      break;
    case Verb::kConfigure: {
      const char* flag = c.flag_a ? "-A" : c.flag_r ? "-R" : "-P";
      if (apply(c, c.mount.ctl(name, "configure"), std::string(flag) + "\n", true)) return 1;
      break;
    }
    case Verb::kGetactive: {
      std::string text;
      if (int e = c.mount.read_text(c.mount.ctl(name, "active"), text))
        return fail_errno(c, e, e == ENOENT ? "no such volume " + name : "");
      if (text.empty() || text.back() != '\n') text += "\n";
      std::cout << text;
      return 0;
    }
    case Verb::kStatus: {
      // The core's renderers: the same table as MNT/status.
      int status = 0;
      auto vols = collect(c, &status);
      if (!vols.empty() || c.names.empty())
        std::cout << (c.script ? render_status_script(vols) : render_status_table(vols));
      return status;
    }
    case Verb::kList: {
      int status = 0;
      for (auto& v : collect(c, &status)) std::cout << render_list(c.mount.mnt(), v);
      return status;
    }
  }
  say_done(c);
  return 0;
}

}  // namespace mpathfs::cli
