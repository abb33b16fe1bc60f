// A test that needs a tool the machine lacks fails naming the Debian
// package to install, not with exec's bare exit 127.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>

#include "e2e/harness.hpp"
#include "e2e/tools.hpp"

using namespace mpathfs::e2e;

namespace {

// PATH pointed at an empty directory for the scope; restored after.
class EmptyPath {
 public:
  explicit EmptyPath(const TempDir& tmp) {
    const char* old = std::getenv("PATH");
    had_ = old != nullptr;
    if (had_) old_ = old;
    ::setenv("PATH", tmp.mkdir("empty-bin").c_str(), 1);
  }
  ~EmptyPath() {
    if (had_) ::setenv("PATH", old_.c_str(), 1);
    else ::unsetenv("PATH");
  }

 private:
  bool had_ = false;
  std::string old_;
};

}  // namespace

TEST_CASE("tools: a missing tool fails the test with the Debian package to install", "[tools]") {
  TempDir tmp;
  {
    EmptyPath none(tmp);
    RunResult r = run({"strace", "-V"});
    CHECK(r.exit_code() == 127);
    CHECK_THAT(r.output, Catch::Contains("apt-get install strace"));
    CHECK_THROWS_WITH(require_tool("sfdisk"), Catch::Contains("apt-get install fdisk"));
    CHECK_THROWS_WITH(require_tool("nbdfuse"), Catch::Contains("apt-get install libnbd-bin"));
    CHECK_THROWS_WITH(spawn({"qemu-img", "--version"}, tmp / "log"), Catch::Contains("apt-get install qemu-utils"));
  }
  CHECK_NOTHROW(require_tool("sh"));
}

TEST_CASE("tools: scripts/setup.sh installs the package of every tool the tests run", "[tools]") {
  std::ifstream in(std::string(SOURCE_DIR) + "/scripts/setup.sh");
  REQUIRE(in);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const char* tool : {"strace", "fio", "jq", "qemu-img", "qemu-io", "nbdkit", "nbdfuse", "losetup", "mount",
                           "umount", "setpriv", "unshare", "mkfs.ext4", "fsck.ext4", "sfdisk", "fusermount3",
                           "promtool", "tmux", "cpack", "dpkg-shlibdeps"}) {
    const std::string pkg = package_of(tool);
    INFO(tool << " -> " << pkg);
    REQUIRE_FALSE(pkg.empty());
    CHECK(std::regex_search(text, std::regex("PKGS=\\([^)]*[ (\n]" + pkg + "[ )\n]")));
  }
}
