// Daemon options and the JSON config (src/core/config.cpp): SPEC "Starting it".
#include <catch2/catch.hpp>

#include <filesystem>
#include <unistd.h>

#include <fstream>

#include "core/config.hpp"

using namespace mpathfs;

namespace {

const char* kSpecExample = R"({ "options": {"workers": 8, "check_interval": 5, "no_path_retry": 0, "failback": "manual"},
  "volumes": [ {"name": "vol0", "mode": "active-active", "paths": ["/dev/sdb", "/dev/sdc"]},
               {"name": "vm1", "paths": ["/srv/a/vm1.img", "/srv/b/vm1.img"]} ],
  "scan": ["/dev/disk/by-id/*"] })";

// parse_config must fail with EINVAL and a message holding every needle.
void check_config_error(const std::string& json, std::initializer_list<std::string> needles) {
  auto r = parse_config(json, "/etc/mpathfs/test.json");
  INFO("config: " << json);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == EINVAL);
  INFO("message: " << r.error().msg);
  CHECK(r.error().msg.find("/etc/mpathfs/test.json") != std::string::npos);
  for (auto& n : needles) {
    INFO("needle: " << n);
    CHECK(r.error().msg.find(n) != std::string::npos);
  }
}

std::string one_volume(const std::string& fields) {
  return R"({"volumes": [ {"name": "vol0", "paths": ["/a", "/b"]}, {)" + fields + "} ]}";
}

}  // namespace

TEST_CASE("SPEC's config example parses", "[config]") {
  auto r = parse_config(kSpecExample, "spec.json");
  REQUIRE(r);
  auto& c = *r;
  CHECK(c.options.workers == 8);
  CHECK(c.options.check_interval == 5);
  CHECK(c.options.no_path_retry == 0);
  CHECK(c.options.failback == Failback::kManual);
  CHECK(c.options.scan == std::vector<std::string>{"/dev/disk/by-id/*"});
  REQUIRE(c.volumes.size() == 2);
  CHECK(c.volumes[0].name == "vol0");
  CHECK(c.volumes[0].mode == Mode::kActiveActive);
  CHECK(c.volumes[0].paths == std::vector<std::string>{"/dev/sdb", "/dev/sdc"});
  CHECK(c.volumes[1].name == "vm1");
  CHECK_FALSE(c.volumes[1].mode);  // default decided at create (metadata or active-passive)
  CHECK(c.volumes[1].paths == std::vector<std::string>{"/srv/a/vm1.img", "/srv/b/vm1.img"});
  CHECK_FALSE(c.volumes[1].label);
}

TEST_CASE("the shipped example config loads", "[config]") {
  auto file = std::filesystem::path(__FILE__).parent_path() / ".." / ".." / "config" / "mpathfs.example.json";
  if (!std::filesystem::exists(file)) {
    WARN("no " << file << ": skipped");
    return;
  }
  auto r = load_config(file.string());
  INFO((r ? std::string() : r.error().describe()));
  REQUIRE(r);
  CHECK_FALSE(r->volumes.empty());
}

TEST_CASE("per-volume keys", "[config]") {
  auto r = parse_config(R"({"volumes": [{"name": "v1", "mode": "active-read", "paths": ["/a"],
      "no_path_retry": -1, "io_timeout": 2.5, "file_mode": "0640", "uid": 1000, "gid": 1001, "label": true}]})",
                        "f.json");
  REQUIRE(r);
  auto& v = r->volumes.at(0);
  CHECK(v.mode == Mode::kActiveRead);
  CHECK(v.no_path_retry == -1);
  CHECK(v.io_timeout == 2.5);
  CHECK(v.file_mode == 0640u);
  CHECK(v.uid == 1000u);
  CHECK(v.gid == 1001u);
  CHECK(v.label);
}

TEST_CASE("an empty config and no volumes are fine", "[config]") {
  auto r = parse_config("{}", "f.json");
  REQUIRE(r);
  CHECK(r->volumes.empty());
  r = parse_config(R"({"volumes": []})", "f.json");
  REQUIRE(r);
}

TEST_CASE("config errors name the file, the volume and the fault", "[config][errors]") {
  check_config_error("{ \"volumes\": [ ", {"JSON"});
  check_config_error("not json", {"JSON"});
  check_config_error("[]", {});
  check_config_error(R"({"volume": []})", {"volume"});  // unknown top-level key
  check_config_error(R"({"volumes": {}})", {"volumes"});
  check_config_error(one_volume(R"("name": "vm1", "paths": ["/c"], "colour": "red")"), {"vm1", "colour"});
  check_config_error(one_volume(R"("name": "this-name-is-too-long", "paths": ["/c"])"), {"this-name-is-too-long"});
  check_config_error(one_volume(R"("name": "a/b", "paths": ["/c"])"), {"a/b"});
  check_config_error(one_volume(R"("name": "vm1")"), {"vm1", "paths"});
  check_config_error(one_volume(R"("name": "vm1", "paths": [])"), {"vm1", "paths"});
  check_config_error(one_volume(R"("name": "vm1", "paths": "/c")"), {"vm1", "paths"});
  check_config_error(one_volume(R"("name": "vm1", "paths": [""])"), {"vm1", "paths"});
  check_config_error(one_volume(R"("name": "vm1", "paths": [1])"), {"vm1", "paths"});
  check_config_error(one_volume(R"("name": "vm1", "paths": ["/c"], "mode": "fast")"), {"vm1", "mode"});
  check_config_error(one_volume(R"("name": "vm1", "paths": ["/c"], "mode": 1)"), {"vm1", "mode"});
  check_config_error(one_volume(R"("name": "vm1", "paths": ["/c"], "no_path_retry": -2)"), {"vm1", "no_path_retry"});
  check_config_error(one_volume(R"("name": "vm1", "paths": ["/c"], "no_path_retry": 1.5)"), {"vm1", "no_path_retry"});
  check_config_error(one_volume(R"("name": "vm1", "paths": ["/c"], "io_timeout": 0)"), {"vm1", "io_timeout"});
  check_config_error(one_volume(R"("name": "vm1", "paths": ["/c"], "file_mode": "0999")"), {"vm1", "file_mode"});
  check_config_error(one_volume(R"("name": "vm1", "paths": ["/c"], "uid": -1)"), {"vm1", "uid"});
  check_config_error(one_volume(R"("name": "vm1", "paths": ["/c"], "label": "yes")"), {"vm1", "label"});
  check_config_error(one_volume(R"("name": "vol0", "paths": ["/c"])"), {"vol0", "twice"});  // duplicate
  check_config_error(one_volume(R"("paths": ["/c"])"), {"volumes[1]", "name"});
  check_config_error(R"({"volumes": [42]})", {"volumes[0]"});
  check_config_error(R"({"options": {"workers": "many"}})", {"workers"});
  check_config_error(R"({"options": {"nosuch": 1}})", {"nosuch"});
  check_config_error(R"({"options": {"workers": [1]}})", {"workers"});
  check_config_error(R"({"options": []})", {"options"});
  check_config_error(R"({"scan": "/dev/sd*"})", {"scan"});
  check_config_error(R"({"scan": [1]})", {"scan"});
}

TEST_CASE("a uid/gid beyond 32 bits is refused, not truncated to root", "[config][errors]") {
  // 4294967296 = 2^32: get<uint32_t>() wraps it to 0 (root).
  auto r = parse_config(one_volume(R"("name": "vm1", "paths": ["/c"], "uid": 4294967296)"), "f.json");
  CHECK_FALSE(r);
  if (r) CHECK(r->volumes.at(1).uid != 0u);
}

TEST_CASE("config options map onto daemon options", "[config][options]") {
  auto r = parse_config(R"({"options": {"workers": 4, "check_interval": 0.5, "io_timeout": 3, "no_path_retry": -1,
      "failback": "immediate", "log": "stderr", "file_mode": "0644", "direct": false, "exclusive": false,
      "allow_other": true, "ro": false}})",
                        "f.json");
  INFO((r ? std::string() : r.error().msg));
  REQUIRE(r);
  auto& o = r->options;
  CHECK(o.workers == 4);
  CHECK(o.check_interval == 0.5);
  CHECK(o.io_timeout == 3);
  CHECK(o.no_path_retry == -1);
  CHECK(o.failback == Failback::kImmediate);
  CHECK(o.log == "stderr");
  CHECK(o.file_mode == 0644u);
  CHECK_FALSE(o.direct);
  CHECK_FALSE(o.exclusive);
  CHECK(o.allow_other);
  CHECK_FALSE(o.read_only);
}

TEST_CASE("load_config of a missing file fails naming it", "[config]") {
  auto r = load_config("/nonexistent/dir/mpathfs.json");
  REQUIRE_FALSE(r);
  CHECK(r.error().msg.find("/nonexistent/dir/mpathfs.json") != std::string::npos);
}

TEST_CASE("apply_option: every mpathfs option", "[config][options]") {
  DaemonOptions o;
  CHECK(apply_option(o, "workers=3"));
  CHECK(o.workers == 3);
  CHECK(apply_option(o, "check_interval=2.5"));
  CHECK(o.check_interval == 2.5);
  CHECK(apply_option(o, "io_timeout=7"));
  CHECK(o.io_timeout == 7);
  CHECK(apply_option(o, "no_path_retry=-1"));
  CHECK(o.no_path_retry == -1);
  CHECK(apply_option(o, "no_path_retry=30"));
  CHECK(o.no_path_retry == 30);
  CHECK(apply_option(o, "failback=immediate"));
  CHECK(o.failback == Failback::kImmediate);
  CHECK(apply_option(o, "failback=manual"));
  CHECK(o.failback == Failback::kManual);
  CHECK(apply_option(o, "log=syslog"));
  CHECK(o.log == "syslog");
  CHECK(apply_option(o, "log=/var/log/mpathfs.log"));
  CHECK(o.log == "/var/log/mpathfs.log");
  CHECK(apply_option(o, "scan=/dev/disk/by-id/*"));
  CHECK(o.scan == std::vector<std::string>{"/dev/disk/by-id/*"});
  CHECK(apply_option(o, "file_mode=0660"));
  CHECK(o.file_mode == 0660u);
  CHECK(apply_option(o, "direct=off"));
  CHECK_FALSE(o.direct);
  CHECK(apply_option(o, "direct=on"));
  CHECK(o.direct);
  CHECK(apply_option(o, "exclusive=off"));
  CHECK_FALSE(o.exclusive);
  CHECK(apply_option(o, "ro"));
  CHECK(o.read_only);
  CHECK(apply_option(o, "allow_other"));
  CHECK(o.allow_other);
}

TEST_CASE("apply_option: bad values are EINVAL naming the option", "[config][options]") {
  const char* bad[] = {"workers=0",          "workers=65",      "workers=x",        "workers=",
                       "check_interval=0",   "check_interval=-1", "check_interval=abc", "io_timeout=0",
                       "io_timeout=1s",      "no_path_retry=-2", "no_path_retry=1.5", "no_path_retry=abc",
                       "failback=sometimes", "log=",            "scan=",            "file_mode=0999",
                       "file_mode=rw",       "direct=maybe",    "exclusive=1",      "check_interval=nan",
                       "io_timeout=inf"};
  for (const char* opt : bad) {
    DaemonOptions o;
    auto s = apply_option(o, opt);
    INFO(opt);
    REQUIRE_FALSE(s);
    CHECK(s.error().code == EINVAL);
    std::string key(opt, std::string_view(opt).find('='));
    CHECK(s.error().msg.find(key) != std::string::npos);
  }
}

TEST_CASE("apply_option: mount(8) and systemd options are accepted and dropped", "[config][options]") {
  const char* dropped[] = {"_netdev",  "nofail", "noauto", "auto",     "defaults", "rw",    "user", "users",
                           "nouser",   "owner",  "group",  "x-systemd.requires=network-online.target",
                           "x-systemd.automount", "x-systemd.device-timeout=10s", "x-mount.mkdir", "comment=foo",
                           "default_permissions", ""};
  for (const char* opt : dropped) {
    DaemonOptions o;
    INFO("'" << opt << "'");
    CHECK(apply_option(o, opt));
    CHECK(o.fuse_opts.empty());
    CHECK_FALSE(o.read_only);
    CHECK_FALSE(o.allow_other);
  }
}

TEST_CASE("apply_option: kernel mount options pass through to FUSE", "[config][options]") {
  DaemonOptions o;
  for (const char* opt : {"nodev", "nosuid", "noexec", "noatime", "max_read=131072"}) {
    INFO(opt);
    CHECK(apply_option(o, opt));
  }
  CHECK(o.fuse_opts == std::vector<std::string>{"nodev", "nosuid", "noexec", "noatime", "max_read=131072"});
}

TEST_CASE("apply_option: unknown options are EINVAL", "[config][options]") {
  for (const char* opt : {"frobnicate", "workers", "allow_others", "Workers=2", "=5", "noworkers"}) {
    DaemonOptions o;
    auto s = apply_option(o, opt);
    INFO(opt);
    REQUIRE_FALSE(s);
    CHECK(s.error().code == EINVAL);
  }
}

TEST_CASE("apply_option_list: comma-separated, stops at the first bad one", "[config][options]") {
  DaemonOptions o;
  CHECK(apply_option_list(o, "allow_other,workers=2,_netdev,nofail,x-systemd.requires=a.mount,defaults"));
  CHECK(o.allow_other);
  CHECK(o.workers == 2);
  CHECK(o.fuse_opts.empty());
  DaemonOptions p;
  auto s = apply_option_list(p, "workers=2,bogus,io_timeout=9");
  REQUIRE_FALSE(s);
  CHECK(s.error().msg.find("bogus") != std::string::npos);
  CHECK(apply_option_list(p, ""));
  CHECK(apply_option_list(p, "workers=3,,"));  // empty items are ignored
  CHECK(p.workers == 3);
}

TEST_CASE("expand_globs expands and de-duplicates", "[config]") {
  auto dir = std::filesystem::temp_directory_path() / ("mpathfs-glob-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  for (const char* n : {"a1", "a2", "b1"}) std::ofstream(dir / n) << "x";
  auto out = expand_globs({(dir / "a*").string(), (dir / "*1").string(), (dir / "none*").string()});
  std::filesystem::remove_all(dir);
  CHECK(out == std::vector<std::string>{(dir / "a1").string(), (dir / "a2").string(), (dir / "b1").string()});
}

TEST_CASE("a config key of the wrong JSON type is an error naming file, volume, key and type", "[config][errors]") {
  // These aborted the daemon (nlohmann type_error 302) before.
  for (const char* v : {"null", "{}", "[1]", "true", "1.5"}) {
    INFO("file_mode: " << v);
    check_config_error(one_volume(std::string(R"("name": "vm1", "paths": ["/c"], "file_mode": )") + v),
                       {"volume vm1", "file_mode", "expected"});
  }
  check_config_error(one_volume(R"("name": "vm1", "paths": ["/c"], "file_mode": null)"), {"got null"});
  for (const char* key : {"io_timeout", "no_path_retry", "uid", "gid", "mode", "label", "paths"}) {
    for (const char* v : {"null", "{}", "[1]", "\"x\""}) {
      if (std::string_view(key) == "paths" && std::string_view(v) == "[1]") continue;  // a list of a number
      INFO(key << ": " << v);
      check_config_error(one_volume(std::string(R"("name": "vm1", "paths": ["/c"], ")") + key + "\": " + v),
                         {"volume vm1", key});
    }
  }
  check_config_error(one_volume(R"("name": null, "paths": ["/c"])"), {"volumes[1]", "name", "got null"});
  for (const char* v : {"null", "{}", "[1]"}) {
    check_config_error(std::string(R"({"options": {"file_mode": )") + v + "}}", {"options", "file_mode", "expected"});
    if (std::string_view(v) != "{}") check_config_error(std::string(R"({"options": )") + v + "}", {"options"});
    check_config_error(std::string(R"({"scan": [)") + v + "]}", {"scan"});
  }
}

TEST_CASE("config numbers are range-checked, never wrapped", "[config][errors][ranges]") {
  // no_path_retry wrapped: 2^32 -> 0, 2^31 -> negative, 2^64-1 -> -1 (queue forever).
  for (const char* v : {"4294967296", "2147483648", "18446744073709551615", "-2", "31536001", "-9223372036854775808"}) {
    INFO("no_path_retry " << v);
    check_config_error(one_volume(std::string(R"("name": "vm1", "paths": ["/c"], "no_path_retry": )") + v),
                       {"volume vm1", "no_path_retry", "-1..31536000"});
  }
  for (const char* v : {"0", "0.05", "1e-300", "86401", "1e300", "-1"}) {
    INFO("io_timeout " << v);
    check_config_error(one_volume(std::string(R"("name": "vm1", "paths": ["/c"], "io_timeout": )") + v),
                       {"volume vm1", "io_timeout", "0.1..86400"});
    check_config_error(std::string(R"({"options": {"io_timeout": )") + v + "}}", {"io_timeout", "0.1..86400"});
    check_config_error(std::string(R"({"options": {"check_interval": )") + v + "}}", {"check_interval", "0.1..3600"});
  }
  check_config_error(R"({"options": {"no_path_retry": 4294967296}})", {"no_path_retry"});
  check_config_error(R"({"options": {"workers": 4294967297}})", {"workers", "1..64"});
  check_config_error(one_volume(R"("name": "vm1", "paths": ["/c"], "gid": 18446744073709551615)"), {"gid"});
  // The limits themselves are accepted.
  auto r = parse_config(one_volume(R"("name": "vm1", "paths": ["/c"], "no_path_retry": 31536000, "io_timeout": 86400)"),
                        "f.json");
  REQUIRE(r);
  CHECK(r->volumes.at(1).no_path_retry == 31536000);
  CHECK(r->volumes.at(1).io_timeout == 86400);
  r = parse_config(R"({"options": {"io_timeout": 0.1, "check_interval": 3600}})", "f.json");
  REQUIRE(r);
  CHECK(r->options.io_timeout == 0.1);
}

TEST_CASE("config: reserved volume names and control characters in paths are refused", "[config][errors]") {
  for (const char* n : {"status", "metrics", "ctl", "create", "destroy", "stop", "rescan", "-"}) {
    INFO(n);
    check_config_error(one_volume(std::string(R"("name": ")") + n + R"(", "paths": ["/c"])"), {n, "reserved"});
  }
  check_config_error(one_volume(R"("name": "vm1", "paths": ["/c\u001b[2J"])"), {"vm1", "paths", "\\033"});
  // A blank is no control character: such a path is fine (ctl/ takes it as \040).
  auto r = parse_config(one_volume(R"("name": "vm1", "paths": ["/srv/my disk.img"])"), "f.json");
  REQUIRE(r);
  CHECK(r->volumes.at(1).paths.at(0) == "/srv/my disk.img");
}

TEST_CASE("apply_option: -o numbers out of range name the key and the range", "[config][options][ranges]") {
  const std::pair<const char*, const char*> bad[] = {
      {"io_timeout=1e300", "0.1..86400"},      {"io_timeout=1.8e10", "0.1..86400"},
      {"io_timeout=1e-300", "0.1..86400"},     {"io_timeout=nan", "0.1..86400"},
      {"check_interval=1e300", "0.1..3600"},   {"check_interval=1e-300", "0.1..3600"},
      {"check_interval=inf", "0.1..3600"},     {"no_path_retry=31536001", "-1..31536000"},
      {"no_path_retry=4294967296", "-1..31536000"}, {"workers=65", "1..64"}};
  for (auto [opt, range] : bad) {
    DaemonOptions o;
    auto s = apply_option(o, opt);
    INFO(opt);
    REQUIRE_FALSE(s);
    CHECK(s.error().msg.find(std::string(opt, std::string_view(opt).find('='))) != std::string::npos);
    CHECK(s.error().msg.find(range) != std::string::npos);
  }
  DaemonOptions o;
  CHECK(apply_option(o, "io_timeout=0.1"));
  CHECK(apply_option(o, "check_interval=3600"));
  CHECK(apply_option(o, "no_path_retry=31536000"));
}

TEST_CASE("config: path health options: failback=N, flap_threshold, flap_window, hold_down", "[config][health]") {
  DaemonOptions o;
  CHECK(o.flap_threshold == 3);
  CHECK(o.flap_window == 60);
  CHECK(o.hold_down == 60);
  CHECK(apply_option_list(o, "failback=30,flap_threshold=5,flap_window=20.5,hold_down=0"));
  CHECK(o.failback == Failback::kAfter);
  CHECK(o.failback_after == 30);
  CHECK(o.flap_threshold == 5);
  CHECK(o.flap_window == 20.5);
  CHECK(o.hold_down == 0);
  for (const char* bad : {"failback=-1", "failback=1e9", "flap_threshold=0", "flap_threshold=65", "flap_threshold=x",
                          "flap_window=0", "flap_window=nan", "hold_down=-1", "hold_down=86401"})
    CHECK_FALSE(apply_option(o, bad));
  auto r = parse_config(R"({"options": {"failback": 10, "flap_threshold": 2, "flap_window": 5, "hold_down": 7}})",
                        "f.json");
  REQUIRE(r);
  CHECK(r->options.failback == Failback::kAfter);
  CHECK(r->options.failback_after == 10);
  CHECK(r->options.flap_threshold == 2);
  CHECK(r->options.hold_down == 7);
  auto bad = parse_config(R"({"options": {"flap_threshold": 100}})", "f.json");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().msg.find("flap_threshold") != std::string::npos);
}
