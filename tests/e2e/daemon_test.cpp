// Starting and stopping the daemon (SPEC.md "Starting it"): clear start-up
// errors, daemonizing only once the mount is ready, clean exits on SIGTERM,
// SIGINT and unmount.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e/harness.hpp"

using namespace mpathfs::e2e;
using Strings = std::vector<std::string>;

namespace {

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

struct BadConfig {
  std::string what;
  std::string config;          // file contents
  Strings must_name;           // words the message must contain (besides the file name)
};

std::vector<BadConfig> bad_configs(const TempDir& tmp) {
  auto p = make_path_files(tmp, 2, 4 * MiB);
  std::string odd = make_pattern_file(tmp / "odd.img", 8 * MiB, 1);
  std::string missing = tmp / "missing.img";
  auto cfg = [](const json& vols) { return json{{"options", quiet_options()}, {"volumes", vols}}.dump(); };
  return {
      {"not JSON", "{\"volumes\": [ {\"name\": \"vol0\", ", {}},
      {"missing path", cfg(json::array({volume_spec("vol0", {p[0], missing})})), {"vol0", missing}},
      {"mixed sizes", cfg(json::array({volume_spec("vol0", {p[0], odd})})), {"vol0", odd}},
      {"bad volume name", cfg(json::array({volume_spec("much-too-long-name", {p[0]})})), {"much-too-long-name"}},
      {"unknown mode", cfg(json::array({volume_spec("vol0", {p[0]}, "round-robin")})), {"vol0", "mode"}},
      {"no paths", cfg(json::array({volume_spec("vol0", {})})), {"vol0"}},
  };
}

}  // namespace

TEST_CASE("daemon: a bad config stops the start with a message naming the file, the volume and the fault",
          "[daemon]") {
  TempDir tmp;
  const bool foreground = GENERATE(true, false);
  for (auto& c : bad_configs(tmp)) {
    CAPTURE(c.what, foreground);
    std::string file = tmp / "bad.json";
    write_text_file(file, c.config);
    std::string mnt = tmp.mkdir("mnt");
    Strings argv = {MPATHFS_BIN};
    if (foreground) argv.push_back("-f");
    argv.insert(argv.end(), {file, mnt});
    RunResult r = run(argv, 15);
    INFO(r.describe());
    if (r.exit_code() == 0 || r.timed_out) {
      // It started: clean up whatever it mounted before failing the check.
      unmount(mnt);
      if (pid_t pid = find_daemon_pid(mnt); pid > 0) ::kill(pid, SIGTERM);
    }
    CHECK(r.exited());
    CHECK(r.exit_code() != 0);
    CHECK(contains(r.output, file));
    for (auto& w : c.must_name) CHECK(contains(r.output, w));
    CHECK_FALSE(is_mountpoint(mnt));
  }
}

TEST_CASE("daemon: a missing config file or mount point fails with a message", "[daemon]") {
  TempDir tmp;
  std::string mnt = tmp.mkdir("mnt");
  RunResult r = run({MPATHFS_BIN, "-f", tmp / "nosuch.json", mnt}, 15);
  INFO(r.describe());
  CHECK(r.exit_code() > 0);
  CHECK(contains(r.output, "nosuch.json"));
  CHECK_FALSE(is_mountpoint(mnt));

  r = run({MPATHFS_BIN, "-f", "none", tmp / "no-such-dir"}, 15);
  INFO(r.describe());
  CHECK(r.exit_code() > 0);
  CHECK(contains(r.output, "no-such-dir"));
}

TEST_CASE("daemon: without -f it returns only once the mount is usable", "[daemon]") {
  TempDir tmp;
  auto p = make_path_files(tmp, 2, 4 * MiB, 6);
  std::string cfg = write_config(tmp, quiet_options(), json::array({volume_spec("vol0", p)}));
  std::string mnt = tmp.mkdir("mnt");
  StartResult s = start_daemonizing(cfg, mnt, "log=" + (tmp / "daemon.log"));
  // Adopt it at once so it is stopped whatever happens below.
  auto d = Daemon::adopt(tmp, mnt, s.daemon_pid, tmp / "daemon.log");
  INFO(s.run.describe());
  REQUIRE(s.run.exit_code() == 0);
  CHECK(s.daemon_pid > 0);
  // No waiting: usable the moment the command returned.
  CHECK(is_mountpoint(mnt));
  struct stat st{};
  CHECK(::stat((mnt + "/vol0").c_str(), &st) == 0);
  CHECK(parse_status(read_file(mnt + "/status")).find("vol0") != nullptr);
  CHECK(read_range(mnt + "/vol0", 0, 4096) == pattern(6, 0, 4096));

  // umount stops it cleanly.
  unmount(mnt);
  CHECK(wait_gone(s.daemon_pid, 5));
}

TEST_CASE("daemon: SIGTERM and SIGINT flush, unmount and exit 0", "[daemon]") {
  const int sig = GENERATE(SIGTERM, SIGINT);
  CAPTURE(sig);
  TempDir tmp;
  auto p = make_path_files(tmp, 2, 4 * MiB, 6);
  Daemon d(tmp, write_config(tmp, quiet_options(), json::array({volume_spec("vol0", p)})));
  Bytes data = pattern(60, 4096, 8192);
  {
    Fd f = open_fd(d.vol("vol0"), O_RDWR);
    REQUIRE(pwrite_all(f.get(), data.data(), data.size(), 4096) == 0);
    // No fsync: the daemon flushes on the way out.
  }
  int st = d.signal_and_wait(sig, 10);
  CHECK(st != -1);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  CHECK_FALSE(is_mountpoint(d.mnt()));
  CHECK(read_range(p[0], 4096, 8192) == data);
}

TEST_CASE("daemon: unmounting stops the daemon with exit 0", "[daemon]") {
  TempDir tmp;
  auto p = make_path_files(tmp, 1, 4 * MiB);
  Daemon d(tmp, write_config(tmp, quiet_options(), json::array({volume_spec("vol0", p)})));
  pid_t pid = d.pid();
  RunResult r = run({"fusermount3", "-u", d.mnt()});
  INFO(r.describe());
  REQUIRE(r.exit_code() == 0);
  int st = 0;
  CHECK(wait_child(pid, 5, &st));
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
}

TEST_CASE("daemon: 'none' starts empty and create works", "[daemon]") {
  TempDir tmp;
  auto p = make_path_files(tmp, 2, 4 * MiB, 8);
  Daemon d(tmp, "none");
  auto t = parse_status(d.status_text());
  CHECK(t.volumes.empty());
  struct stat st{};
  CHECK(::stat(d.ctl("create").c_str(), &st) == 0);
  CHECK(::stat(d.ctl("destroy").c_str(), &st) == 0);
  CHECK(::stat(d.ctl("stop").c_str(), &st) == 0);

  REQUIRE(ctl_write(d.ctl("create"), "vol0 -A " + p[0] + " " + p[1]) == 0);
  CHECK(read_range(d.vol("vol0"), 0, 65536) == pattern(8, 0, 65536));
  CHECK(d.status("vol0").at("mode") == "active-active");
}

TEST_CASE("daemon: -o options reach the daemon", "[daemon]") {
  TempDir tmp;
  auto p = make_path_files(tmp, 2, 4 * MiB);
  Daemon d(tmp, write_config(tmp, json::object(), json::array({volume_spec("vol0", p)})),
           "workers=3,check_interval=2,io_timeout=3,no_path_retry=7,failback=immediate");
  std::string v = read_file(d.ctl("vol0", "no_path_retry"));
  CHECK(v.substr(0, v.find_first_of(" \n")) == "7");

  SECTION("an unknown option is refused with a message") {
    std::string mnt = tmp.mkdir("mnt2");
    RunResult r = run({MPATHFS_BIN, "-f", "-o", "no_such_option=1", "none", mnt}, 15);
    INFO(r.describe());
    if (r.exit_code() == 0) unmount(mnt);
    CHECK(r.exit_code() != 0);
    CHECK(contains(r.output, "no_such_option"));
    CHECK_FALSE(is_mountpoint(mnt));
  }
  SECTION("options mount(8) and systemd add are accepted") {
    std::string mnt = tmp.mkdir("mnt3");
    Daemon d2(tmp, Daemon::Options{"none", "_netdev,nofail,noauto,x-systemd.automount,defaults", {}, mnt, 10});
    CHECK(is_mountpoint(mnt));
  }
}
