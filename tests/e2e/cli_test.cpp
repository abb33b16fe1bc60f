// The gmultipath(8) command line, `mpathfs VERB [-m MNT] ...`, against a
// live mount: every verb with good and bad arguments (exit status 1 and the
// control file's errno in words, as an admin expects), the layouts of
// `status` and `list`, mount discovery, and FreeBSD's own regression tests
// for gmultipath (tests/sys/geom/class/multipath/misc.sh and failloop.sh)
// ported to mpathfs: same steps, same checks, `mpathfs` for `gmultipath`.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "e2e/command_checks.hpp"
#include "e2e/tools.hpp"
#include "e2e/harness.hpp"

#ifndef MPATHFS_BIN
#define MPATHFS_BIN "mpathfs"
#endif

using namespace mpathfs::e2e;
using Strings = std::vector<std::string>;
using Catch::Matchers::Contains;

namespace {

// A word quoted for sh.
std::string q(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out.push_back(c);
  }
  return out + "'";
}

RunResult sh(const std::string& script) { return run({"sh", "-c", script}, 20); }

Strings lines_of(const std::string& s) {
  Strings out;
  std::istringstream in(s);
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}

size_t count_of(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + needle.size())) ++n;
  return n;
}


// `mpathfs list` parsed back: the geom's top-level fields, the provider's
// and each consumer's indented fields.
struct ListedGeom {
  std::map<std::string, std::string> fields;  // "State" -> "OPTIMAL"
  std::map<std::string, std::string> provider;
  std::string provider_name;
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> consumers;  // (Name, fields)
};

std::pair<std::string, std::string> key_value(const std::string& line) {
  auto t = trim(line);
  auto c = t.find(':');
  if (c == std::string::npos) return {t, ""};
  return {t.substr(0, c), c + 2 <= t.size() ? t.substr(c + 2) : std::string()};
}

std::vector<ListedGeom> parse_list(const std::string& text) {
  std::vector<ListedGeom> out;
  enum { kGeom, kProviders, kConsumers } where = kGeom;
  for (auto& l : lines_of(text)) {
    if (l.empty()) continue;
    if (l.rfind("Geom name: ", 0) == 0) {
      out.emplace_back();
      out.back().fields["Geom name"] = l.substr(11);
      where = kGeom;
      continue;
    }
    if (out.empty()) throw std::runtime_error("list: a line before 'Geom name:': " + l);
    auto& g = out.back();
    if (l == "Providers:") {
      where = kProviders;
      continue;
    }
    if (l == "Consumers:") {
      where = kConsumers;
      continue;
    }
    const bool indented = l[0] == ' ';
    auto [k, v] = key_value(l);
    if (where == kGeom) {
      if (indented) throw std::runtime_error("list: indented line in the geom section: " + l);
      g.fields[k] = v;
    } else if (!indented) {
      // "N. Name: X"
      auto dot = k.find(". Name");
      if (dot == std::string::npos) throw std::runtime_error("list: unexpected line: " + l);
      if (where == kProviders) g.provider_name = v;
      else g.consumers.push_back({v, {}});
    } else if (where == kProviders) {
      g.provider[k] = v;
    } else {
      if (g.consumers.empty()) throw std::runtime_error("list: consumer field before a consumer: " + l);
      g.consumers.back().second[k] = v;
    }
  }
  return out;
}

// An empty daemon and same-size path files p0..p3, plus one of another size.
struct Fixture {
  TempDir tmp{"mpathfs-cli"};
  Strings p = make_path_files(tmp, 4, 4 * MiB);
  std::string odd = make_pattern_file(tmp / "odd.img", 4 * MiB + 4096, 1);
  Daemon d{tmp, "none"};

  RunResult operator()(const Strings& args) const { return mp(d.mnt(), args); }
  json st(const std::string& vol) const { return d.status(vol); }
};

bool exists(const std::string& p) {
  struct stat st{};
  return ::stat(p.c_str(), &st) == 0;
}

}  // namespace

// ====================================================================== verbs

TEST_CASE("cli: create, then status and list in gmultipath's layouts", "[cli]") {
  Fixture f;
  auto& p = f.p;
  {
    RunResult r = f({"create", "vol0", p[0], p[1]});
    INFO(r.describe());
    REQUIRE(r.exit_code() == 0);
    CHECK(r.output.empty());  // quiet without -v
  }
  CHECK(path_states(f.st("vol0")) == Strings{"ACTIVE", "PASSIVE"});
  {
    RunResult r = f({"create", "-A", "-v", "vol1", p[2], p[3]});
    INFO(r.describe());
    REQUIRE(r.exit_code() == 0);
    CHECK_THAT(r.output, Contains("vol1 created") && Contains("Active/Active") && Contains("2 path"));
  }
  CHECK(f.st("vol1").at("mode") == "active-active");

  SECTION("status: the layout of MNT/status; names select volumes; -s repeats NAME and STATE") {
    RunResult all = f({"status"});
    INFO(all.describe());
    REQUIRE(all.exit_code() == 0);
    CHECK(all.output == f.d.status_text());
    auto t = parse_status(all.output);
    REQUIRE(t.volumes.size() == 2);
    CHECK(t.volumes[0].name == "vol0");
    CHECK(t.volumes[0].state == "OPTIMAL");
    CHECK(t.volumes[0].paths == std::vector<std::pair<std::string, std::string>>{{p[0], "ACTIVE"}, {p[1], "PASSIVE"}});
    CHECK(t.volumes[1].paths == std::vector<std::pair<std::string, std::string>>{{p[2], "ACTIVE"}, {p[3], "ACTIVE"}});

    RunResult one = f({"status", "vol1"});
    INFO(one.describe());
    CHECK(one.exit_code() == 0);
    auto t1 = parse_status(one.output);
    REQUIRE(t1.volumes.size() == 1);
    CHECK(t1.volumes[0].name == "vol1");

    RunResult s = f({"status", "-s"});
    INFO(s.describe());
    CHECK(s.exit_code() == 0);
    CHECK(lines_of(s.output) == Strings{"vol0  OPTIMAL  " + p[0] + " (ACTIVE)", "vol0  OPTIMAL  " + p[1] + " (PASSIVE)",
                                        "vol1  OPTIMAL  " + p[2] + " (ACTIVE)", "vol1  OPTIMAL  " + p[3] + " (ACTIVE)"});

    CHECK_FAILS(f({"status", "nosuch"}), "no such volume nosuch");
    CHECK_FAILS(f({"status", "-x"}), "-x");
  }

  SECTION("list: geom, provider multipath/NAME, consumers with State right after their sizes") {
    RunResult r = f({"list", "vol0"});
    INFO(r.describe());
    REQUIRE(r.exit_code() == 0);
    auto ls = lines_of(r.output);
    REQUIRE(ls.size() > 10);
    CHECK(ls[0] == "Geom name: vol0");
    auto g = parse_list(r.output);
    REQUIRE(g.size() == 1);
    CHECK(g[0].fields.at("Type") == "MANUAL");
    CHECK(g[0].fields.at("Mode") == "Active/Passive");
    CHECK(g[0].fields.at("UUID") == "");
    CHECK(g[0].fields.at("State") == "OPTIMAL");
    CHECK(g[0].provider_name == "multipath/vol0");
    CHECK(g[0].provider.at("Mediasize") == "4194304 (4.0M)");
    CHECK(g[0].provider.at("Sectorsize") == "512");
    REQUIRE(g[0].consumers.size() == 2);
    CHECK(g[0].consumers[0].first == p[0]);
    CHECK(g[0].consumers[0].second.at("State") == "ACTIVE");
    CHECK(g[0].consumers[0].second.at("Mediasize") == "4194304 (4.0M)");
    CHECK(g[0].consumers[1].first == p[1]);
    CHECK(g[0].consumers[1].second.at("State") == "PASSIVE");
    for (const char* k : {"Reads", "Writes", "ReadBytes", "WriteBytes", "Errors", "Inflight", "LastError"})
      CHECK(g[0].consumers[0].second.count(k) == 1);
    // The consumer's State line comes before any counter (FreeBSD's awk
    // takes the first "State:" after "N. Name:").
    auto c1 = std::find(ls.begin(), ls.end(), "1. Name: " + p[0]);
    REQUIRE(c1 != ls.end());
    CHECK(*(c1 + 1) == "   Mediasize: 4194304 (4.0M)");
    CHECK(*(c1 + 2) == "   Sectorsize: 512");
    CHECK(*(c1 + 3) == "   State: ACTIVE");
    // Exactly one "State:" at column 0: the geom's.
    CHECK(std::count_if(ls.begin(), ls.end(), [](auto& l) { return l.rfind("State:", 0) == 0; }) == 1);

    RunResult both = f({"list"});
    INFO(both.describe());
    CHECK(both.exit_code() == 0);
    auto g2 = parse_list(both.output);
    REQUIRE(g2.size() == 2);
    CHECK(g2[0].fields.at("Geom name") == "vol0");
    CHECK(g2[1].fields.at("Geom name") == "vol1");
    CHECK(g2[1].fields.at("Mode") == "Active/Active");

    CHECK_FAILS(f({"list", "nosuch"}), "no such volume nosuch");
    CHECK_FAILS(f({"list", "bad/name"}), "bad volume name");
  }

  SECTION("list: the counters follow the I/O") {
    Fd fd = open_fd(f.d.vol("vol0"), O_RDWR | O_DIRECT);
    AlignedBuf buf(64 * KiB);
    fill_pattern(buf.data(), 7, 0, buf.size());
    REQUIRE(pwrite_all(fd.get(), buf.data(), buf.size(), 0) == 0);
    REQUIRE(pread_all(fd.get(), buf.data(), buf.size(), 0) == static_cast<ssize_t>(buf.size()));
    fd.close();
    RunResult r = f({"list", "vol0"});
    INFO(r.describe());
    auto g = parse_list(r.output);
    REQUIRE(g.size() == 1);
    auto& c0 = g[0].consumers.at(0).second;
    CHECK(std::stoull(c0.at("Writes")) >= 1);
    CHECK(std::stoull(c0.at("WriteBytes")) >= 64 * KiB);
    CHECK(std::stoull(c0.at("Reads")) >= 1);
    CHECK(c0.at("Errors") == "0");
    CHECK(c0.at("LastError") == "-");
    CHECK(g[0].consumers.at(1).second.at("Writes") == "0");  // PASSIVE: no I/O
  }

  SECTION("create -R: Active/Read, the others READ") {
    Strings r = make_path_files(f.tmp, 3, 1 * MiB, 1, "r");
    REQUIRE_OK(f({"create", "-R", "vol2", r[0], r[1], r[2]}));
    auto g = parse_list(f({"list", "vol2"}).output);
    REQUIRE(g.size() == 1);
    CHECK(g[0].fields.at("Mode") == "Active/Read");
    REQUIRE(g[0].consumers.size() == 3);
    CHECK(g[0].consumers[0].second.at("State") == "ACTIVE");
    CHECK(g[0].consumers[1].second.at("State") == "READ");
    CHECK(g[0].consumers[2].second.at("State") == "READ");
    CHECK(g[0].provider.at("Mediasize") == "1048576 (1.0M)");
  }
}

TEST_CASE("cli: create refuses bad arguments: exit 1 and the reason", "[cli]") {
  Fixture f;
  auto& p = f.p;
  REQUIRE_OK(f({"create", "vol0", p[0], p[1]}));
  const std::string before = f.d.status_text();

  CHECK_FAILS(f({"create"}), "NAME is required");
  CHECK_FAILS(f({"create", "vol9"}), "PATH is required");
  CHECK_FAILS(f({"create", "vol9"}), "usage: mpathfs create");
  CHECK_FAILS(f({"create", "-A", "-R", "vol9", p[2]}), "excludes");
  CHECK_FAILS(f({"create", "-x", "vol9", p[2]}), "-x");
  CHECK_FAILS(f({"create", "vol0", p[2]}), "mpathfs: create vol0 " + p[2] + ": File exists (volume vol0 already exists)");
  CHECK_FAILS(f({"create", "vol9", f.tmp / "missing.img"}), "No such file or directory");
  CHECK_FAILS(f({"create", "vol9", p[2], f.odd}), "Invalid argument");
  CHECK_FAILS(f({"create", "vol9", p[2], p[2]}), "File exists (a path is given twice)");
  CHECK_FAILS(f({"create", "vol9", p[0]}), "Device or resource busy");  // a path of vol0
  CHECK_FAILS(f({"create", "a-name-too-long-16", p[2]}), "bad volume name");
  // A blank travels escaped (\040): the daemon looks for that file.
  CHECK_FAILS(f({"create", "vol9", f.tmp / "with blank"}), "No such file or directory");
  CHECK_FAILS(f({"create", "vol9", f.tmp / "with\x1b[2J"}), "control characters");
  // Nothing changed.
  CHECK(f.d.status_text() == before);
  CHECK_FALSE(exists(f.d.vol("vol9")));
}

TEST_CASE("cli: fail, restore, add, remove, prefer, rotate, configure, getactive", "[cli]") {
  Fixture f;
  auto& p = f.p;
  REQUIRE_OK(f({"create", "vol0", p[0], p[1]}));
  auto active = [&] {
    RunResult r = f({"getactive", "vol0"});
    INFO(r.describe());
    CHECK(r.exit_code() == 0);
    return trim(r.output);
  };
  CHECK(active() == p[0]);

  SECTION("good arguments") {
    REQUIRE_OK(f({"fail", "vol0", p[0]}));
    CHECK(path_states(f.st("vol0")) == Strings{"FAIL", "ACTIVE"});
    CHECK(f.st("vol0").at("state") == "DEGRADED");
    CHECK(active() == p[1]);
    CHECK_OK(f({"fail", "vol0", p[0]}));  // already FAIL: success, no change
    REQUIRE_OK(f({"restore", "vol0", p[0]}));
    CHECK(path_states(f.st("vol0")) == Strings{"PASSIVE", "ACTIVE"});

    REQUIRE_OK(f({"add", "vol0", p[2]}));
    CHECK(path_names(f.st("vol0")) == Strings{p[0], p[1], p[2]});
    REQUIRE_OK(f({"prefer", "vol0", p[2]}));
    CHECK(active() == p[2]);
    REQUIRE_OK(f({"rotate", "vol0"}));  // next in join order, wrapping
    CHECK(active() == p[0]);
    REQUIRE_OK(f({"remove", "vol0", p[0]}));
    CHECK(path_names(f.st("vol0")) == Strings{p[1], p[2]});
    CHECK(active() == p[1]);

    REQUIRE_OK(f({"configure", "-A", "vol0"}));
    CHECK(f.st("vol0").at("mode") == "active-active");
    CHECK(active() == p[1] + " " + p[2]);
    REQUIRE_OK(f({"configure", "-R", "vol0"}));
    CHECK(f.st("vol0").at("mode") == "active-read");
    REQUIRE_OK(f({"configure", "-P", "vol0"}));
    CHECK(f.st("vol0").at("mode") == "active-passive");
  }

  SECTION("-v says what was done") {
    RunResult r = f({"fail", "-v", "vol0", p[0]});
    CHECK_THAT(r.output, Contains(p[0] + " in vol0 is marked FAIL."));
    r = f({"restore", "-v", "vol0", p[0]});
    CHECK_THAT(r.output, Contains(p[0] + " in vol0 is marked OK."));
    r = f({"rotate", "-v", "vol0"});
    CHECK_THAT(r.output, Contains("vol0: active path is now " + p[0] + "."));
    r = f({"prefer", "-v", "vol0", p[1]});
    CHECK_THAT(r.output, Contains("vol0: active path is now " + p[1] + "."));
    r = f({"add", "-v", "vol0", p[2]});
    CHECK_THAT(r.output, Contains(p[2] + " added to vol0."));
    r = f({"remove", "-v", "vol0", p[2]});
    CHECK_THAT(r.output, Contains(p[2] + " removed from vol0."));
    r = f({"configure", "-v", "-A", "vol0"});
    CHECK_THAT(r.output, Contains("vol0: mode is now Active/Active."));
  }

  SECTION("unknown volume: ENOENT, 'no such volume'") {
    for (const char* v : {"fail", "restore", "add", "remove", "prefer"})
      CHECK_FAILS(f({v, "nosuch", p[0]}),
                  "mpathfs: " + std::string(v) + " nosuch " + p[0] + ": No such file or directory (no such volume nosuch)");
    CHECK_FAILS(f({"rotate", "nosuch"}), "No such file or directory (no such volume nosuch)");
    CHECK_FAILS(f({"configure", "-A", "nosuch"}), "No such file or directory (no such volume nosuch)");
    CHECK_FAILS(f({"getactive", "nosuch"}), "no such volume nosuch");
    CHECK_FAILS(f({"fail", "../ctl", p[0]}), "bad volume name");  // never a path out of ctl/
  }

  SECTION("unknown path, path already there, wrong size, last path, FAIL path preferred") {
    for (const char* v : {"fail", "restore", "remove", "prefer"})
      CHECK_FAILS(f({v, "vol0", p[3]}), "No such file or directory (" + p[3] + " is not a path of vol0)");
    CHECK_FAILS(f({"add", "vol0", p[1]}), "File exists (" + p[1] + " is already a path of vol0)");
    CHECK_FAILS(f({"add", "vol0", f.tmp / "missing.img"}), "No such file or directory (cannot open");
    CHECK_FAILS(f({"add", "vol0", f.odd}), "Invalid argument");
    REQUIRE_OK(f({"remove", "vol0", p[1]}));
    CHECK_FAILS(f({"remove", "vol0", p[0]}), "Device or resource busy (" + p[0] + " is the last path of vol0: use destroy)");
    REQUIRE_OK(f({"add", "vol0", p[1]}));
    REQUIRE_OK(f({"fail", "vol0", p[1]}));
    CHECK_FAILS(f({"prefer", "vol0", p[1]}), "Invalid argument (a FAIL path cannot be made active");
    CHECK(path_names(f.st("vol0")) == Strings{p[0], p[1]});
    CHECK(path_states(f.st("vol0")) == Strings{"ACTIVE", "FAIL"});
  }

  SECTION("missing, extra and wrong arguments: usage, exit 1, nothing done") {
    const std::string before = f.d.status_text();
    for (const char* v : {"fail", "restore", "add", "remove", "prefer"}) {
      CHECK_FAILS(f({v, "vol0"}), "PATH is required");
      CHECK_FAILS(f({v}), "NAME is required");
      CHECK_FAILS(f({v, "vol0", p[0], p[1]}), "not expected");
      CHECK_FAILS(f({v, "-A", "vol0", p[0]}), "-A");
      CHECK_FAILS(f({v, "vol0"}), "usage: mpathfs " + std::string(v) + " [-v] [-m MNT] NAME PATH");
    }
    CHECK_FAILS(f({"rotate"}), "NAME is required");
    CHECK_FAILS(f({"rotate", "vol0", "extra"}), "not expected");
    CHECK_FAILS(f({"getactive", "vol0", "extra"}), "not expected");
    CHECK_FAILS(f({"configure", "vol0"}), "give exactly one of -A, -R, -P");
    CHECK_FAILS(f({"configure", "-A", "-R", "vol0"}), "give exactly one of -A, -R, -P");
    CHECK_FAILS(f({"configure", "-x", "vol0"}), "-x");
    CHECK_FAILS(f({"configure", "-A"}), "NAME is required");
    CHECK_FAILS(f({"fail", "vol0", "two words"}), "is not a path of vol0");  // sent as two\040words
    CHECK_FAILS(f({"fail", "vol0", ""}), "is empty");
    CHECK_FAILS(f({"fail", "", p[0]}), "bad volume name ''");
    CHECK(f.d.status_text() == before);
  }
  SECTION("--help: usage on stdout, exit 0") {
    RunResult r = f({"fail", "--help"});
    INFO(r.describe());
    CHECK(r.exit_code() == 0);
    CHECK_THAT(r.output, Contains("usage: mpathfs fail"));
  }
}

TEST_CASE("cli: destroy and stop", "[cli]") {
  Fixture f;
  auto& p = f.p;
  REQUIRE_OK(f({"create", "vol0", p[0], p[1]}));
  REQUIRE_OK(f({"create", "vol1", p[2], p[3]}));
  {
    Fd fd = open_fd(f.d.vol("vol0"), O_RDONLY);
    CHECK_FAILS(f({"destroy", "vol0"}), "mpathfs: destroy vol0: Device or resource busy (volume vol0 is open");
    CHECK_FAILS(f({"stop", "vol0"}), "Device or resource busy");
  }
  CHECK(exists(f.d.vol("vol0")));
  RunResult r = f({"destroy", "-v", "vol0"});
  INFO(r.describe());
  CHECK(r.exit_code() == 0);
  CHECK_THAT(r.output, Contains("Volume vol0 destroyed."));
  CHECK_FALSE(exists(f.d.vol("vol0")));
  r = f({"stop", "-v", "vol1"});
  CHECK(r.exit_code() == 0);
  CHECK_THAT(r.output, Contains("Volume vol1 stopped"));
  CHECK_FALSE(exists(f.d.vol("vol1")));

  CHECK_FAILS(f({"destroy", "vol0"}), "mpathfs: destroy vol0: No such file or directory (no such volume vol0)");
  CHECK_FAILS(f({"stop", "vol1"}), "No such file or directory (no such volume vol1)");
  CHECK_FAILS(f({"destroy"}), "NAME is required");
  CHECK_FAILS(f({"destroy", "vol0", "vol1"}), "not expected");
  CHECK_FAILS(f({"stop", "-A", "vol1"}), "-A");
  // Paths are free again.
  CHECK_OK(f({"create", "vol2", p[0], p[2]}));
}

TEST_CASE("cli: each changing verb is ONE write() of one line to its control file", "[cli]") {
  require_tool("strace");  // fails naming the package when it is missing
  Fixture f;
  auto& p = f.p;
  REQUIRE_OK(f({"create", "vol0", p[0], p[1]}));
  // strace the command; find the fd of the control file, count the writes.
  auto writes_to = [&](const Strings& args, const std::string& ctl) {
    std::string trace = f.tmp / "strace.txt";
    ::unlink(trace.c_str());
    Strings argv{"strace", "-f", "-s", "4096", "-e", "trace=openat,write", "-o", trace, MPATHFS_BIN, args.at(0),
                 "-m", f.d.mnt()};
    argv.insert(argv.end(), args.begin() + 1, args.end());
    RunResult r = run(argv, 30);
    INFO(r.describe());
    CHECK(r.exit_code() == 0);
    std::string fd;
    Strings out;
    for (auto& l : lines_of(read_file(trace))) {
      auto at = l.find("openat(AT_FDCWD, \"" + ctl + "\"");
      if (at != std::string::npos) fd = trim(l.substr(l.rfind('=') + 1));
      if (!fd.empty() && l.find("write(" + fd + ", ") != std::string::npos) out.push_back(l);
    }
    INFO(read_file(trace));
    CHECK_FALSE(fd.empty());
    return out;
  };
  auto w = writes_to({"fail", "vol0", p[1]}, f.d.ctl("vol0", "fail"));
  REQUIRE(w.size() == 1);
  CHECK_THAT(w[0], Contains("\"" + p[1] + "\\n\""));
  w = writes_to({"create", "-A", "vol1", p[2], p[3]}, f.d.ctl("create"));
  REQUIRE(w.size() == 1);
  CHECK_THAT(w[0], Contains("\"vol1 -A " + p[2] + " " + p[3] + "\\n\""));
  w = writes_to({"configure", "-R", "vol1"}, f.d.ctl("vol1", "configure"));
  REQUIRE(w.size() == 1);
  CHECK_THAT(w[0], Contains("\"-R\\n\""));
  w = writes_to({"rotate", "vol0"}, f.d.ctl("vol0", "rotate"));
  CHECK(w.size() == 1);
  w = writes_to({"stop", "vol1"}, f.d.ctl("stop"));
  REQUIRE(w.size() == 1);
  CHECK_THAT(w[0], Contains("\"vol1\\n\""));
}

TEST_CASE("cli: provider names without /dev/, relative paths", "[cli]") {
  Fixture f;
  SECTION("a relative path with a directory is made absolute against the working directory") {
    REQUIRE_OK(f({"create", "vol0", f.p[0], f.p[1]}));
    RunResult r = sh("cd " + q(f.tmp.path()) + " && exec " + q(MPATHFS_BIN) + " add -m " + q(f.d.mnt()) +
                     " vol0 ./p2.img");
    INFO(r.describe());
    CHECK(r.exit_code() == 0);
    CHECK(path_names(f.st("vol0")) == Strings{f.p[0], f.p[1], f.p[2]});
    r = sh("cd " + q(f.tmp.path()) + " && exec " + q(MPATHFS_BIN) + " fail -m " + q(f.d.mnt()) + " vol0 ./p2.img");
    CHECK(r.exit_code() == 0);
    CHECK(path_state(f.st("vol0"), f.p[2]) == "FAIL");
    // A working directory with a blank: the absolute path goes in the
    // control line with the blank escaped (\040), as status shows it.
    std::string blank = f.tmp.mkdir("a b");
    make_pattern_file(blank + "/x.img", 4 * MiB, 1);
    r = sh("cd " + q(blank) + " && exec " + q(MPATHFS_BIN) + " add -m " + q(f.d.mnt()) + " vol0 ./x.img");
    INFO(r.describe());
    CHECK(r.exit_code() == 0);
    CHECK(path_names(f.st("vol0")) == Strings{f.p[0], f.p[1], f.p[2], f.tmp / "a\\040b/x.img"});
  }
  SECTION("gmultipath's provider names: 'loop7' is /dev/loop7") {
    LoopDevice l0(f.p[2]), l1(f.p[3]);
    const std::string n0 = l0.dev().substr(5), n1 = l1.dev().substr(5);  // strip "/dev/"
    REQUIRE_OK(f({"create", "lv", n0, n1}));
    CHECK(path_names(f.st("lv")) == Strings{l0.dev(), l1.dev()});
    REQUIRE_OK(f({"fail", "lv", n0}));
    CHECK(path_states(f.st("lv")) == Strings{"FAIL", "ACTIVE"});
    RunResult r = f({"getactive", "lv"});
    CHECK(trim(r.output) == l1.dev());
    REQUIRE_OK(f({"restore", "lv", n0}));
    REQUIRE_OK(f({"prefer", "lv", n0}));
    CHECK(trim(f({"getactive", "lv"}).output) == l0.dev());
    RunResult ls = f({"list", "lv"});
    auto g = parse_list(ls.output);
    REQUIRE(g.size() == 1);
    CHECK(g[0].consumers.at(0).first == l0.dev());
    CHECK(g[0].consumers.at(0).second.at("Mediasize") == "4194304 (4.0M)");
    REQUIRE_OK(f({"destroy", "lv"}));  // before the loop devices go
  }
}

// ---------------------------------------------------------------------- -m

namespace {
// Runs `mpathfs ARGS` without -m in a private mount namespace where every
// mpathfs mount outside `keep_prefix` is lazily unmounted (only there: the
// machine's other mounts, e.g. concurrent tests, are not touched), so the
// command sees exactly the mounts this test made.
RunResult mp_alone(const std::string& keep_prefix, const Strings& args) {
  const std::string script =
      "awk '{for (i = 7; i <= NF; i++) if ($i == \"-\") { if ($(i+1) == \"fuse.mpathfs\") print $5; break }}' "
      "/proc/self/mountinfo | while read -r m; do m=$(printf '%b' \"$m\"); "
      "case \"$m\" in \"$KEEP\"/*) ;; *) umount -l \"$m\" || exit 99 ;; esac; done || exit 99; "
      "exec \"$BIN\" \"$@\"";
  Strings argv{"env", "KEEP=" + keep_prefix, std::string("BIN=") + MPATHFS_BIN, "unshare", "-m",
               "--propagation", "private", "sh", "-c", script, "sh"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, 20);
}
}  // namespace

TEST_CASE("cli: -m MNT, or the only mpathfs mount, none or several is an error naming them", "[cli]") {
  TempDir tmp{"mpathfs-cli"};
  Strings p = make_path_files(tmp, 2, 1 * MiB);
  SECTION("the only mount, found in mountinfo (its name has a blank: \\040 there)") {
    Daemon d(tmp, Daemon::Options{"none", "", {}, tmp / "mnt one", 10});
    REQUIRE_OK(mp(d.mnt(), {"create", "vol0", p[0], p[1]}));
    RunResult r = mp_alone(tmp.path(), {"getactive", "vol0"});
    INFO(r.describe());
    CHECK(r.exit_code() == 0);
    CHECK(trim(r.output) == p[0]);
    r = mp_alone(tmp.path(), {"fail", "-v", "vol0", p[0]});
    INFO(r.describe());
    CHECK(r.exit_code() == 0);
    CHECK(path_states(d.status("vol0")) == Strings{"FAIL", "ACTIVE"});
    // -m with a trailing slash, and -m at the end.
    CHECK_OK(mp_raw({"restore", "vol0", p[0], "-m", d.mnt() + "/"}));
    CHECK(path_states(d.status("vol0")) == Strings{"PASSIVE", "ACTIVE"});
  }
  SECTION("no mount") {
    RunResult r = mp_alone("/nonexistent-prefix", {"status"});
    INFO(r.describe());
    CHECK(r.exit_code() == 1);
    CHECK_THAT(r.output, Contains("no mpathfs mount found") && Contains("-m MNT"));
  }
  SECTION("two mounts: both named") {
    Daemon a(tmp, Daemon::Options{"none", "", {}, tmp / "a", 10});
    Daemon b(tmp, Daemon::Options{"none", "", {}, tmp / "b", 10});
    RunResult r = mp_alone(tmp.path(), {"status"});
    INFO(r.describe());
    CHECK(r.exit_code() == 1);
    CHECK_THAT(r.output, Contains("several mpathfs mounts") && Contains(a.mnt()) && Contains(b.mnt()) &&
                             Contains("-m MNT"));
    // No volumes: status prints the header alone, as MNT/status; -s nothing.
    RunResult st = mp(a.mnt(), {"status"});
    CHECK(st.exit_code() == 0);
    CHECK(st.output == a.status_text());
    st = mp(a.mnt(), {"status", "-s"});
    CHECK(st.exit_code() == 0);
    CHECK(st.output.empty());
    st = mp(a.mnt(), {"list"});
    CHECK(st.exit_code() == 0);
    CHECK(st.output.empty());
    // -m picks one.
    CHECK_OK(mp(b.mnt(), {"create", "vb", p[0]}));
    CHECK(exists(b.vol("vb")));
    CHECK_FALSE(exists(a.vol("vb")));
  }
  SECTION("-m naming something else") {
    Daemon d(tmp, "none");
    CHECK_FAILS(mp(tmp.path(), {"status"}), tmp.path() + " is not an mpathfs mount (mpathfs mounts: ");
    CHECK_FAILS(mp(tmp / "nowhere", {"fail", "vol0", p[0]}), "is not an mpathfs mount");
  }
}

// ====================================================================== FreeBSD's atf cases
//
// tests/sys/geom/class/multipath/{conf.sh,misc.sh,failloop.sh} from
// freebsd-src, step by step.  Differences, all forced by the platform:
//  - alloc_md (a 1 MiB swap-backed md(4) disk) is a 1 MiB file TMP/mdN; where
//    the test needs a path that fails underneath (gnop configure -r 100 -w 100)
//    TMP/mdN is a symlink to an nbdkit+nbdfuse file (NbdPath) over one image,
//    made to fail with NbdPath::fail().
//  - consumer names are absolute paths, so conf.sh's awk pattern
//    "/1. Name: md[0-9]/" becomes "/1. Name: .*\/md[0-9]/" (the rest of the
//    awk is verbatim), and getactive prints TMP/mdN, not mdN.
//  - dd writes to MNT/NAME with oflag=direct (FreeBSD's /dev/multipath/NAME
//    is a raw device: its writes reach the path before dd exits).
//  - dtrace's restore probe count (failloop) is the count of the daemon's
//    "all paths were marked FAIL, restore" log lines.
namespace {

struct Atf {
  TempDir tmp{"mpathfs-atf"};
  std::string name = mkname();
  std::unique_ptr<Daemon> d = std::make_unique<Daemon>(tmp, "none");
  std::string image;
  std::vector<std::unique_ptr<NbdPath>> nops;

  ~Atf() {
    // common_cleanup: gmultipath destroy "$name", then the disks.
    try {
      if (d && exists(d->vol(name))) mp(d->mnt(), {"destroy", name});
    } catch (...) {
    }
    d.reset();  // before the nbd paths under it
    nops.clear();
  }

  // mktemp -u mp.XXXXXX
  static std::string mkname() {
    static const char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::random_device rd;
    std::string n = "mp.";
    for (int i = 0; i < 6; ++i) n += kChars[rd() % (sizeof kChars - 1)];
    return n;
  }
  // alloc_md: TMP/mdN, 1 MiB.
  std::string alloc_md(int i) { return make_zero_file(tmp / ("md" + std::to_string(i)), 1 * MiB); }
  // alloc_md + gnop create: TMP/mdN -> an nbd path over one shared image.
  std::string alloc_nop(int i) {
    if (image.empty()) image = make_zero_file(tmp / "image", 1 * MiB);
    nops.push_back(std::make_unique<NbdPath>(tmp, image, "md" + std::to_string(i)));
    std::string link = tmp / ("md" + std::to_string(i));
    if (::symlink(nops.back()->file().c_str(), link.c_str()) != 0) throw std::runtime_error("symlink " + link);
    return link;
  }
  NbdPath& nop(int i) { return *nops.at(static_cast<size_t>(i)); }

  RunResult gmultipath(const Strings& args) const { return mp(d->mnt(), args); }
  // dd if=/dev/zero of=/dev/multipath/"$name" bs=4096 count=1
  RunResult dd() const {
    return run({"dd", "if=/dev/zero", "of=" + d->vol(name), "bs=4096", "count=1", "oflag=direct", "conv=notrunc"}, 30);
  }

  // conf.sh check_multipath_state <active_path> <geom_state> <prov0_state> <prov1_state> [prov2_state]
  void check_multipath_state(const std::string& want_active_path, const std::string& want_geom_state,
                             const std::string& want_prov0_state, const std::string& want_prov1_state,
                             const std::string& want_prov2_state = "") const {
    const std::string list = q(MPATHFS_BIN) + " list -m " + q(d->mnt()) + " " + q(name);
    auto awk = [&](const std::string& prog) {
      RunResult r = sh(list + " | awk " + q(prog));
      INFO(r.describe());
      CHECK(r.exit_code() == 0);
      return trim(r.output);
    };
    INFO("mpathfs list " << name << ":\n" << gmultipath({"list", name}).output);
    const std::string geom_state = awk("/^State:/ {print $2}");
    CHECK(want_geom_state == geom_state);
    const std::string prov0_state = awk("/1. Name: .*\\/md[0-9]/ {trigger=1} /State:/ && trigger == 1 {print $2; trigger=0;}");
    const std::string prov1_state = awk("/2. Name: .*\\/md[0-9]/ {trigger=1} /State:/ && trigger == 1 {print $2; trigger=0;}");
    const std::string prov2_state = awk("/3. Name: .*\\/md[0-9]/ {trigger=1} /State:/ && trigger == 1 {print $2; trigger=0;}");
    RunResult ga = gmultipath({"getactive", name});
    CHECK(want_active_path == trim(ga.output));
    CHECK(want_prov0_state == prov0_state);
    CHECK(want_prov1_state == prov1_state);
    if (!want_prov2_state.empty()) CHECK(want_prov2_state == prov2_state);
  }
};

}  // namespace

TEST_CASE("atf multipath:add: add a new path", "[cli][atf]") {
  Atf t;
  auto md0 = t.alloc_md(0), md1 = t.alloc_md(1), md2 = t.alloc_md(2);
  REQUIRE_OK(t.gmultipath({"create", t.name, md0, md1}));
  t.check_multipath_state(md0, "OPTIMAL", "ACTIVE", "PASSIVE");
  // Add a new path
  REQUIRE_OK(t.gmultipath({"add", t.name, md2}));
  t.check_multipath_state(md0, "OPTIMAL", "ACTIVE", "PASSIVE", "PASSIVE");
}

TEST_CASE("atf multipath:create_A: create an Active/Active multipath device", "[cli][atf]") {
  Atf t;
  auto md0 = t.alloc_md(0), md1 = t.alloc_md(1);
  REQUIRE_OK(t.gmultipath({"create", "-A", t.name, md0, md1}));
  // FreeBSD expects "${md1} ${md0}": its kernel keeps the consumers newest
  // first.  mpathfs lists paths in join order (SPEC), so getactive does too.
  t.check_multipath_state(md0 + " " + md1, "OPTIMAL", "ACTIVE", "ACTIVE");
}

TEST_CASE("atf multipath:create_R: create an Active/Read multipath device", "[cli][atf]") {
  Atf t;
  auto md0 = t.alloc_md(0), md1 = t.alloc_md(1);
  REQUIRE_OK(t.gmultipath({"create", "-R", t.name, md0, md1}));
  t.check_multipath_state(md0, "OPTIMAL", "ACTIVE", "READ");
}

TEST_CASE("atf multipath:fail: manually fail a path", "[cli][atf]") {
  Atf t;
  auto md0 = t.alloc_md(0), md1 = t.alloc_md(1);
  REQUIRE_OK(t.gmultipath({"create", t.name, md0, md1}));
  t.check_multipath_state(md0, "OPTIMAL", "ACTIVE", "PASSIVE");
  // Manually fail the active path
  REQUIRE_OK(t.gmultipath({"fail", t.name, md0}));
  t.check_multipath_state(md1, "DEGRADED", "FAIL", "ACTIVE");
}

TEST_CASE("atf multipath:fail_on_error: an error in the provider marks it FAIL", "[cli][atf]") {
  Atf t;
  auto md0 = t.alloc_nop(0), md1 = t.alloc_nop(1);
  REQUIRE_OK(t.gmultipath({"create", t.name, md0, md1}));
  // The first I/O to the first path should fail, causing gmultipath to
  // fail over to the second path.
  t.nop(0).fail();
  {
    RunResult r = t.dd();
    INFO(r.describe());
    CHECK(r.exit_code() == 0);
  }
  t.check_multipath_state(md1, "DEGRADED", "FAIL", "ACTIVE");
  // mpathfs's counters in list: the error is recorded on md0.
  auto g = parse_list(t.gmultipath({"list", t.name}).output);
  REQUIRE(g.size() == 1);
  CHECK(g[0].consumers.at(0).second.at("LastError") == "EIO");
  CHECK(std::stoull(g[0].consumers.at(0).second.at("Errors")) >= 1);
}

TEST_CASE("atf multipath:prefer: manually select the preferred path", "[cli][atf]") {
  Atf t;
  auto md0 = t.alloc_md(0), md1 = t.alloc_md(1), md2 = t.alloc_md(2);
  REQUIRE_OK(t.gmultipath({"create", t.name, md0, md1, md2}));
  t.check_multipath_state(md0, "OPTIMAL", "ACTIVE", "PASSIVE", "PASSIVE");
  // Explicitly prefer the final path
  REQUIRE_OK(t.gmultipath({"prefer", t.name, md2}));
  t.check_multipath_state(md2, "OPTIMAL", "PASSIVE", "PASSIVE", "ACTIVE");
}

TEST_CASE("atf multipath:restore: manually restore a failed path", "[cli][atf]") {
  Atf t;
  auto md0 = t.alloc_md(0), md1 = t.alloc_md(1);
  REQUIRE_OK(t.gmultipath({"create", t.name, md0, md1}));
  // Explicitly fail the first path
  REQUIRE_OK(t.gmultipath({"fail", t.name, md0}));
  t.check_multipath_state(md1, "DEGRADED", "FAIL", "ACTIVE");
  // Explicitly restore it
  REQUIRE_OK(t.gmultipath({"restore", t.name, md0}));
  t.check_multipath_state(md1, "OPTIMAL", "PASSIVE", "ACTIVE");
}

TEST_CASE("atf multipath:restore_on_error: a failed path is restored when all others error", "[cli][atf]") {
  Atf t;
  auto md0 = t.alloc_nop(0), md1 = t.alloc_nop(1);
  REQUIRE_OK(t.gmultipath({"create", t.name, md0, md1}));
  // Explicitly fail the first path
  REQUIRE_OK(t.gmultipath({"fail", t.name, md0}));
  // Setup the second path to fail on the next I/O
  t.nop(1).fail();
  {
    RunResult r = t.dd();
    INFO(r.describe());
    CHECK(r.exit_code() == 0);
  }
  // Now the first path should be active, and the second should be failed
  t.check_multipath_state(md0, "DEGRADED", "ACTIVE", "FAIL");
}

TEST_CASE("atf multipath:rotate: manually rotate the active path", "[cli][atf]") {
  Atf t;
  auto md0 = t.alloc_md(0), md1 = t.alloc_md(1), md2 = t.alloc_md(2);
  REQUIRE_OK(t.gmultipath({"create", t.name, md0, md1, md2}));
  t.check_multipath_state(md0, "OPTIMAL", "ACTIVE", "PASSIVE", "PASSIVE");
  // Explicitly rotate the paths.  FreeBSD's rotate walks its consumer list,
  // which is newest first, so there md0 -> md2 -> md1 -> md0.  mpathfs's
  // SPEC: rotate goes to the NEXT path in join order, md0 -> md1 -> md2 -> md0.
  REQUIRE_OK(t.gmultipath({"rotate", t.name}));
  t.check_multipath_state(md1, "OPTIMAL", "PASSIVE", "ACTIVE", "PASSIVE");
  // Again
  REQUIRE_OK(t.gmultipath({"rotate", t.name}));
  t.check_multipath_state(md2, "OPTIMAL", "PASSIVE", "PASSIVE", "ACTIVE");
  // Final rotation should restore original configuration
  REQUIRE_OK(t.gmultipath({"rotate", t.name}));
  t.check_multipath_state(md0, "OPTIMAL", "ACTIVE", "PASSIVE", "PASSIVE");
}

TEST_CASE("atf multipath:failloop: a persistent failure neither loops nor restores paths failed by the same I/O",
          "[cli][atf]") {
  Atf t;
  auto md0 = t.alloc_nop(0), md1 = t.alloc_nop(1);
  REQUIRE_OK(t.gmultipath({"create", t.name, md0, md1}));
  t.nop(0).fail();
  t.nop(1).fail();
  const std::string kRestore = "all paths were marked FAIL, restore";
  const size_t before = count_of(t.d->log(), kRestore);
  RunResult r = t.dd();
  INFO(r.describe());
  INFO(t.d->log());
  // The dd command should've failed ...
  CHECK(r.exit_code() == 1);
  // and triggered 1 or 2 path restores
  const size_t restores = count_of(t.d->log(), kRestore) - before;
  CHECK(restores >= 1);
  CHECK(restores <= 2);
  // (SPEC: the retry failed too, so the volume is BROKEN.)
  auto g = parse_list(t.gmultipath({"list", t.name}).output);
  REQUIRE(g.size() == 1);
  CHECK(g[0].fields.at("State") == "BROKEN");
}
