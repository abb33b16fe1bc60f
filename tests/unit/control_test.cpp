// The control grammar (src/core/control.cpp): SPEC "The mounted tree",
// gmultipath-notes §5, §7.
#include <catch2/catch.hpp>

#include <random>

#include "core/control.hpp"
#include "core/volume_name.hpp"

using namespace mpathfs;

namespace {

constexpr CtlFile kAllFiles[] = {
    CtlFile::kCreate, CtlFile::kDestroy, CtlFile::kStop,   CtlFile::kAdd,       CtlFile::kRemove,     CtlFile::kFail,
    CtlFile::kRestore, CtlFile::kPrefer, CtlFile::kRotate, CtlFile::kConfigure, CtlFile::kNoPathRetry,
};
constexpr CtlFile kPathFiles[] = {CtlFile::kAdd, CtlFile::kRemove, CtlFile::kFail, CtlFile::kRestore,
                                  CtlFile::kPrefer};

int code_of(CtlFile f, std::string_view text) {
  auto r = parse_control(f, text);
  return r ? 0 : r.error().code;
}

CreateCmd create_ok(std::string_view text) {
  auto r = parse_control(CtlFile::kCreate, text);
  INFO("create '" << text << "'");
  REQUIRE(r);
  REQUIRE(std::holds_alternative<CreateCmd>(*r));
  return std::get<CreateCmd>(*r);
}

}  // namespace

TEST_CASE("control file names map both ways", "[control]") {
  for (auto f : kAllFiles) {
    bool vol_level = !(f == CtlFile::kCreate || f == CtlFile::kDestroy || f == CtlFile::kStop);
    CtlFile back{};
    INFO(ctl_file_name(f));
    REQUIRE(parse_ctl_file_name(ctl_file_name(f), vol_level, &back));
    CHECK(back == f);
    CHECK_FALSE(parse_ctl_file_name(ctl_file_name(f), !vol_level, &back));
  }
  CtlFile f{};
  CHECK_FALSE(parse_ctl_file_name("status", true, &f));
  CHECK_FALSE(parse_ctl_file_name("", false, &f));
  CHECK(ctl_file_name(CtlFile::kNoPathRetry) == "no_path_retry");
}

TEST_CASE("split_words splits on blanks and tabs", "[control]") {
  CHECK(split_words("") == std::vector<std::string>{});
  CHECK(split_words("   \t ") == std::vector<std::string>{});
  CHECK(split_words("a") == std::vector<std::string>{"a"});
  CHECK(split_words("  a \t b   c ") == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("create: NAME [-A|-R] [-l] PATH...", "[control][create]") {
  auto c = create_ok("vol0 /dev/sdb /dev/sdc");
  CHECK(c.name == "vol0");
  CHECK_FALSE(c.mode);  // no flag: the label's mode if the disk has one, else active-passive
  CHECK_FALSE(c.label);
  CHECK(c.paths == std::vector<std::string>{"/dev/sdb", "/dev/sdc"});

  c = create_ok("vol0 -A /a /b");
  CHECK(c.mode == Mode::kActiveActive);
  CHECK(c.paths == std::vector<std::string>{"/a", "/b"});

  c = create_ok("-A vol0 /a /b");  // gmultipath's order
  CHECK(c.name == "vol0");
  CHECK(c.mode == Mode::kActiveActive);
  CHECK(c.paths == std::vector<std::string>{"/a", "/b"});

  c = create_ok("-R -l vol1 /a");
  CHECK(c.name == "vol1");
  CHECK(c.mode == Mode::kActiveRead);
  CHECK(c.label);
  CHECK(c.paths == std::vector<std::string>{"/a"});

  c = create_ok("vol1 -R -l /a /b");
  CHECK(c.mode == Mode::kActiveRead);
  CHECK(c.label);
  c = create_ok("vol1 -Rl /a");
  CHECK(c.mode == Mode::kActiveRead);
  CHECK(c.label);
  c = create_ok("vol1 -l /a");
  CHECK_FALSE(c.mode);
  CHECK(c.label);
  c = create_ok("vol1 -P /a");
  CHECK(c.mode == Mode::kActivePassive);
  c = create_ok("vol1 sdb sdc");  // provider names without /dev/
  CHECK(c.paths == std::vector<std::string>{"sdb", "sdc"});
}

TEST_CASE("create: newline, CRLF and blanks are tolerated", "[control][create]") {
  CHECK(create_ok("vol0 /a\n").paths == std::vector<std::string>{"/a"});
  CHECK(create_ok("vol0 /a\r\n").paths == std::vector<std::string>{"/a"});
  CHECK(create_ok("  vol0\t/a   /b  \n").paths == std::vector<std::string>{"/a", "/b"});
}

TEST_CASE("create: bad lines are EINVAL", "[control][create]") {
  const char* bad[] = {
      "",                       // empty
      "\n",                     // empty line
      "   \t  ",                // blanks only
      "vol0",                   // no path
      "vol0 -A",                // no path
      "-A",                     // nothing
      "vol0 -A -R /a /b",       // -A and -R together
      "-AR vol0 /a",            // the same, one word
      "vol0 -x /a",             // unknown flag
      "vol0 /a\n/b",            // two lines
      "vol0 /a\n\n",            // two newlines
      "vol0 /a\nvol1 /b\n",     // two commands
      "0123456789abcdef /a",    // 16 characters
      "vol/0 /a",               // bad character
      "vol:0 /a",
      "vol\xc3\xa9 /a",         // non-ASCII
      ". /a",                   // a directory name
      ".. /a",
  };
  for (const char* t : bad) {
    INFO("create '" << t << "'");
    CHECK(code_of(CtlFile::kCreate, t) == EINVAL);
  }
  CHECK(code_of(CtlFile::kCreate, std::string_view("vol0 /a\0/b", 10)) == EINVAL);  // NUL
  CHECK(code_of(CtlFile::kCreate, "vol0 /a\x01") == EINVAL);
  CHECK(code_of(CtlFile::kCreate, "vol0 /a\x1b[0m") == EINVAL);
  CHECK(code_of(CtlFile::kCreate, "vol0 /a\x7f") == EINVAL);
  CHECK(code_of(CtlFile::kCreate, "vol0 /a\r/b") == EINVAL);  // a lone CR inside
  // The longest legal name.
  CHECK(create_ok("0123456789abcde /a").name == "0123456789abcde");
  CHECK(create_ok("A.b_c-9 /a").name == "A.b_c-9");
}

TEST_CASE("volume names: 1-15 characters of A-Za-z0-9._-", "[control][name]") {
  CHECK(valid_volume_name("v"));
  CHECK(valid_volume_name("vol0"));
  CHECK(valid_volume_name("a.b-c_D9"));
  CHECK(valid_volume_name("123456789012345"));
  CHECK_FALSE(valid_volume_name(""));
  CHECK_FALSE(valid_volume_name("1234567890123456"));
  CHECK_FALSE(valid_volume_name("a b"));
  CHECK_FALSE(valid_volume_name("a/b"));
  CHECK_FALSE(valid_volume_name("."));
  CHECK_FALSE(valid_volume_name(".."));
  CHECK_FALSE(valid_volume_name(std::string_view("a\0b", 3)));
}

TEST_CASE("destroy and stop: one volume name", "[control][destroy]") {
  for (auto f : {CtlFile::kDestroy, CtlFile::kStop}) {
    INFO(ctl_file_name(f));
    auto r = parse_control(f, "vol0\n");
    REQUIRE(r);
    if (f == CtlFile::kDestroy) {
      REQUIRE(std::holds_alternative<DestroyCmd>(*r));
      CHECK(std::get<DestroyCmd>(*r).name == "vol0");
    } else {
      REQUIRE(std::holds_alternative<StopCmd>(*r));
      CHECK(std::get<StopCmd>(*r).name == "vol0");
    }
    CHECK(parse_control(f, "vol0\r\n"));
    CHECK(parse_control(f, " vol0 "));
    for (const char* t : {"", "\n", "vol0 vol1", "vol0\nvol1", "0123456789abcdef", "a/b"}) {
      INFO("'" << t << "'");
      CHECK(code_of(f, t) == EINVAL);
    }
    CHECK(code_of(f, std::string_view("vol0\0", 5)) == EINVAL);
  }
}

TEST_CASE("add/remove/fail/restore/prefer: one path per write", "[control][path]") {
  for (auto f : kPathFiles) {
    INFO(ctl_file_name(f));
    for (const char* t : {"/dev/sdb", "/dev/sdb\n", "/dev/sdb\r\n", "  /dev/sdb \t\n", "sdb"}) {
      auto r = parse_control(f, t);
      INFO("'" << t << "'");
      REQUIRE(r);
      REQUIRE(std::holds_alternative<PathCmd>(*r));
      auto& pc = std::get<PathCmd>(*r);
      CHECK(pc.verb == f);
      CHECK(pc.path == (std::string_view(t).find("/dev") != std::string_view::npos ? "/dev/sdb" : "sdb"));
    }
    // A path with any printable bytes (spaces excepted) is the path's business.
    CHECK(parse_control(f, "/srv/a/vm1.img"));
    for (const char* t : {"", "\n", "\r\n", "/a /b", "/a\n/b", "/a\n\n", "/a\x02"}) {
      INFO("'" << t << "'");
      CHECK(code_of(f, t) == EINVAL);
    }
    CHECK(code_of(f, std::string_view("/a\0", 3)) == EINVAL);
  }
}

TEST_CASE("rotate accepts anything that is one line", "[control][rotate]") {
  for (const char* t : {"", "\n", "1", "rotate\n", "now please", "-x -y"}) {
    auto r = parse_control(CtlFile::kRotate, t);
    INFO("'" << t << "'");
    REQUIRE(r);
    CHECK(std::holds_alternative<RotateCmd>(*r));
  }
}

TEST_CASE("configure: -A | -R | -P and the mode words", "[control][configure]") {
  const std::pair<const char*, Mode> good[] = {
      {"-A", Mode::kActiveActive},        {"-R", Mode::kActiveRead},       {"-P", Mode::kActivePassive},
      {"-A\n", Mode::kActiveActive},      {" -R \r\n", Mode::kActiveRead}, {"active-active", Mode::kActiveActive},
      {"active-read", Mode::kActiveRead}, {"active-passive\n", Mode::kActivePassive},
  };
  for (auto [t, m] : good) {
    INFO("'" << t << "'");
    auto r = parse_control(CtlFile::kConfigure, t);
    REQUIRE(r);
    REQUIRE(std::holds_alternative<ConfigureCmd>(*r));
    CHECK(std::get<ConfigureCmd>(*r).mode == m);
  }
  for (const char* t : {"", "\n", "-X", "-A -R", "-a", "active", "-A\n-R", "--A", "-AR"}) {
    INFO("'" << t << "'");
    CHECK(code_of(CtlFile::kConfigure, t) == EINVAL);
  }
}

TEST_CASE("no_path_retry: -1, 0 or seconds", "[control][no_path_retry]") {
  const std::pair<const char*, int> good[] = {{"-1", -1}, {"0", 0}, {"30", 30}, {"30\n", 30}, {" 5 \r\n", 5},
                                              {"86400", 86400}};
  for (auto [t, v] : good) {
    INFO("'" << t << "'");
    auto r = parse_control(CtlFile::kNoPathRetry, t);
    REQUIRE(r);
    REQUIRE(std::holds_alternative<NoPathRetryCmd>(*r));
    CHECK(std::get<NoPathRetryCmd>(*r).seconds == v);
  }
  for (const char* t : {"-2", "abc", "1.5", "", "\n", "1 2", "30s", "+5", "0x10", "99999999999999999999", "--1",
                        "1\n2"}) {
    INFO("'" << t << "'");
    CHECK(code_of(CtlFile::kNoPathRetry, t) == EINVAL);
  }
}

TEST_CASE("a write larger than kMaxControlWrite is EINVAL", "[control]") {
  std::string big(kMaxControlWrite + 1, 'a');
  for (auto f : kAllFiles) CHECK(code_of(f, big) == EINVAL);
}

TEST_CASE("errors carry a reason", "[control]") {
  auto r = parse_control(CtlFile::kCreate, "vol0 -A -R /a");
  REQUIRE_FALSE(r);
  CHECK_FALSE(r.error().msg.empty());
  r = parse_control(CtlFile::kNoPathRetry, "abc");
  REQUIRE_FALSE(r);
  CHECK(r.error().msg.find("abc") != std::string::npos);
}

TEST_CASE("fuzz: random bytes never crash and give ok or EINVAL", "[control][fuzz]") {
  std::mt19937 rng(20240601);
  std::uniform_int_distribution<int> len_d(0, 64), byte_d(0, 255), pick(0, 9);
  // Bias towards the grammar's own bytes so deeper branches are reached.
  const std::string alphabet = " \t\n\r-AaRPlv0/19._x";
  std::uniform_int_distribution<size_t> alpha_d(0, alphabet.size() - 1);
  int ok = 0, inval = 0, other = 0;
  for (int i = 0; i < 10000; ++i) {
    std::string s(static_cast<size_t>(len_d(rng)), '\0');
    for (auto& c : s) c = pick(rng) < 4 ? static_cast<char>(byte_d(rng)) : alphabet[alpha_d(rng)];
    for (auto f : kAllFiles) {
      auto r = parse_control(f, s);
      if (r) ++ok;
      else if (r.error().code == EINVAL) ++inval;
      else ++other;
    }
  }
  CHECK(other == 0);
  CHECK(ok > 0);
  CHECK(inval > 0);
}

TEST_CASE("path words carry octal escapes: a path with a blank can be named", "[control][path][escape]") {
  for (auto f : kPathFiles) {
    INFO(ctl_file_name(f));
    auto r = parse_control(f, "/srv/my\\040disk.img\n");
    REQUIRE(r);
    CHECK(std::get<PathCmd>(*r).path == "/srv/my disk.img");
    r = parse_control(f, "/srv/a\\134b\\011c");
    REQUIRE(r);
    CHECK(std::get<PathCmd>(*r).path == "/srv/a\\b\tc");
    // A backslash is always an escape: a lone one reads no way at all.
    CHECK(code_of(f, "/srv/a\\b") == EINVAL);
    CHECK(code_of(f, "/srv/a\\") == EINVAL);
  }
  // fail/remove/... may name any path the volume has, a control
  // character included; add of a new one must not bring one in.
  CHECK(parse_control(CtlFile::kFail, "/srv/a\\012b"));
  CHECK(code_of(CtlFile::kAdd, "/srv/a\\012b") == EINVAL);
  CHECK(code_of(CtlFile::kAdd, "/srv/\\033[2J") == EINVAL);
  CHECK(parse_control(CtlFile::kAdd, "/srv/\\377"));  // not UTF-8, but a legal file name
  auto c = create_ok("vol0 -A /srv/a\\040b /srv/c\\040d\n");
  REQUIRE(c.paths.size() == 2);
  CHECK(c.paths[0] == "/srv/a b");
  CHECK(c.paths[1] == "/srv/c d");
  CHECK(code_of(CtlFile::kCreate, "vol0 /srv/a\\033") == EINVAL);
  CHECK(code_of(CtlFile::kCreate, "vol0 /srv/a\\x") == EINVAL);
}

TEST_CASE("create: names the tree uses itself are EINVAL", "[control][create][name]") {
  for (const char* n : {"status", "metrics", "ctl", "create", "destroy", "stop", "rescan", "-"}) {
    INFO(n);
    auto r = parse_control(CtlFile::kCreate, std::string(n) + " /dev/sdb");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == EINVAL);
    CHECK(r.error().msg.find("reserved") != std::string::npos);
    CHECK(reserved_volume_name(n));
    CHECK_FALSE(usable_volume_name(n));
  }
  CHECK(usable_volume_name("vol0"));
  CHECK(usable_volume_name("stats"));
  CHECK_FALSE(usable_volume_name("a b"));
}

TEST_CASE("no_path_retry: at most a year of seconds", "[control][no_path_retry][ranges]") {
  auto r = parse_control(CtlFile::kNoPathRetry, "31536000");
  REQUIRE(r);
  CHECK(std::get<NoPathRetryCmd>(*r).seconds == 31536000);
  for (const char* t : {"31536001", "2147483647", "2147483648", "4294967296"}) {
    INFO(t);
    auto e = parse_control(CtlFile::kNoPathRetry, t);
    REQUIRE_FALSE(e);
    CHECK(e.error().msg.find("-1..31536000") != std::string::npos);
  }
}
