// The mounted tree as a directory: what changing it answers, and what a
// mount point that is stale or already taken says at start-up.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cerrno>
#include <fstream>

#include "e2e/harness.hpp"

using namespace mpathfs::e2e;

namespace {

// errno of a call that must fail; "0" when it succeeded.
std::string err_of(int rc) { return rc == 0 ? "0" : errno_name(errno); }

int mounts_at(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  int n = 0;
  while (std::getline(in, line))
    if (line.find(" " + dir + " ") != std::string::npos) ++n;
  return n;
}

}  // namespace

TEST_CASE("tree: mkdir, rm, rmdir, mv, ln, ln -s, mknod and O_CREAT answer EPERM, as a read-only directory", "[tree]") {
  TempDir tmp;
  auto p = make_path_files(tmp, 1, 4 * MiB, 1);
  Daemon d(tmp, write_config(tmp, quiet_options(), json::array({volume_spec("vol0", p)})));
  const std::string m = d.mnt();

  CHECK(err_of(::mkdir((m + "/newdir").c_str(), 0755)) == "EPERM");
  CHECK(err_of(::mkdir((m + "/ctl/newdir").c_str(), 0755)) == "EPERM");
  CHECK(err_of(::unlink(d.vol("vol0").c_str())) == "EPERM");
  CHECK(err_of(::unlink(d.ctl("vol0", "add").c_str())) == "EPERM");
  CHECK(err_of(::rmdir((m + "/ctl/vol0").c_str())) == "EPERM");
  CHECK(err_of(::rename(d.vol("vol0").c_str(), (m + "/vol9").c_str())) == "EPERM");
  CHECK(err_of(::rename(d.vol("vol0").c_str(), (tmp / "outside").c_str())) == "EXDEV");
  CHECK(err_of(::symlink("vol0", (m + "/link").c_str())) == "EPERM");
  CHECK(err_of(::link(d.vol("vol0").c_str(), (m + "/hard").c_str())) == "EPERM");
  CHECK(err_of(::mknod((m + "/node").c_str(), S_IFREG | 0600, 0)) == "EPERM");
  CHECK(err_of(::mknod((m + "/fifo").c_str(), S_IFIFO | 0600, 0)) == "EPERM");
  errno = 0;
  int fd = ::open((m + "/newfile").c_str(), O_CREAT | O_WRONLY, 0600);
  if (fd >= 0) ::close(fd);
  CHECK(fd == -1);
  CHECK(errno_name(errno) == "EPERM");
  // No extended attributes: the usual "not supported", never ENOSYS.
  CHECK(err_of(::setxattr(d.vol("vol0").c_str(), "user.x", "1", 1, 0)) == "EOPNOTSUPP");

  // Nothing changed, and the files that exist still open with O_CREAT.
  CHECK(::access(d.vol("vol0").c_str(), F_OK) == 0);
  CHECK(::access((m + "/newdir").c_str(), F_OK) != 0);
  CHECK(ctl_write(d.ctl("vol0", "rotate"), "") == 0);
  CHECK(file_size(d.vol("vol0")) == 4 * MiB);
}

TEST_CASE("tree: a mount point left stale by kill -9 is named as such, with how to clear it", "[tree]") {
  TempDir tmp;
  auto p = make_path_files(tmp, 1, 4 * MiB, 1);
  const std::string cfg = write_config(tmp, quiet_options(), json::array({volume_spec("vol0", p)}));
  Daemon d(tmp, cfg);
  const std::string mnt = d.mnt();
  d.signal_and_wait(SIGKILL);
  // stat may answer from the attribute cache for up to a second.
  struct stat st{};
  REQUIRE(wait_until([&] { return ::stat(mnt.c_str(), &st) == -1 && errno == ENOTCONN; }, 3));

  RunResult r = run({MPATHFS_BIN, "-f", cfg, mnt}, 15);
  INFO(r.describe());
  CHECK(r.exit_code() == 1);
  CHECK_THAT(r.output, Catch::Contains("stale FUSE mount"));
  CHECK_THAT(r.output, Catch::Contains("fusermount3 -u " + mnt));
  CHECK_THAT(r.output, !Catch::Contains("not a directory"));

  // Cleared as it says, the mount point takes a daemon again.
  REQUIRE(run({"fusermount3", "-u", mnt}).exit_code() == 0);
  Daemon again(tmp, Daemon::Options{cfg, "", {}, mnt, 10});
  CHECK(file_size(again.vol("vol0")) == 4 * MiB);
}

TEST_CASE("tree: a second daemon on a mount point that is already mpathfs is refused", "[tree]") {
  TempDir tmp;
  auto p = make_path_files(tmp, 1, 4 * MiB, 1);
  const std::string cfg = write_config(tmp, quiet_options(), json::array({volume_spec("vol0", p)}));
  Daemon d(tmp, cfg);
  REQUIRE(mounts_at(d.mnt()) == 1);

  RunResult r = run({MPATHFS_BIN, "-f", "none", d.mnt()}, 15);
  INFO(r.describe());
  CHECK(r.exit_code() == 1);
  CHECK_THAT(r.output, Catch::Contains("already an mpathfs mount"));
  CHECK(mounts_at(d.mnt()) == 1);
  // Daemonizing (as mount(8) runs it) is refused the same way.
  StartResult s = start_daemonizing("none", d.mnt());
  INFO(s.run.describe());
  CHECK(s.run.exit_code() == 1);
  CHECK(mounts_at(d.mnt()) == 1);
  // Inside one (ctl/ is a directory of the tree) too.
  r = run({MPATHFS_BIN, "-f", "none", d.mnt() + "/ctl"}, 15);
  INFO(r.describe());
  CHECK(r.exit_code() == 1);
  CHECK_THAT(r.output, Catch::Contains("inside the mpathfs mount"));
  // The first daemon still serves.
  CHECK(file_size(d.vol("vol0")) == 4 * MiB);
}
