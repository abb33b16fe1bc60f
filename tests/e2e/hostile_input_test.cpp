// Untrusted input end to end (issue 12, items 5, 7 and 8): configs of the
// wrong JSON type or with numbers out of range stop the start with a
// message (never an abort); a path with a blank can be failed and restored
// through ctl/ and the command line; names the tree uses itself are refused;
// paths and labels that are not UTF-8, or carry terminal escapes, never
// break status.json, `mpathfs list` or `mpathfs dump`.
#include <catch2/catch.hpp>

#include <fcntl.h>

#include <cerrno>
#include <cstddef>
#include <vector>

#include "core/metadata.hpp"
#include "e2e/command_checks.hpp"
#include "e2e/harness.hpp"

#ifndef MPATHFS_BIN
#define MPATHFS_BIN "mpathfs"
#endif

using namespace mpathfs::e2e;
using Strings = std::vector<std::string>;
using Catch::Matchers::Contains;

namespace {

constexpr uint64_t kSize = 4 * MiB;

// Starts `mpathfs -f [-o opts] SOURCE MNT` expecting a refusal: it must exit
// 1 by itself (no signal, no abort) and say `needles`.  A start that
// mounts after all is unmounted before the checks fail.
void check_refused_start(const TempDir& tmp, const std::string& source, const std::string& opts,
                         const Strings& needles) {
  const std::string mnt = tmp.mkdir("mnt-refused");
  Strings argv{MPATHFS_BIN, "-f"};
  if (!opts.empty()) argv.insert(argv.end(), {"-o", opts});
  argv.insert(argv.end(), {source, mnt});
  RunResult r = run(argv, 15);
  if (is_mountpoint(mnt)) unmount(mnt);
  INFO(r.describe());
  REQUIRE(r.exited());  // not killed by SIGABRT (an uncaught nlohmann exception)
  CHECK(r.exit_code() == 1);
  for (auto& n : needles) CHECK_THAT(r.output, Contains(n));
}

bool has_raw_control(const std::string& s) {
  for (unsigned char c : s)
    if ((c < 0x20 && c != '\n') || c == 0x7f) return true;
  return false;
}

// A file of kSize bytes whose last sector holds gmultipath metadata with
// the given (hostile) name and UUID.
std::string labeled_file(const std::string& path, const std::string& name, const std::string& uuid) {
  make_zero_file(path, kSize);
  mpathfs::Metadata md;
  md.name = name;
  md.uuid = uuid;
  md.sector_size = 512;
  md.size = kSize;
  std::vector<std::byte> sector(512);
  if (!mpathfs::encode_metadata(md, sector)) throw std::runtime_error("encode_metadata refused the test label");
  Fd f = open_fd(path, O_WRONLY);
  if (pwrite_all(f.get(), sector.data(), sector.size(), kSize - 512) != 0) throw std::runtime_error("write label");
  return path;
}

}  // namespace

TEST_CASE("hostile input: a config key of the wrong JSON type stops the start with a message", "[hostile][config]") {
  TempDir tmp;
  auto p = make_path_files(tmp, 1, kSize);
  for (const char* v : {"null", "{}", "[1]"}) {
    INFO("file_mode: " << v);
    json vol = volume_spec("vol0", p);
    vol["file_mode"] = json::parse(v);
    const std::string cfg = write_config(tmp, quiet_options(), json::array({vol}));
    check_refused_start(tmp, cfg, "", {cfg, "volume vol0", "file_mode", "expected"});
  }
  json opts = quiet_options();
  opts["io_timeout"] = nullptr;
  const std::string cfg = write_config(tmp, opts, json::array({volume_spec("vol0", p)}));
  check_refused_start(tmp, cfg, "", {cfg, "options", "io_timeout", "got null"});
}

TEST_CASE("hostile input: numbers out of range are refused naming the key and the range", "[hostile][ranges]") {
  TempDir tmp;
  check_refused_start(tmp, "none", "io_timeout=1e300", {"io_timeout", "0.1..86400"});
  check_refused_start(tmp, "none", "check_interval=1e300", {"check_interval", "0.1..3600"});
  check_refused_start(tmp, "none", "check_interval=1e-300", {"check_interval", "0.1..3600"});
  auto p = make_path_files(tmp, 1, kSize);
  json vol = volume_spec("vol0", p);
  vol["no_path_retry"] = 4294967296ull;  // wrapped to 0 before
  const std::string cfg = write_config(tmp, quiet_options(), json::array({vol}));
  check_refused_start(tmp, cfg, "", {cfg, "volume vol0", "no_path_retry", "-1..31536000"});

  // The control file too: refused, and the value stays.
  Daemon d(tmp, write_config(tmp, quiet_options(), json::array({volume_spec("vol0", p)}), "ok.json"));
  CHECK(ctl_write(d.ctl("vol0", "no_path_retry"), "4294967296\n") == EINVAL);
  CHECK(ctl_write(d.ctl("vol0", "no_path_retry"), "31536001\n") == EINVAL);
  CHECK(d.status("vol0").at("no_path_retry") == 0);
  CHECK(ctl_write(d.ctl("vol0", "no_path_retry"), "31536000\n") == 0);
  CHECK(d.status("vol0").at("no_path_retry") == 31536000);
}

TEST_CASE("hostile input: a path with a blank can be failed and restored", "[hostile][blank]") {
  TempDir tmp;
  const std::string a = make_pattern_file(tmp / "my disk a.img", kSize, 3);
  const std::string b = make_pattern_file(tmp / "my disk b.img", kSize, 3);
  const std::string ea = tmp / "my\\040disk\\040a.img", eb = tmp / "my\\040disk\\040b.img";
  Daemon d(tmp, write_config(tmp, quiet_options(), json::array({volume_spec("vol0", {a, b})})));

  // What status shows is what ctl/ takes.
  CHECK_THAT(d.status_text(), Contains(eb + " (PASSIVE)"));
  REQUIRE(path_state(d.status("vol0"), eb) == "PASSIVE");
  REQUIRE(ctl_write(d.ctl("vol0", "fail"), eb + "\n") == 0);
  CHECK(path_state(d.status("vol0"), eb) == "FAIL");
  REQUIRE(ctl_write(d.ctl("vol0", "restore"), eb + "\n") == 0);
  CHECK(path_state(d.status("vol0"), eb) == "PASSIVE");
  // The unescaped name is two words: refused, nothing changes.
  CHECK(ctl_write(d.ctl("vol0", "fail"), b + "\n") == EINVAL);
  CHECK(path_state(d.status("vol0"), eb) == "PASSIVE");

  // The command line takes the plain name and escapes it.
  REQUIRE_OK(mp(d.mnt(), {"fail", "vol0", a}));
  CHECK(path_state(d.status("vol0"), ea) == "FAIL");
  CHECK(path_state(d.status("vol0"), eb) == "ACTIVE");
  REQUIRE_OK(mp(d.mnt(), {"restore", "vol0", a}));
  REQUIRE_OK(mp(d.mnt(), {"prefer", "vol0", a}));
  CHECK(path_state(d.status("vol0"), ea) == "ACTIVE");
  RunResult ls = mp(d.mnt(), {"list", "vol0"});
  CHECK(ls.exit_code() == 0);
  CHECK_THAT(ls.output, Contains("Name: " + ea));
  REQUIRE_OK(mp(d.mnt(), {"remove", "vol0", b}));
  CHECK(path_names(d.status("vol0")) == Strings{ea});
  REQUIRE_OK(mp(d.mnt(), {"add", "vol0", b}));
  CHECK(path_names(d.status("vol0")) == (Strings{ea, eb}));
}

TEST_CASE("hostile input: names the tree uses itself are refused by create", "[hostile][names]") {
  TempDir tmp;
  auto p = make_path_files(tmp, 1, kSize);
  Daemon d(tmp, "none");
  for (const char* n : {"create", "destroy", "stop", "rescan", "-", "status", "ctl", "metrics"}) {
    INFO(n);
    CHECK(ctl_write(d.ctl("create"), std::string(n) + " " + p[0] + "\n") == EINVAL);
    RunResult r = mp(d.mnt(), {"create", n, p[0]});
    INFO(r.describe());
    CHECK(r.exit_code() == 1);
  }
  CHECK(parse_status(d.status_text()).volumes.empty());  // nothing was created
  // A usable name goes through: the refusals above were for the name.
  CHECK(ctl_write(d.ctl("create"), "vol0 " + p[0] + "\n") == 0);
}

TEST_CASE("hostile input: a path that is not UTF-8 keeps status.json and list working", "[hostile][utf8]") {
  TempDir tmp;
  const std::string raw = make_pattern_file(tmp / "bad\xff\xfe.img", kSize, 5);
  const std::string shown = tmp / "bad\\377\\376.img";
  const std::string ok = make_pattern_file(tmp / "ok.img", kSize, 5);
  Daemon d(tmp, "none");
  REQUIRE(ctl_write(d.ctl("create"), "nu " + raw + " " + ok + "\n") == 0);  // a legal file name
  json st = d.status("nu");  // throws when it does not parse
  CHECK(path_names(st) == Strings{shown, ok});
  CHECK_THAT(d.status_text(), Contains(shown + " (ACTIVE)"));
  RunResult ls = mp(d.mnt(), {"list"});
  CHECK(ls.exit_code() == 0);
  CHECK_THAT(ls.output, Contains("Name: " + shown));
  RunResult s = mp(d.mnt(), {"status"});
  CHECK(s.exit_code() == 0);
  CHECK_THAT(s.output, Contains("nu"));
  // What status shows, written back, names the same path.
  CHECK(ctl_write(d.ctl("nu", "fail"), shown + "\n") == 0);
  CHECK(path_state(d.status("nu"), shown) == "FAIL");
  // A new path with a terminal escape in its name is refused.
  make_pattern_file(tmp / "e\x1b[2J.img", kSize, 5);
  CHECK(ctl_write(d.ctl("create"), "esc " + tmp.path() + "/e\\033[2J.img\n") == EINVAL);
  CHECK(ctl_write(d.ctl("nu", "add"), tmp.path() + "/e\\033[2J.img\n") == EINVAL);
  CHECK_FALSE(has_raw_control(d.status_text()));
}

TEST_CASE("hostile input: a label whose name and UUID are not UTF-8", "[hostile][utf8][label]") {
  TempDir tmp;
  const std::string img =
      labeled_file(tmp / "lab.img", "\x1b[2J\xff", "\xff\xfe\x1b]0;owned\x07-uuid");
  const std::string shown_uuid = "\\377\\376\\033]0;owned\\007-uuid";

  RunResult j = mp_raw({"dump", "--json", img});
  INFO(j.describe());
  REQUIRE(j.exited());
  CHECK(j.exit_code() == 0);
  json dj;
  REQUIRE_NOTHROW(dj = json::parse(j.output));
  REQUIRE(dj.size() == 1);
  CHECK(dj[0].at("name") == "\\033[2J\\377");
  CHECK(dj[0].at("uuid") == shown_uuid);
  RunResult t = mp_raw({"dump", img});
  CHECK(t.exit_code() == 0);
  CHECK_FALSE(has_raw_control(t.output));
  CHECK_THAT(t.output, Contains("Name: \\033[2J\\377"));

  // Scan assembles it (under a usable name); status and list keep working.
  json cfg{{"options", quiet_options()}, {"scan", json::array({img})}};
  write_text_file(tmp / "scan.json", cfg.dump());
  Daemon d(tmp, tmp / "scan.json");
  RunResult ls = mp(d.mnt(), {"list"});
  INFO(ls.describe() << "\n" << d.log());
  CHECK(ls.exit_code() == 0);
  CHECK_THAT(ls.output, Contains("UUID: " + shown_uuid));
  CHECK_FALSE(has_raw_control(ls.output));
  CHECK_FALSE(has_raw_control(d.status_text()));
  CHECK(mp(d.mnt(), {"status"}).exit_code() == 0);
}
