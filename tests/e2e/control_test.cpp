// The control files (SPEC.md "The mounted tree"): every verb changes
// `MNT/status` and `ctl/VOL/status.json` as the SPEC says; every refused
// write fails with its errno and leaves the state byte-identical.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "e2e/harness.hpp"

using namespace mpathfs::e2e;
using Strings = std::vector<std::string>;

namespace {

// An empty daemon and `n` same-size path files.
struct Fixture {
  TempDir tmp;
  Strings p = make_path_files(tmp, 6, 4 * MiB);
  std::string odd = make_pattern_file(tmp / "odd.img", 4 * MiB + 4096, 1);  // wrong size
  Daemon d{tmp, "none"};

  int create(const std::string& line) { return ctl_write(d.ctl("create"), line); }
  int verb(const std::string& vol, const std::string& file, const std::string& text) {
    return ctl_write(d.ctl(vol, file), text);
  }
  json st(const std::string& vol) { return d.status(vol); }
  // (path, state) pairs of `vol` as `cat MNT/status` shows them.
  std::vector<std::pair<std::string, std::string>> text_paths(const std::string& vol) {
    auto t = parse_status(d.status_text());
    auto v = t.find(vol);
    if (!v) throw std::runtime_error("volume " + vol + " not in status:\n" + d.status_text());
    return v->paths;
  }
  std::string text_state(const std::string& vol) {
    auto t = parse_status(d.status_text());
    auto v = t.find(vol);
    if (!v) throw std::runtime_error("volume " + vol + " not in status:\n" + d.status_text());
    return v->state;
  }
};

bool exists(const std::string& p) {
  struct stat st{};
  return ::stat(p.c_str(), &st) == 0;
}

// status.json and the text status agree on the states of every path.
void check_text_matches_json(Fixture& f, const std::string& vol) {
  json st = f.st(vol);
  auto tp = f.text_paths(vol);
  Strings names, states;
  for (auto& [n, s] : tp) {
    names.push_back(n);
    states.push_back(s);
  }
  CHECK(names == path_names(st));
  CHECK(states == path_states(st));
  CHECK(f.text_state(vol) == st.at("state").get<std::string>());
}

}  // namespace

TEST_CASE("control: create shows the volume in status with the SPEC's words and keys", "[control]") {
  Fixture f;
  auto& p = f.p;

  // Empty daemon: a header line and nothing else.
  auto t0 = parse_status(f.d.status_text());
  CHECK(t0.volumes.empty());
  CHECK(t0.header.find("Name") != std::string::npos);
  CHECK(t0.header.find("Status") != std::string::npos);
  CHECK(t0.header.find("Components") != std::string::npos);

  REQUIRE(f.create("vol0 " + p[0] + " " + p[1]) == 0);
  json st = f.st("vol0");
  INFO(st.dump());
  CHECK(st.at("name") == "vol0");
  CHECK(st.at("mode") == "active-passive");
  CHECK(st.at("state") == "OPTIMAL");
  CHECK(st.at("size") == 4 * MiB);
  CHECK(st.at("uuid").is_null());
  REQUIRE(st.at("paths").size() == 2);
  for (auto& e : st.at("paths"))
    for (const char* k : {"path", "state", "reads", "writes", "read_bytes", "write_bytes", "errors", "inflight",
                          "last_error"})
      CHECK(e.contains(k));
  CHECK(path_names(st) == Strings{p[0], p[1]});
  CHECK(path_states(st) == Strings{"ACTIVE", "PASSIVE"});
  check_text_matches_json(f, "vol0");

  // The volume file and its control directory.
  struct stat vs{};
  REQUIRE(::stat(f.d.vol("vol0").c_str(), &vs) == 0);
  CHECK(vs.st_size == static_cast<off_t>(4 * MiB));
  for (const char* c : {"add", "remove", "fail", "restore", "prefer", "rotate", "configure", "no_path_retry",
                        "status", "status.json"})
    CHECK(exists(f.d.ctl("vol0", c)));
  // The per-volume status text names the volume, mode and state.
  std::string vt = read_file(f.d.ctl("vol0", "status"));
  CHECK(vt.find("vol0") != std::string::npos);
  CHECK(vt.find("active-passive") != std::string::npos);
  CHECK(vt.find("OPTIMAL") != std::string::npos);
  CHECK(vt.find(p[0]) != std::string::npos);

  SECTION("-A: active-active, every path ACTIVE") {
    REQUIRE(f.create("aa -A " + p[2] + " " + p[3]) == 0);
    json a = f.st("aa");
    CHECK(a.at("mode") == "active-active");
    CHECK(a.at("state") == "OPTIMAL");
    CHECK(path_states(a) == Strings{"ACTIVE", "ACTIVE"});
    check_text_matches_json(f, "aa");
  }
  SECTION("-R: active-read, the first ACTIVE and the others READ") {
    REQUIRE(f.create("ar -R " + p[2] + " " + p[3] + " " + p[4]) == 0);
    json a = f.st("ar");
    CHECK(a.at("mode") == "active-read");
    CHECK(a.at("state") == "OPTIMAL");
    CHECK(path_states(a) == Strings{"ACTIVE", "READ", "READ"});
    check_text_matches_json(f, "ar");
  }
  SECTION("a single-path volume is DEGRADED (no redundancy)") {
    REQUIRE(f.create("one " + p[2]) == 0);
    json a = f.st("one");
    CHECK(a.at("state") == "DEGRADED");
    CHECK(path_states(a) == Strings{"ACTIVE"});
    CHECK(f.text_state("one") == "DEGRADED");
  }
  SECTION("status lists every volume, one line per path") {
    REQUIRE(f.create("vm1 -A " + p[2] + " " + p[3] + " " + p[4]) == 0);
    auto t = parse_status(f.d.status_text());
    REQUIRE(t.volumes.size() == 2);
    REQUIRE(t.find("vm1"));
    CHECK(t.find("vm1")->paths.size() == 3);
    CHECK(t.find("vol0")->paths.size() == 2);
  }
  SECTION("a trailing newline is allowed") {
    REQUIRE(f.create("nl " + p[2] + " " + p[3] + "\n") == 0);
    CHECK(path_names(f.st("nl")) == Strings{p[2], p[3]});
  }
}

TEST_CASE("control: fail and restore: failover to the next path in order, restore never moves ACTIVE",
          "[control]") {
  Fixture f;
  auto& p = f.p;
  REQUIRE(f.create("vol0 " + p[0] + " " + p[1] + " " + p[2]) == 0);
  REQUIRE(path_states(f.st("vol0")) == Strings{"ACTIVE", "PASSIVE", "PASSIVE"});

  REQUIRE(f.verb("vol0", "fail", p[0]) == 0);
  json st = f.st("vol0");
  CHECK(path_states(st) == Strings{"FAIL", "ACTIVE", "PASSIVE"});
  CHECK(st.at("state") == "DEGRADED");
  CHECK(path_names(st) == Strings{p[0], p[1], p[2]});  // a failed path stays listed, in place
  check_text_matches_json(f, "vol0");

  // Failing a path that already failed is a no-op (gmultipath).
  CHECK(f.verb("vol0", "fail", p[0] + "\n") == 0);
  CHECK(path_states(f.st("vol0")) == Strings{"FAIL", "ACTIVE", "PASSIVE"});

  REQUIRE(f.verb("vol0", "restore", p[0]) == 0);
  st = f.st("vol0");
  CHECK(path_states(st) == Strings{"PASSIVE", "ACTIVE", "PASSIVE"});
  CHECK(st.at("state") == "OPTIMAL");
  check_text_matches_json(f, "vol0");

  // The next working path after the ACTIVE one, wrapping around.
  REQUIRE(f.verb("vol0", "fail", p[1]) == 0);
  CHECK(path_states(f.st("vol0")) == Strings{"PASSIVE", "FAIL", "ACTIVE"});
  REQUIRE(f.verb("vol0", "fail", p[2]) == 0);
  CHECK(path_states(f.st("vol0")) == Strings{"ACTIVE", "FAIL", "FAIL"});
  CHECK(f.st("vol0").at("state") == "DEGRADED");
  REQUIRE(f.verb("vol0", "restore", p[1]) == 0);
  REQUIRE(f.verb("vol0", "restore", p[2]) == 0);
  CHECK(path_states(f.st("vol0")) == Strings{"ACTIVE", "PASSIVE", "PASSIVE"});
  CHECK(f.st("vol0").at("state") == "OPTIMAL");
  // Restoring a healthy path is a no-op.
  CHECK(f.verb("vol0", "restore", p[1]) == 0);
  CHECK(path_states(f.st("vol0")) == Strings{"ACTIVE", "PASSIVE", "PASSIVE"});

  SECTION("active-active: a failed path drops out, the others stay ACTIVE") {
    REQUIRE(f.create("aa -A " + p[3] + " " + p[4]) == 0);
    REQUIRE(f.verb("aa", "fail", p[3]) == 0);
    CHECK(path_states(f.st("aa")) == Strings{"FAIL", "ACTIVE"});
    CHECK(f.st("aa").at("state") == "DEGRADED");
    REQUIRE(f.verb("aa", "restore", p[3]) == 0);
    CHECK(path_states(f.st("aa")) == Strings{"ACTIVE", "ACTIVE"});
    CHECK(f.st("aa").at("state") == "OPTIMAL");
  }
  SECTION("active-read: failing the ACTIVE path makes the next one ACTIVE") {
    REQUIRE(f.create("ar -R " + p[3] + " " + p[4] + " " + p[5]) == 0);
    REQUIRE(f.verb("ar", "fail", p[3]) == 0);
    CHECK(path_states(f.st("ar")) == Strings{"FAIL", "ACTIVE", "READ"});
    REQUIRE(f.verb("ar", "restore", p[3]) == 0);
    CHECK(path_states(f.st("ar")) == Strings{"READ", "ACTIVE", "READ"});
  }
}

TEST_CASE("control: prefer and rotate move the ACTIVE path", "[control]") {
  Fixture f;
  auto& p = f.p;
  REQUIRE(f.create("vol0 " + p[0] + " " + p[1] + " " + p[2]) == 0);

  REQUIRE(f.verb("vol0", "prefer", p[2]) == 0);
  CHECK(path_states(f.st("vol0")) == Strings{"PASSIVE", "PASSIVE", "ACTIVE"});
  check_text_matches_json(f, "vol0");
  REQUIRE(f.verb("vol0", "rotate", "1") == 0);  // wraps around
  CHECK(path_states(f.st("vol0")) == Strings{"ACTIVE", "PASSIVE", "PASSIVE"});
  REQUIRE(f.verb("vol0", "rotate", "\n") == 0);
  CHECK(path_states(f.st("vol0")) == Strings{"PASSIVE", "ACTIVE", "PASSIVE"});
  // Path order never changes.
  CHECK(path_names(f.st("vol0")) == Strings{p[0], p[1], p[2]});

  // rotate skips a failed path.
  REQUIRE(f.verb("vol0", "fail", p[2]) == 0);
  CHECK(path_states(f.st("vol0")) == Strings{"PASSIVE", "ACTIVE", "FAIL"});
  REQUIRE(f.verb("vol0", "rotate", "x") == 0);
  CHECK(path_states(f.st("vol0")) == Strings{"ACTIVE", "PASSIVE", "FAIL"});
  // restore does not take ACTIVE back.
  REQUIRE(f.verb("vol0", "restore", p[2]) == 0);
  CHECK(path_states(f.st("vol0")) == Strings{"ACTIVE", "PASSIVE", "PASSIVE"});
  // prefer of a failed path is refused (gmultipath: "Consumer is invalid"); nothing changes.
  REQUIRE(f.verb("vol0", "fail", p[1]) == 0);
  std::string before = steady_status(f.d.ctl("vol0", "status.json"));
  int e = f.verb("vol0", "prefer", p[1]);
  CAPTURE(errno_name(e));
  CHECK(e != 0);
  CHECK(steady_status(f.d.ctl("vol0", "status.json")) == before);
}

TEST_CASE("control: add and remove keep join order", "[control]") {
  Fixture f;
  auto& p = f.p;
  REQUIRE(f.create("vol0 " + p[0] + " " + p[1]) == 0);

  REQUIRE(f.verb("vol0", "add", p[2] + "\n") == 0);
  json st = f.st("vol0");
  CHECK(path_names(st) == Strings{p[0], p[1], p[2]});
  CHECK(path_states(st) == Strings{"ACTIVE", "PASSIVE", "PASSIVE"});
  CHECK(st.at("size") == 4 * MiB);
  check_text_matches_json(f, "vol0");

  REQUIRE(f.verb("vol0", "remove", p[1]) == 0);
  CHECK(path_names(f.st("vol0")) == Strings{p[0], p[2]});
  // Removing the ACTIVE path: the next working path takes over.
  REQUIRE(f.verb("vol0", "remove", p[0]) == 0);
  st = f.st("vol0");
  CHECK(path_names(st) == Strings{p[2]});
  CHECK(path_states(st) == Strings{"ACTIVE"});
  CHECK(st.at("state") == "DEGRADED");
  // A re-added path goes to the end.
  REQUIRE(f.verb("vol0", "add", p[0]) == 0);
  CHECK(path_names(f.st("vol0")) == Strings{p[2], p[0]});
  CHECK(path_states(f.st("vol0")) == Strings{"ACTIVE", "PASSIVE"});
  CHECK(f.st("vol0").at("state") == "OPTIMAL");
  // A removed path is free for another volume.
  REQUIRE(f.create("other " + p[1]) == 0);
  check_text_matches_json(f, "vol0");

  SECTION("remove of a FAIL path") {
    REQUIRE(f.verb("vol0", "fail", p[0]) == 0);
    REQUIRE(f.verb("vol0", "remove", p[0]) == 0);
    CHECK(path_names(f.st("vol0")) == Strings{p[2]});
  }
  SECTION("remove of the last path is refused with EBUSY") {
    REQUIRE(f.verb("vol0", "remove", p[0]) == 0);
    std::string before = steady_status(f.d.ctl("vol0", "status.json"));
    CHECK(errno_name(f.verb("vol0", "remove", p[2])) == "EBUSY");
    CHECK(steady_status(f.d.ctl("vol0", "status.json")) == before);
    CHECK(exists(f.d.vol("vol0")));
  }
}

TEST_CASE("control: configure changes the mode", "[control]") {
  Fixture f;
  auto& p = f.p;
  REQUIRE(f.create("vol0 " + p[0] + " " + p[1] + " " + p[2]) == 0);

  REQUIRE(f.verb("vol0", "configure", "-A") == 0);
  json st = f.st("vol0");
  CHECK(st.at("mode") == "active-active");
  CHECK(path_states(st) == Strings{"ACTIVE", "ACTIVE", "ACTIVE"});
  check_text_matches_json(f, "vol0");

  REQUIRE(f.verb("vol0", "configure", "-R\n") == 0);
  st = f.st("vol0");
  CHECK(st.at("mode") == "active-read");
  {
    auto s = path_states(st);
    CHECK(std::count(s.begin(), s.end(), "ACTIVE") == 1);
    CHECK(std::count(s.begin(), s.end(), "READ") == 2);
  }

  REQUIRE(f.verb("vol0", "configure", "-P") == 0);
  st = f.st("vol0");
  CHECK(st.at("mode") == "active-passive");
  {
    auto s = path_states(st);
    CHECK(std::count(s.begin(), s.end(), "ACTIVE") == 1);
    CHECK(std::count(s.begin(), s.end(), "PASSIVE") == 2);
  }
  check_text_matches_json(f, "vol0");

  // A failed path stays FAIL across mode changes.
  REQUIRE(f.verb("vol0", "fail", p[1]) == 0);
  REQUIRE(f.verb("vol0", "configure", "-A") == 0);
  CHECK(path_states(f.st("vol0")) == Strings{"ACTIVE", "FAIL", "ACTIVE"});
  CHECK(f.st("vol0").at("state") == "DEGRADED");
}

TEST_CASE("control: destroy and stop", "[control]") {
  Fixture f;
  auto& p = f.p;
  const std::string verb = GENERATE(as<std::string>{}, "destroy", "stop");
  CAPTURE(verb);
  REQUIRE(f.create("vol0 " + p[0] + " " + p[1]) == 0);
  REQUIRE(f.create("keep " + p[2]) == 0);

  {
    Fd open_vol = open_fd(f.d.vol("vol0"), O_RDONLY);
    std::string before = f.d.status_text();
    CHECK(errno_name(ctl_write(f.d.ctl(verb), "vol0")) == "EBUSY");
    CHECK(f.d.status_text() == before);
    CHECK(exists(f.d.vol("vol0")));
  }
  REQUIRE(ctl_write(f.d.ctl(verb), "vol0\n") == 0);
  CHECK_FALSE(exists(f.d.vol("vol0")));
  CHECK_FALSE(exists(f.d.ctl("vol0", "status.json")));
  auto t = parse_status(f.d.status_text());
  CHECK(t.find("vol0") == nullptr);
  CHECK(t.find("keep") != nullptr);
  CHECK(errno_name(ctl_write(f.d.ctl(verb), "vol0")) == "ENOENT");
  // Its paths are free again: the name and the paths can be used at once.
  REQUIRE(f.create("vol0 " + p[1] + " " + p[0]) == 0);
  CHECK(path_names(f.st("vol0")) == Strings{p[1], p[0]});
}

TEST_CASE("control: refused writes fail with their errno and change nothing", "[control]") {
  Fixture f;
  auto& p = f.p;
  REQUIRE(f.create("vol0 " + p[0] + " " + p[1]) == 0);
  REQUIRE(f.create("vol1 " + p[2]) == 0);
  REQUIRE(f.create("vol2 -A " + p[3]) == 0);

  struct Case {
    std::string file;  // relative to MNT/ctl
    std::string text;
    std::vector<std::string> want;  // acceptable errno names
  };
  const std::string missing = f.tmp / "no-such.img";
  const std::string nul_garbage("\xff\x00\x01garbage\x7f", 11);
  std::vector<Case> cases = {
      // unknown paths
      {"vol0/add", missing, {"ENOENT"}},
      {"vol0/remove", p[4], {"ENOENT"}},
      {"vol0/fail", p[4], {"ENOENT"}},
      {"vol0/restore", p[4], {"ENOENT"}},
      {"vol0/prefer", p[4], {"ENOENT"}},
      {"vol0/remove", missing, {"ENOENT"}},
      // already there
      {"vol0/add", p[1], {"EEXIST"}},
      {"vol0/add", p[0] + "\n", {"EEXIST"}},
      // in use by another volume
      {"vol0/add", p[2], {"EBUSY", "EEXIST"}},
      // wrong size
      {"vol0/add", f.odd, {"EINVAL"}},
      // a path inside an mpathfs mount (this daemon's own volume file, right size)
      {"vol0/add", f.d.vol("vol2"), {"EINVAL"}},
      // garbage
      {"vol0/add", nul_garbage, {"EINVAL"}},
      // (A zero-length write() never reaches a FUSE file system: "\n" is the empty command.)
      {"vol0/add", "\n", {"EINVAL"}},
      {"vol0/add", "relative/path.img", {"EINVAL"}},
      {"vol0/add", p[4] + "\n" + p[5] + "\n", {"EINVAL"}},  // one path per write
      {"vol0/fail", nul_garbage, {"EINVAL"}},
      {"vol0/configure", "garbage", {"EINVAL"}},
      {"vol0/configure", "\n", {"EINVAL"}},
      {"vol0/configure", "-A -R", {"EINVAL"}},
      {"vol0/configure", nul_garbage, {"EINVAL"}},
      {"vol0/no_path_retry", "soon", {"EINVAL"}},
      {"vol0/no_path_retry", "-7", {"EINVAL"}},
      // the last path
      {"vol1/remove", p[2], {"EBUSY"}},
      // create: bad names, existing name, bad paths, no paths
      {"create", "abcdefghijklmnop " + p[4], {"EINVAL"}},  // 16 characters
      {"create", "bad/name " + p[4], {"EINVAL"}},
      {"create", "bad*name " + p[4], {"EINVAL"}},
      {"create", "vol0 " + p[4], {"EEXIST"}},
      {"create", "newvol " + missing, {"ENOENT"}},
      {"create", "newvol " + p[4] + " " + f.odd, {"EINVAL"}},
      {"create", "newvol " + p[4] + " " + missing, {"ENOENT"}},
      {"create", "newvol " + p[4] + " " + p[2], {"EBUSY", "EEXIST"}},
      {"create", "newvol " + p[4] + " " + p[4], {"EEXIST", "EINVAL"}},
      {"create", "newvol", {"EINVAL"}},
      {"create", "\n", {"EINVAL"}},
      {"create", "newvol -X " + p[4], {"EINVAL"}},
      {"create", nul_garbage, {"EINVAL"}},
      // destroy/stop of an unknown volume
      {"destroy", "nosuch", {"ENOENT"}},
      {"stop", "nosuch", {"ENOENT"}},
      {"destroy", "\n", {"EINVAL", "ENOENT"}},
      // the control files of a volume that does not exist
      {"nosuch/add", p[4], {"ENOENT"}},
      {"nosuch/fail", p[0], {"ENOENT"}},
  };

  auto snapshot = [&] {
    return f.d.status_text() + steady_status(f.d.ctl("vol0", "status.json")) +
           steady_status(f.d.ctl("vol1", "status.json")) + steady_status(f.d.ctl("vol2", "status.json")) +
           read_file(f.d.ctl("vol0", "no_path_retry"));
  };
  const std::string before = snapshot();
  for (auto& c : cases) {
    CAPTURE(c.file, c.text);
    int e = ctl_write(f.d.ctl(c.file), c.text);
    std::string got = errno_name(e);
    INFO("errno: " << got);
    CHECK(std::find(c.want.begin(), c.want.end(), got) != c.want.end());
    CHECK(snapshot() == before);
  }
  CHECK_FALSE(exists(f.d.vol("newvol")));
  CHECK(f.d.alive());
  // The paths of refused creates were not kept: they can be used now.
  CHECK(f.create("newvol " + p[4] + " " + p[5]) == 0);
}

TEST_CASE("control: a shell's `echo ... > ctl/...` works (O_TRUNC open)", "[control]") {
  Fixture f;
  auto& p = f.p;
  auto r = run({"sh", "-c", "echo 'vol0 " + p[0] + " " + p[1] + "' > " + f.d.ctl("create")});
  INFO(r.describe());
  REQUIRE(r.exit_code() == 0);
  r = run({"sh", "-c", "echo " + p[0] + " > " + f.d.ctl("vol0", "fail")});
  INFO(r.describe());
  CHECK(r.exit_code() == 0);
  CHECK(path_states(f.st("vol0")) == Strings{"FAIL", "ACTIVE"});
  // A refused write makes the shell fail too.
  r = run({"sh", "-c", "echo /nonexistent > " + f.d.ctl("vol0", "add")});
  CHECK(r.exit_code() != 0);
}

TEST_CASE("control: file modes: control 0200, status 0444, no_path_retry readable", "[control]") {
  Fixture f;
  REQUIRE(f.create("vol0 " + f.p[0] + " " + f.p[1]) == 0);
  auto mode = [](const std::string& path) {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) return -1;
    return static_cast<int>(st.st_mode & 07777);
  };
  CHECK(mode(f.d.mnt() + "/status") == 0444);
  for (const char* c : {"create", "destroy", "stop"}) {
    CAPTURE(c);
    CHECK(mode(f.d.ctl(c)) == 0200);
  }
  for (const char* c : {"add", "remove", "fail", "restore", "prefer", "rotate", "configure"}) {
    CAPTURE(c);
    CHECK(mode(f.d.ctl("vol0", c)) == 0200);
  }
  CHECK(mode(f.d.ctl("vol0", "status")) == 0444);
  CHECK(mode(f.d.ctl("vol0", "status.json")) == 0444);
  CHECK(mode(f.d.vol("vol0")) == 0600);

  // no_path_retry: read the value, write a new one.
  auto trim = [](std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  };
  CHECK(trim(read_file(f.d.ctl("vol0", "no_path_retry"))) == "0");
  REQUIRE(ctl_write(f.d.ctl("vol0", "no_path_retry"), "12\n") == 0);
  CHECK(trim(read_file(f.d.ctl("vol0", "no_path_retry"))) == "12");
  REQUIRE(ctl_write(f.d.ctl("vol0", "no_path_retry"), "-1") == 0);
  CHECK(trim(read_file(f.d.ctl("vol0", "no_path_retry"))) == "-1");
  REQUIRE(ctl_write(f.d.ctl("vol0", "no_path_retry"), "0") == 0);
  CHECK(trim(read_file(f.d.ctl("vol0", "no_path_retry"))) == "0");
}

TEST_CASE("control: a non-root user can read status and nothing else", "[control]") {
  TempDir tmp;
  ::chmod(tmp.path().c_str(), 0755);
  auto p = make_path_files(tmp, 2, 4 * MiB);
  Daemon d(tmp, write_config(tmp, quiet_options(), json::array({volume_spec("vol0", p)})), "allow_other");
  // As nobody (65534): status readable; volume and control files refused.
  auto as_nobody = [&](const std::string& cmd) {
    return run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", cmd});
  };
  auto r = as_nobody("cat " + d.mnt() + "/status");
  INFO(r.describe());
  CHECK(r.exit_code() == 0);
  CHECK(r.output.find("vol0") != std::string::npos);
  CHECK(as_nobody("cat " + d.ctl("vol0", "status.json")).exit_code() == 0);
  CHECK(as_nobody("head -c 1 " + d.vol("vol0") + " >/dev/null").exit_code() != 0);
  CHECK(as_nobody("echo " + p[0] + " > " + d.ctl("vol0", "fail")).exit_code() != 0);
  CHECK(as_nobody("echo vol9 " + p[0] + " > " + d.ctl("create")).exit_code() != 0);
  CHECK(path_states(d.status("vol0")) == Strings{"ACTIVE", "PASSIVE"});
}

TEST_CASE("control: create -l labels the volume, stop keeps the label, destroy erases it", "[control][label]") {
  // Two loop devices over one image: one disk, two paths, as label expects.
  TempDir tmp;
  std::string image = make_zero_file(tmp / "image", 4 * MiB);
  LoopDevice l0(image), l1(image);
  const Strings p = {l0.dev(), l1.dev()};
  const uint64_t kSector = 512;  // loop devices here: 512-byte logical sectors
  auto magic_on_disk = [&] {
    Bytes s = read_range(image, 4 * MiB - kSector, 16, false);
    return std::string(s.begin(), s.end()) == std::string("GEOM::MULTIPATH\0", 16);
  };
  std::string uuid;
  {
    Daemon d(tmp, "none");
    REQUIRE(ctl_write(d.ctl("create"), "lv -l " + p[0] + " " + p[1]) == 0);
    json st = d.status("lv");
    INFO(st.dump());
    CHECK(st.at("size") == 4 * MiB - kSector);  // the metadata sector is not part of the volume
    REQUIRE(st.at("uuid").is_string());
    uuid = st.at("uuid");
    CHECK(uuid.size() == 36);
    CHECK(file_size(d.vol("lv")) == 4 * MiB - kSector);
    // gmultipath's layout in the last sector (reference/gmultipath-notes.md).
    Bytes md = read_range(image, 4 * MiB - kSector, kSector, false);
    CHECK(std::string(md.begin(), md.begin() + 16) == std::string("GEOM::MULTIPATH\0", 16));
    CHECK(std::string(reinterpret_cast<const char*>(md.data()) + 16) == uuid);
    CHECK(std::string(reinterpret_cast<const char*>(md.data()) + 56) == "lv");
    CHECK(md[72] == 1);
    CHECK(md[88] == 0);  // active-passive
    // The metadata is never reachable through the volume file.
    Fd f = open_fd(d.vol("lv"), O_RDWR);
    Bytes junk(kSector, 0xAB);
    errno = 0;
    CHECK(::pwrite(f.get(), junk.data(), kSector, 4 * MiB - kSector) == -1);
    CHECK(errno_name(errno) == "ENOSPC");
    f.close();
    CHECK(magic_on_disk());
    REQUIRE(ctl_write(d.ctl("stop"), "lv") == 0);
    CHECK(magic_on_disk());  // stop keeps it
  }
  {
    // A config that scans the two devices assembles the volume by UUID.
    std::string cfg = tmp / "scan.json";
    write_text_file(cfg, json{{"options", quiet_options()}, {"volumes", json::array()}, {"scan", p}}.dump());
    Daemon d(tmp, cfg);
    json st = d.status("lv");
    INFO(st.dump());
    CHECK(st.at("uuid") == uuid);
    CHECK(path_names(st).size() == 2);
    CHECK(st.at("state") == "OPTIMAL");
    REQUIRE(ctl_write(d.ctl("destroy"), "lv") == 0);
    CHECK_FALSE(magic_on_disk());  // destroy erases it, as gmultipath does
  }
}
