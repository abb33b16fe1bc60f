// The gmultipath(8) verbs as a client of a running mount: each changing
// verb is one line written with ONE write() to its control file (a control
// write is one command, applied before write() returns); status and list
// are rendered from ctl/NAME/status.json.
#include "cli/gmultipath_command.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/mode.hpp"
#include "core/path_guard.hpp"
#include "core/volume_name.hpp"
#include "core/word_escape.hpp"

namespace mpathfs::cli {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

enum class Verb {
  kCreate, kDestroy, kStop, kAdd, kRemove, kFail, kRestore, kRotate, kPrefer, kConfigure, kGetactive, kStatus, kList,
};

struct VerbDef {
  std::string_view name;
  Verb verb;
  const char* usage;  // after "mpathfs "
  const char* help;
};

constexpr VerbDef kVerbs[] = {
    {"create", Verb::kCreate, "create [-A|-R] [-l] [-v] [-m MNT] NAME PATH...",
     "Create volume NAME over the PATHs (-A Active/Active, -R Active/Read, default Active/Passive; "
     "-l writes gmultipath metadata to the last sector: a labeled volume)."},
    {"destroy", Verb::kDestroy, "destroy [-v] [-m MNT] NAME",
     "Destroy volume NAME (refused while its file is open); a labeled volume's metadata is erased."},
    {"stop", Verb::kStop, "stop [-v] [-m MNT] NAME", "Stop volume NAME like destroy, but keep its metadata."},
    {"add", Verb::kAdd, "add [-v] [-m MNT] NAME PATH", "Add PATH to volume NAME (same size, same label UUID)."},
    {"remove", Verb::kRemove, "remove [-v] [-m MNT] NAME PATH", "Remove PATH from volume NAME."},
    {"fail", Verb::kFail, "fail [-v] [-m MNT] NAME PATH", "Mark PATH of volume NAME as FAIL."},
    {"restore", Verb::kRestore, "restore [-v] [-m MNT] NAME PATH", "Clear the FAIL mark of PATH in volume NAME."},
    {"rotate", Verb::kRotate, "rotate [-v] [-m MNT] NAME",
     "Make the next working path (in join order) the active path of NAME."},
    {"prefer", Verb::kPrefer, "prefer [-v] [-m MNT] NAME PATH", "Make PATH the active path of volume NAME."},
    {"configure", Verb::kConfigure, "configure -A|-R|-P [-v] [-m MNT] NAME",
     "Change the mode of NAME (-A Active/Active, -R Active/Read, -P Active/Passive); a labeled volume's "
     "metadata is rewritten."},
    {"getactive", Verb::kGetactive, "getactive [-m MNT] NAME",
     "Print the active path of NAME (every working path in Active/Active; 'none' if none works)."},
    {"status", Verb::kStatus, "status [-s] [-m MNT] [NAME...]",
     "Print the state of every volume (or of the NAMEs) and of their paths; -s: script mode."},
    {"list", Verb::kList, "list [-m MNT] [NAME...]",
     "Print every volume (or the NAMEs) in gmultipath list's layout, with per-path counters."},
};

const VerbDef* find_verb(std::string_view name) {
  for (auto& v : kVerbs)
    if (v.name == name) return &v;
  return nullptr;
}

// ------------------------------------------------------------------ mounts

// Mount points of every mpathfs mount this process can see, in mount order.
std::vector<std::string> mpathfs_mounts() {
  std::vector<std::string> out;
  for (auto& m : read_mountinfo())
    if (m.fstype == kFsType) out.push_back(m.mount_point);
  return out;
}

// An absolute, normalised spelling of a mount point given by the user.  Only
// the parent is resolved (realpath): stat'ing the mount point itself could
// hang on a daemon that stopped answering.
std::string absolute_mount_path(const std::string& given) {
  fs::path p = fs::absolute(given).lexically_normal();
  if (p.has_parent_path() && p.filename().empty()) p = p.parent_path();  // "/mnt/x/" -> "/mnt/x"
  if (p == p.root_path()) return p.string();
  char buf[PATH_MAX];
  if (::realpath(p.parent_path().c_str(), buf)) return (fs::path(buf) / p.filename()).string();
  return p.string();
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string s;
  for (auto& a : v) {
    if (!s.empty()) s += sep;
    s += a;
  }
  return s;
}

bool is_regular(const std::string& p) {
  struct stat st{};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_dir(const std::string& p) {
  struct stat st{};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The mount to talk to: -m MNT, or the only mpathfs mount there is.
// nullopt after printing why not.
std::optional<std::string> find_mount(const std::string& given) {
  auto mounts = mpathfs_mounts();
  if (!given.empty()) {
    std::string abs = absolute_mount_path(given);
    if (std::find(mounts.begin(), mounts.end(), abs) != mounts.end()) return abs;
    // Not listed under that spelling (a symlink to the mount point, another
    // mount namespace): good enough if it has the tree's control files.
    if (is_regular(abs + "/ctl/create")) return abs;
    std::cerr << "mpathfs: " << given << " is not an mpathfs mount";
    if (!mounts.empty()) std::cerr << " (mpathfs mounts: " << join(mounts) << ")";
    std::cerr << "\n";
    return std::nullopt;
  }
  if (mounts.size() == 1) return mounts.front();
  if (mounts.empty())
    std::cerr << "mpathfs: no mpathfs mount found in /proc/self/mountinfo (is the daemon running?); "
                 "give the mount point with -m MNT\n";
  else
    std::cerr << "mpathfs: several mpathfs mounts (" << join(mounts) << "): choose one with -m MNT\n";
  return std::nullopt;
}

// ------------------------------------------------------------------ control files

// One open, ONE write() of the whole line: 0 or the errno (EIO for a short
// write, which a control file never does: it takes the line whole or not).
int write_line(const std::string& file, const std::string& line) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n = ::write(fd, line.data(), line.size());
  int e = n < 0 ? errno : (static_cast<size_t>(n) != line.size() ? EIO : 0);
  ::close(fd);
  return e;
}

// The whole file in `out`: 0 or the errno.
int read_text(const std::string& file, std::string& out) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  out.clear();
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return 0;
}

// ------------------------------------------------------------------ one command

struct Context {
  const VerbDef* def = nullptr;
  std::string mnt;
  bool verbose = false;
  std::vector<std::string> words;  // the command as typed, for messages

  std::string ctl(const std::string& file) const { return mnt + "/ctl/" + file; }
  std::string ctl(const std::string& vol, const std::string& file) const { return mnt + "/ctl/" + vol + "/" + file; }
  bool volume_exists(const std::string& name) const { return is_dir(ctl(name)); }
};

int fail_msg(const std::string& msg) {
  std::cerr << "mpathfs: " << msg << "\n";
  return 1;
}

// "mpathfs: fail vol0 /dev/sdb: No such file or directory (no such volume vol0)"
int fail_errno(const Context& c, int e, const std::string& hint) {
  std::cerr << "mpathfs: " << join(c.words, " ") << ": " << std::strerror(e);
  if (!hint.empty()) std::cerr << " (" << hint << ")";
  std::cerr << "\n";
  return 1;
}

// What the errno most likely means for this verb.  The daemon logs the exact
// reason of every refused write; the hint only points the right way.
std::string hint_for(const Context& c, int e, const std::string& name, const std::string& path,
                     bool volume_existed) {
  const Verb v = c.def->verb;
  const bool path_verb = v == Verb::kAdd || v == Verb::kRemove || v == Verb::kFail || v == Verb::kRestore ||
                         v == Verb::kPrefer;
  switch (e) {
    case ENOENT:
      if (v == Verb::kCreate) return "a path does not exist";
      if (!c.volume_exists(name)) return "no such volume " + name;
      if (v == Verb::kAdd) return "cannot open " + path;
      if (path_verb) return path + " is not a path of " + name;
      return "";
    case EEXIST:
      if (v == Verb::kCreate)
        return volume_existed ? "volume " + name + " already exists" : "a path is given twice";
      if (v == Verb::kAdd) return path + " is already a path of " + name;
      return "";
    case EBUSY:
      if (v == Verb::kDestroy || v == Verb::kStop)
        return "volume " + name + " is open, or has requests stuck on a hung path";
      if (v == Verb::kRemove) return path + " is the last path of " + name + ": use destroy";
      if (v == Verb::kCreate || v == Verb::kAdd) return "a path is already used by a volume or held by another program";
      return "";
    case EINVAL:
      if (v == Verb::kCreate)
        return "bad name, paths of different sizes or labels, or a path inside an mpathfs mount; "
               "the mpathfs log says which";
      if (v == Verb::kAdd)
        return path + " differs from " + name +
               " in size or metadata UUID, or lies inside an mpathfs mount; the mpathfs log says which";
      if (v == Verb::kPrefer) return "a FAIL path cannot be made active: restore it first";
      return "the mpathfs log says why";
    case EACCES:
    case EPERM:
      return "control files are writable by root only";
    case ENOTCONN:
      return "the mpathfs daemon serving " + c.mnt + " is gone";
    case EIO:
      if (v == Verb::kConfigure) return "the metadata could not be rewritten on any working path";
      return "";
    default:
      return "";
  }
}

bool check_name(const std::string& name) {
  if (valid_volume_name(name)) return true;
  fail_msg("bad volume name '" + escape_word(name) + "' (1-15 characters of A-Za-z0-9._-)");
  return false;
}

// Blanks travel escaped (\040); control characters the daemon refuses.
bool check_path_word(const std::string& p) {
  if (!p.empty() && !has_control_character(p)) return true;
  fail_msg("path '" + escape_word(p) + "' is empty or holds control characters");
  return false;
}

// gmultipath takes provider names without /dev/ ("sdb"): the daemon maps
// those, so a bare word is passed unchanged.  A relative path with a
// directory ("./disk.img", "imgs/a.img") means something only here, in
// our working directory (the daemon's is "/"): make it absolute, without
// resolving symlinks (mpathfs tells paths apart by name).
std::string path_for_daemon(const std::string& word) {
  if (word.empty() || word[0] == '/' || word.find('/') == std::string::npos) return word;
  return fs::absolute(word).lexically_normal().string();
}

// Applies one control line; on failure prints the message and returns 1.
int apply(const Context& c, const std::string& file, const std::string& line, const std::string& name,
          const std::string& path, bool volume_existed) {
  int e = write_line(file, line);
  if (e == 0) return 0;
  return fail_errno(c, e, hint_for(c, e, name, path, volume_existed));
}

std::optional<json> read_status_json(const Context& c, const std::string& name, int* err) {
  std::string text;
  *err = read_text(c.ctl(name, "status.json"), text);
  if (*err) return std::nullopt;
  try {
    return json::parse(text);
  } catch (const std::exception&) {
    *err = EPROTO;
    return std::nullopt;
  }
}

// A member of a status.json object, or null when it is not there (a const
// json's operator[] must not be asked for a missing key).
const json& member(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string text_of(const json& j, const char* key, const std::string& dflt = std::string()) {
  const json& v = member(j, key);
  return v.is_string() ? v.get<std::string>() : dflt;
}

std::string mode_word(const json& j) {
  auto m = parse_mode(text_of(j, "mode"));
  return m ? std::string(mode_gmultipath_name(*m)) : text_of(j, "mode", "?");
}

// -v: one sentence on what was done, from what the daemon now shows.
void say_done(const Context& c, const std::string& name, const std::string& path) {
  if (!c.verbose) return;
  int err = 0;
  auto active = [&] {
    std::string a;
    if (read_text(c.ctl(name, "active"), a) != 0) return std::string("?");
    while (!a.empty() && (a.back() == '\n' || a.back() == ' ')) a.pop_back();
    return a;
  };
  switch (c.def->verb) {
    case Verb::kCreate: {
      auto j = read_status_json(c, name, &err);
      if (!j) break;
      std::cout << "Volume " << name << " created: " << mode_word(*j) << ", " << member(*j, "paths").size()
                << " path(s), " << j->value("size", uint64_t{0}) << " bytes";
      if (member(*j, "uuid").is_string()) std::cout << ", labeled, UUID " << text_of(*j, "uuid");
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
      auto j = read_status_json(c, name, &err);
      if (!j) break;
      std::cout << name << ": mode is now " << mode_word(*j);
      if (member(*j, "uuid").is_string()) std::cout << " (metadata updated)";
      std::cout << ".\n";
      return;
    }
    default: break;
  }
  std::cout << "Done.\n";
}

// ------------------------------------------------------------------ status and list

// Volume names in the tree's order (creation order): the directories of ctl/.
std::vector<std::string> volume_names(const Context& c, int* err) {
  std::vector<std::string> out;
  DIR* d = ::opendir((c.mnt + "/ctl").c_str());
  if (!d) {
    *err = errno;
    return out;
  }
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == ".." || n == "create" || n == "destroy" || n == "stop") continue;
    if (e->d_type == DT_DIR || (e->d_type == DT_UNKNOWN && c.volume_exists(n))) out.push_back(n);
  }
  ::closedir(d);
  *err = 0;
  return out;
}

// The status.json of the named volumes (all when none are named).  Unknown
// names are reported and make *status 1; the others are still returned.
std::vector<json> collect(const Context& c, const std::vector<std::string>& names, int* status) {
  std::vector<json> out;
  std::vector<std::string> which = names;
  const bool all = names.empty();
  if (all) {
    int err = 0;
    which = volume_names(c, &err);
    if (err) {
      *status = fail_errno(c, err, "cannot list " + c.mnt + "/ctl");
      return out;
    }
  }
  for (auto& n : which) {
    if (!all && !check_name(n)) {
      *status = 1;
      continue;
    }
    int err = 0;
    auto j = read_status_json(c, n, &err);
    if (j) {
      out.push_back(std::move(*j));
    } else if (err == ENOENT) {
      // Destroyed since we listed it: not an error unless it was asked for.
      if (!all) *status = fail_msg(std::string(c.def->name) + ": no such volume " + n);
    } else {
      *status = fail_msg(std::string(c.def->name) + " " + n + ": cannot read " + c.ctl(n, "status.json") + ": " +
                         (err == EPROTO ? "it does not parse" : std::strerror(err)));
    }
  }
  return out;
}

std::string pad(const std::string& s, size_t w) { return s.size() < w ? s + std::string(w - s.size(), ' ') : s; }

// The layout of MNT/status (gmultipath status, names left-aligned as the
// SPEC shows them); -s: no header, no padding, NAME and STATE on every line.
void print_status(const std::vector<json>& vols, bool script) {
  size_t wname = 4, wstate = 6;
  for (auto& v : vols) {
    wname = std::max(wname, text_of(v, "name").size());
    wstate = std::max(wstate, text_of(v, "state").size());
  }
  wname += 2;
  if (!script) std::cout << pad("Name", wname) << "  " << pad("Status", wstate) << "  Components\n";
  for (auto& v : vols) {
    const std::string name = text_of(v, "name");
    const std::string state = text_of(v, "state");
    bool first = true;
    for (auto& p : member(v, "paths")) {
      std::string comp = text_of(p, "path") + " (" + text_of(p, "state") + ")";
      if (script) std::cout << name << "  " << state << "  " << comp << "\n";
      else
        std::cout << pad(first ? name : "", wname) << "  " << pad(first ? state : "", wstate) << "  " << comp << "\n";
      first = false;
    }
    if (member(v, "paths").empty()) {
      if (script) std::cout << name << "  " << state << "\n";
      else std::cout << pad(name, wname) << "  " << state << "\n";
    }
  }
}

// humanize_number(3) as geom list uses it: at most three digits and a unit,
// one decimal below ten ("512B", "4.0M", "100M", "1.0G").
std::string humanize(uint64_t n) {
  static const char kUnits[] = "BKMGTPE";
  if (n < 1000) return std::to_string(n) + "B";
  double v = static_cast<double>(n);
  int i = 0;
  while (v >= 999.5 && i < 6) {
    v /= 1024;
    ++i;
  }
  char buf[32];
  if (v < 9.95) std::snprintf(buf, sizeof buf, "%.1f%c", v, kUnits[i]);
  else std::snprintf(buf, sizeof buf, "%.0f%c", v, kUnits[i]);
  return buf;
}

// The sector size of a path when status.json does not carry it: a block
// device's logical block size, else 512 (what the daemon uses for files).
// Opened without O_EXCL, so a device the daemon holds still answers.
uint32_t guess_sector_size(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0 || !S_ISBLK(st.st_mode)) return 512;
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return 512;
  int ss = 0;
  if (::ioctl(fd, BLKSSZGET, &ss) != 0 || ss <= 0) ss = 512;
  ::close(fd);
  return static_cast<uint32_t>(ss);
}

uint64_t u64(const json& j, const char* key, uint64_t dflt = 0) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>()
         : it != j.end() && it->is_number_integer() ? static_cast<uint64_t>(it->get<int64_t>())
                                                    : dflt;
}

// gmultipath list's layout: a geom section (State: at column 0), the
// provider multipath/NAME, then the consumers "N. Name: PATH" each with an
// indented "State: WORD" right after its sizes, so that FreeBSD's atf
// scripts' awk (/^State:/, /1. Name: .../ ... /State:/) reads it as theirs.
// mpathfs adds its counters after each consumer's State line.
void print_list(const Context& c, const json& v) {
  const std::string name = text_of(v, "name");
  const bool labeled = member(v, "uuid").is_string();
  const uint64_t size = u64(v, "size");
  std::cout << "Geom name: " << name << "\n"
            << "Type: " << (labeled ? "AUTOMATIC" : "MANUAL") << "\n"
            << "Mode: " << mode_word(v) << "\n"
            << "UUID: " << text_of(v, "uuid") << "\n"
            << "State: " << text_of(v, "state") << "\n"
            << "File: " << c.mnt << "/" << name << "\n"
            << "NoPathRetry: " << v.value("no_path_retry", 0) << "\n"
            << "IOTimeout: " << v.value("io_timeout", 0.0) << "\n"
            << "Queued: " << u64(v, "queued") << "\n"
            << "Open: " << v.value("open", 0) << "\n";

  // Sector and path sizes: from status.json when it carries them, else
  // worked out (a labeled path is one sector longer than the volume).
  const json& paths = member(v, "paths");
  uint32_t sector = static_cast<uint32_t>(u64(v, "sector_size"));
  if (sector == 0 && !paths.empty()) {
    auto first = unescape_word(text_of(paths.front(), "path"));  // status.json shows names escaped
    sector = guess_sector_size(first ? *first : std::string());
  }
  if (sector == 0) sector = 512;
  const uint64_t path_size = u64(v, "path_size", size + (labeled ? sector : 0));

  std::cout << "Providers:\n"
            << "1. Name: multipath/" << name << "\n"
            << "   Mediasize: " << size << " (" << humanize(size) << ")\n"
            << "   Sectorsize: " << sector << "\n"
            << "   State: " << text_of(v, "state") << "\n"
            << "Consumers:\n";
  int i = 0;
  for (auto& p : paths) {
    const uint64_t psize = u64(p, "size", path_size);
    const uint32_t psector = static_cast<uint32_t>(u64(p, "sector_size", sector));
    char lat[32];
    std::snprintf(lat, sizeof lat, "%.1f", p.value("mean_latency_us", 0.0));
    std::cout << ++i << ". Name: " << text_of(p, "path") << "\n"
              << "   Mediasize: " << psize << " (" << humanize(psize) << ")\n"
              << "   Sectorsize: " << psector << "\n"
              << "   State: " << text_of(p, "state") << "\n";
    if (p.value("lost", false)) std::cout << "   Gone: yes\n";
    std::cout << "   Checker: " << text_of(p, "checker", "-") << "\n"
              << "   Direct: " << (p.value("direct", false) ? "yes" : "no") << "\n"
              << "   Reads: " << u64(p, "reads") << "\n"
              << "   Writes: " << u64(p, "writes") << "\n"
              << "   ReadBytes: " << u64(p, "read_bytes") << "\n"
              << "   WriteBytes: " << u64(p, "write_bytes") << "\n"
              << "   Errors: " << u64(p, "errors") << "\n"
              << "   Inflight: " << p.value("inflight", 0) << "\n"
              << "   Latency: " << lat << " us\n"
              << "   LastError: "
              << text_of(p, "last_error", "-") << "\n";
  }
  std::cout << "\n";
}

// ------------------------------------------------------------------ parsing

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

int run_verb(const VerbDef* def, int argc, char** argv) {
  const Verb verb = def->verb;

  CLI::App app{def->help, std::string("mpathfs ") + std::string(def->name)};
  app.footer(std::string("usage: mpathfs ") + def->usage);
  Context c;
  c.def = def;
  std::string mnt_arg;
  bool flag_a = false, flag_r = false, flag_p = false, flag_l = false, script = false;
  std::string name;
  std::string path;
  std::vector<std::string> paths;  // create
  std::vector<std::string> names;  // status, list

  app.add_option("-m,--mount", mnt_arg, "mount point of the mpathfs daemon (default: the only one mounted)");
  app.add_flag("-v,--verbose", c.verbose, "say what was done");
  switch (verb) {
    case Verb::kCreate: {
      auto* a = app.add_flag("-A", flag_a, "Active/Active mode");
      auto* r = app.add_flag("-R", flag_r, "Active/Read mode (default: Active/Passive)");
      a->excludes(r);
      app.add_flag("-l", flag_l, "label: write gmultipath metadata to the first path's last sector");
      app.add_option("NAME", name, "volume name, 1-15 characters of A-Za-z0-9._-")->required();
      app.add_option("PATH", paths, "paths to one disk (sdb means /dev/sdb)")->required();
      break;
    }
    case Verb::kDestroy:
    case Verb::kStop:
    case Verb::kRotate:
    case Verb::kGetactive:
      app.add_option("NAME", name, "volume name")->required();
      break;
    case Verb::kAdd:
    case Verb::kRemove:
    case Verb::kFail:
    case Verb::kRestore:
    case Verb::kPrefer:
      app.add_option("NAME", name, "volume name")->required();
      app.add_option("PATH", path, "a path of the volume (sdb means /dev/sdb)")->required();
      break;
    case Verb::kConfigure:
      app.add_flag("-A", flag_a, "Active/Active");
      app.add_flag("-R", flag_r, "Active/Read");
      app.add_flag("-P", flag_p, "Active/Passive");
      app.add_option("NAME", name, "volume name")->required();
      break;
    case Verb::kStatus:
      app.add_flag("-s", script, "script mode: no header, no padding, NAME and STATE on every line");
      app.add_option("NAME", names, "volume names (default: all)");
      break;
    case Verb::kList:
      app.add_option("NAME", names, "volume names (default: all)");
      break;
  }
  if (auto rc = parse(app, *def, argc, argv)) return *rc;

  if (verb == Verb::kConfigure && int(flag_a) + int(flag_r) + int(flag_p) != 1) {
    std::cerr << "mpathfs configure: give exactly one of -A, -R, -P\n"
              << "usage: mpathfs " << def->usage << "\n";
    return 1;
  }
  const bool takes_name = verb != Verb::kStatus && verb != Verb::kList;
  const bool takes_path = verb == Verb::kAdd || verb == Verb::kRemove || verb == Verb::kFail ||
                          verb == Verb::kRestore || verb == Verb::kPrefer;
  if (takes_name && !check_name(name)) return 1;
  // What the daemon is sent; checked after the working directory is
  // prefixed, which may bring characters of its own.
  const std::string daemon_path = path_for_daemon(path);
  std::vector<std::string> daemon_paths;
  for (auto& p : paths) daemon_paths.push_back(path_for_daemon(p));
  if (takes_path && !check_path_word(daemon_path)) return 1;
  for (auto& p : daemon_paths)
    if (!check_path_word(p)) return 1;

  auto mnt = find_mount(mnt_arg);
  if (!mnt) return 1;
  c.mnt = *mnt;

  // The command as typed, for messages: "fail vol0 /dev/sdb".
  c.words.push_back(std::string(def->name));
  if (flag_a) c.words.push_back("-A");
  if (flag_r) c.words.push_back("-R");
  if (flag_p) c.words.push_back("-P");
  if (flag_l) c.words.push_back("-l");
  if (takes_name) c.words.push_back(name);
  if (takes_path) c.words.push_back(path);
  for (auto& p : paths) c.words.push_back(p);

  switch (verb) {
    case Verb::kCreate: {
      // "NAME [-A|-R] [-l] PATH [PATH...]"
      std::string line = name;
      if (flag_a) line += " -A";
      if (flag_r) line += " -R";
      if (flag_l) line += " -l";
      for (auto& p : daemon_paths) line += " " + escape_word(p);
      const bool existed = c.volume_exists(name);
      if (apply(c, c.ctl("create"), line + "\n", name, "", existed)) return 1;
      say_done(c, name, "");
      return 0;
    }
    case Verb::kDestroy:
    case Verb::kStop: {
      const char* file = verb == Verb::kDestroy ? "destroy" : "stop";
      if (apply(c, c.ctl(file), name + "\n", name, "", true)) return 1;
      say_done(c, name, "");
      return 0;
    }
    case Verb::kAdd:
    case Verb::kRemove:
    case Verb::kFail:
    case Verb::kRestore:
    case Verb::kPrefer: {
      const std::string file(def->name);
      if (apply(c, c.ctl(name, file), escape_word(daemon_path) + "\n", name, path, true)) return 1;
      say_done(c, name, path);
      return 0;
    }
    case Verb::kRotate:
      if (apply(c, c.ctl(name, "rotate"), "rotate\n", name, "", true)) return 1;
      say_done(c, name, "");
      return 0;
    case Verb::kConfigure: {
      const char* flag = flag_a ? "-A" : flag_r ? "-R" : "-P";
      if (apply(c, c.ctl(name, "configure"), std::string(flag) + "\n", name, "", true)) return 1;
      say_done(c, name, "");
      return 0;
    }
    case Verb::kGetactive: {
      std::string text;
      if (int e = read_text(c.ctl(name, "active"), text))
        return fail_errno(c, e, e == ENOENT ? "no such volume " + name : "");
      if (text.empty() || text.back() != '\n') text += "\n";
      std::cout << text;
      return 0;
    }
    case Verb::kStatus: {
      int status = 0;
      auto vols = collect(c, names, &status);
      if (!vols.empty() || names.empty()) print_status(vols, script);
      return status;
    }
    case Verb::kList: {
      int status = 0;
      for (auto& v : collect(c, names, &status)) print_list(c, v);
      return status;
    }
  }
  return 1;
}

}  // namespace

bool is_gmultipath_verb(std::string_view v) { return find_verb(v) != nullptr; }

int run_gmultipath(int argc, char** argv) {
  const VerbDef* def = argc > 0 ? find_verb(argv[0]) : nullptr;
  if (!def) return fail_msg(std::string("unknown command ") + (argc > 0 ? argv[0] : ""));
  try {
    return run_verb(def, argc, argv);
  } catch (const std::exception& e) {
    // A status.json of an unexpected shape, a working directory that is
    // gone, ...: a message and gmultipath's failure status, not an abort.
    return fail_msg(std::string(def->name) + ": " + e.what());
  }
}

}  // namespace mpathfs::cli
