// mpathfs through the real mount(8) and umount(8) (issue 5): an fstab of the
// test's own (util-linux `mount -T FILE`; the machine's /etc/fstab is never
// read or touched), the mount.mpathfs helper, mount -a, -t fuse.mpathfs, and
// umount refused with EBUSY while a loop device holds a volume.
//
// mount(8) looks for helpers in /sbin only.  Nothing is installed there:
// each mount(8) runs in a private mount namespace (unshare -m) where a
// read-only overlay puts a directory of the test's own (mount.mpathfs and
// mount.fuse.mpathfs, symlinks to the helper in the source tree) over /sbin.
// The FUSE mount itself must be seen by the test, so its mount point lives in
// a directory that the test bind-mounts on itself and marks shared: the
// namespace's copy is a peer of it, and the mpathfs mount made inside
// propagates out (and umount in the test's namespace propagates back in).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "e2e/harness.hpp"

using namespace mpathfs::e2e;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// ---------------------------------------------------------------- mountinfo

struct MountEntry {
  std::string mnt, fstype, source, options, super_options;
};

std::string unescape_mountinfo(const std::string& s) {
  std::string u;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
      u.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      u.push_back(s[i]);
    }
  }
  return u;
}

// Every mount on exactly `mnt` (stacked mounts give several).
std::vector<MountEntry> mounts_at(const std::string& mnt) {
  std::vector<MountEntry> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::vector<std::string> f;
    for (std::string w; ls >> w;) f.push_back(w);
    if (f.size() < 10) continue;
    size_t dash = 6;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (dash + 2 >= f.size()) continue;
    MountEntry e;
    e.mnt = unescape_mountinfo(f[4]);
    e.options = f[5];
    e.fstype = f[dash + 1];
    e.source = unescape_mountinfo(f[dash + 2]);
    e.super_options = dash + 3 < f.size() ? f[dash + 3] : "";
    if (e.mnt == mnt) out.push_back(e);
  }
  return out;
}

// Every process whose argv[0] is an mpathfs binary and whose argv names mnt.
std::vector<pid_t> daemons_for(const std::string& mnt) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::string cmd;
    if (try_read_file("/proc/" + name + "/cmdline", cmd) != 0) continue;
    std::vector<std::string> args;
    std::string cur;
    for (char c : cmd) {
      if (c == '\0') {
        args.push_back(cur);
        cur.clear();
      } else {
        cur.push_back(c);
      }
    }
    if (args.empty() || fs::path(args[0]).filename() != "mpathfs") continue;
    if (std::find(args.begin(), args.end(), mnt) != args.end()) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

std::vector<std::string> cmdline_of(pid_t pid) {
  std::string cmd;
  std::vector<std::string> args;
  if (try_read_file("/proc/" + std::to_string(pid) + "/cmdline", cmd) != 0) return args;
  std::string cur;
  for (char c : cmd) {
    if (c == '\0') {
      args.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  return args;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (auto& w : v) s += (s.empty() ? "" : " ") + w;
  return s;
}

// ---------------------------------------------------------------- the sandbox

// The directory over /sbin (helpers), the shared directory holding the
// mount point, and the fstab.  The destructor unmounts whatever is left
// (the mpathfs mount first: its daemon is found through /proc and stopped),
// then the shared bind mount; TempDir removes the rest.
class MountSandbox {
 public:
  explicit MountSandbox(const TempDir& tmp) : tmp_(tmp) {
    sbin_ = tmp.mkdir("sbin");
    for (const char* name : {"mount.mpathfs", "mount.fuse.mpathfs"})
      if (::symlink(MOUNT_HELPER, (sbin_ + "/" + name).c_str()) != 0)
        throw std::runtime_error(std::string("symlink ") + name + ": " + std::strerror(errno));
    shared_ = tmp.mkdir("shared");
    if (::mount(shared_.c_str(), shared_.c_str(), nullptr, MS_BIND, nullptr) != 0)
      throw std::runtime_error("bind mount " + shared_ + ": " + std::strerror(errno));
    bound_ = true;
    if (::mount(nullptr, shared_.c_str(), nullptr, MS_SHARED, nullptr) != 0)
      throw std::runtime_error("make-shared " + shared_ + ": " + std::strerror(errno));
    mnt_ = shared_ + "/mnt";
    ::mkdir(mnt_.c_str(), 0755);
    fstab_ = tmp / "fstab";
  }
  ~MountSandbox() {
    stop_mpathfs();
    if (bound_ && ::umount2(shared_.c_str(), MNT_DETACH) != 0)
      std::cerr << "MountSandbox: cannot unmount " << shared_ << ": " << std::strerror(errno) << "\n";
  }
  MountSandbox(const MountSandbox&) = delete;
  MountSandbox& operator=(const MountSandbox&) = delete;

  const std::string& mnt() const { return mnt_; }
  const std::string& fstab() const { return fstab_; }

  void write_fstab(const std::string& source, const std::string& type, const std::string& opts) {
    write_text_file(fstab_, "# fstab of an mpathfs e2e test\n" + source + " " + mnt_ + " " + type + " " + opts +
                                " 0 0\n");
  }

  // Runs mount(8) (argv: {"mount", ...}) in a private mount namespace where
  // /sbin holds our helpers.  MPATHFS_BIN points the helper at the daemon
  // under test.
  RunResult mount(const std::vector<std::string>& argv, double timeout_s = 30) const {
    // Nothing done here may propagate back: the mounts holding /sbin and
    // /run/mount are made private in the new namespace first (in case the
    // machine's are shared).  mount(8) records userspace options (_netdev)
    // in /run/mount/utab: a tmpfs there keeps the machine's utab untouched
    // (umount(8) and mount -a go by /proc/self/mountinfo).
    static const char* script = R"SH(
helpers=$1; bin=$2; shift 2
private() { top=$(findmnt -n -o TARGET -T "$1") && mount --make-private "$top"; }
sbin=$(readlink -f /sbin)
private "$sbin" || exit 97
mount -t overlay mpathfs-e2e-sbin -o "ro,lowerdir=$helpers:$sbin" "$sbin" ||
	{ echo "cannot lay $helpers over $sbin (overlayfs)" >&2; exit 98; }
if [ -d /run/mount ]; then
	private /run/mount && mount -t tmpfs -o mode=0755 mpathfs-e2e-utab /run/mount || exit 97
fi
MPATHFS_BIN=$bin exec "$@"
)SH";
    std::vector<std::string> full = {"unshare", "-m", "--propagation", "unchanged", "--", "sh", "-c",
                                     script,    "sh", sbin_,          MPATHFS_BIN};
    full.insert(full.end(), argv.begin(), argv.end());
    return run(full, timeout_s);
  }

  // umount(8) in the test's own namespace (the mpathfs mount is a peer).
  RunResult umount(double timeout_s = 30) const { return run({"umount", mnt_}, timeout_s); }

  // Clean-up: unmount mpathfs on mnt and make sure its daemon ends.
  void stop_mpathfs() {
    auto pids = daemons_for(mnt_);
    for (int i = 0; i < 4 && !mounts_at(mnt_).empty(); ++i) {
      run({"umount", mnt_}, 10);
      if (!mounts_at(mnt_).empty()) run({"umount", "-l", mnt_}, 10);
    }
    for (pid_t pid : pids) {
      if (wait_gone(pid, 5)) continue;
      ::kill(pid, SIGTERM);
      if (!wait_gone(pid, 5)) {
        ::kill(pid, SIGKILL);
        wait_gone(pid, 5);
      }
    }
  }

 private:
  const TempDir& tmp_;
  std::string sbin_, shared_, mnt_, fstab_;
  bool bound_ = false;
};

const std::string kFstabOpts = "defaults,_netdev,nofail,x-systemd.requires=/dev/null";

// A good config: one volume of two path files.
std::string good_config(const TempDir& tmp, uint64_t seed, std::vector<std::string>* paths = nullptr) {
  auto p = make_path_files(tmp, 2, 4 * MiB, seed);
  if (paths) *paths = p;
  return write_config(tmp, quiet_options(), json::array({volume_spec("vol0", p)}));
}

// The mount is there, is mpathfs, shows the config as its source, and works.
void check_mounted(const MountSandbox& sb, const std::string& cfg, uint64_t seed) {
  auto ms = mounts_at(sb.mnt());
  REQUIRE(ms.size() == 1);
  CHECK(ms[0].fstype == "fuse.mpathfs");
  CHECK(ms[0].source == cfg);
  auto t = parse_status(read_file(sb.mnt() + "/status"));
  REQUIRE(t.find("vol0") != nullptr);
  CHECK(t.find("vol0")->state == "OPTIMAL");
  CHECK(read_range(sb.mnt() + "/vol0", 0, 64 * KiB) == pattern(seed, 0, 64 * KiB));
}

// umount works, the daemon is gone, nothing is left mounted there.
void check_unmounts(MountSandbox& sb, pid_t daemon) {
  RunResult u = sb.umount();
  INFO(u.describe());
  CHECK(u.exit_code() == 0);
  CHECK(wait_gone(daemon, 10));
  CHECK(mounts_at(sb.mnt()).empty());
  CHECK(daemons_for(sb.mnt()).empty());
}

}  // namespace

TEST_CASE("mount: an fstab line mounts through mount.mpathfs and umount stops the daemon", "[mount]") {
  TempDir tmp;
  std::string cfg = good_config(tmp, 21);
  MountSandbox sb(tmp);
  sb.write_fstab(cfg, "mpathfs", kFstabOpts);

  RunResult r = sb.mount({"mount", "-T", sb.fstab(), sb.mnt()});
  INFO(r.describe());
  REQUIRE(r.exit_code() == 0);
  // Usable the moment mount returned: no waiting.
  check_mounted(sb, cfg, 21);
  auto pids = daemons_for(sb.mnt());
  REQUIRE(pids.size() == 1);
  pid_t pid = pids[0];

  // Data written through the mount is on the path after umount.
  Bytes data = pattern(77, 0, 128 * KiB);
  {
    Fd f = open_fd(sb.mnt() + "/vol0", O_RDWR);
    REQUIRE(pwrite_all(f.get(), data.data(), data.size(), 1 * MiB) == 0);
    // No fsync: umount flushes.
  }

  check_unmounts(sb, pid);
  // Through the path that was ACTIVE (the first: active-passive).
  CHECK(read_range(tmp / "p0.img", 1 * MiB, data.size()) == data);
}

TEST_CASE("mount: the options mount(8) and systemd add never reach the daemon", "[mount]") {
  TempDir tmp;
  std::string cfg = good_config(tmp, 22);
  MountSandbox sb(tmp);
  std::string log = tmp / "daemon.log";
  // The brief's line, plus options that must reach it.
  sb.write_fstab(cfg, "mpathfs",
                 kFstabOpts + ",x-systemd.device-timeout=5s,comment=systemd.automount,auto,noatime,workers=3,log=" +
                     log + ",debug");

  RunResult r = sb.mount({"mount", "-T", sb.fstab(), sb.mnt()});
  INFO(r.describe());
  REQUIRE(r.exit_code() == 0);
  check_mounted(sb, cfg, 22);
  auto pids = daemons_for(sb.mnt());
  REQUIRE(pids.size() == 1);
  auto argv = cmdline_of(pids[0]);
  std::string cmd = join(argv);
  INFO("daemon command line: " << cmd);
  for (const char* dropped : {"_netdev", "nofail", "x-systemd", "defaults", "comment=", "auto,", "/dev/null"})
    CHECK_FALSE(contains(cmd, dropped));
  CHECK_FALSE(contains(cmd, "noauto"));
  // What must pass, passed.
  CHECK(contains(cmd, "workers=3"));
  CHECK(contains(cmd, "noatime"));
  CHECK(contains(cmd, "log=" + log));
  CHECK(std::find(argv.begin(), argv.end(), "-d") != argv.end());  // debug -> -d
  CHECK(std::find(argv.begin(), argv.end(), "-f") == argv.end());   // it daemonized

  // Nor the kernel: the FUSE mount's options.
  auto ms = mounts_at(sb.mnt());
  REQUIRE(ms.size() == 1);
  INFO("mount options: " << ms[0].options << " / " << ms[0].super_options);
  for (const char* dropped : {"_netdev", "nofail", "x-systemd", "defaults"}) {
    CHECK_FALSE(contains(ms[0].options, dropped));
    CHECK_FALSE(contains(ms[0].super_options, dropped));
  }
  CHECK(contains(ms[0].options, "noatime"));

  // Nor its log (debug log: it would show what it was given).
  std::string text = read_file(log);
  INFO("daemon log:\n" << text);
  CHECK_FALSE(text.empty());
  for (const char* dropped : {"_netdev", "nofail", "x-systemd"}) CHECK_FALSE(contains(text, dropped));

  check_unmounts(sb, pids[0]);
}

TEST_CASE("mount: a broken config fails mount(8) with a message naming the file", "[mount]") {
  TempDir tmp;
  auto p = make_path_files(tmp, 2, 4 * MiB, 23);
  struct Case {
    std::string what, text, names;
  };
  std::vector<Case> cases = {
      {"not JSON", "{\"volumes\": [ {\"name\": \"vol0\", ", ""},
      {"missing path",
       json{{"options", quiet_options()}, {"volumes", json::array({volume_spec("vol0", {p[0], tmp / "nosuch.img"})})}}
           .dump(),
       tmp / "nosuch.img"},
  };
  MountSandbox sb(tmp);
  for (auto& c : cases) {
    CAPTURE(c.what);
    std::string cfg = tmp / "broken.json";
    write_text_file(cfg, c.text);
    sb.write_fstab(cfg, "mpathfs", kFstabOpts);
    RunResult r = sb.mount({"mount", "-T", sb.fstab(), sb.mnt()});
    INFO(r.describe());
    CHECK(r.exited());
    CHECK(r.exit_code() != 0);
    CHECK(contains(r.output, cfg));
    if (!c.names.empty()) CHECK(contains(r.output, c.names));
    CHECK(mounts_at(sb.mnt()).empty());
    CHECK(daemons_for(sb.mnt()).empty());
    sb.stop_mpathfs();  // in case it mounted after all
  }

  SECTION("a missing config file") {
    std::string cfg = tmp / "no-such-config.json";
    sb.write_fstab(cfg, "mpathfs", kFstabOpts);
    RunResult r = sb.mount({"mount", "-T", sb.fstab(), sb.mnt()});
    INFO(r.describe());
    CHECK(r.exit_code() != 0);
    CHECK(contains(r.output, cfg));
    CHECK(mounts_at(sb.mnt()).empty());
  }
  SECTION("an unknown option") {
    std::string cfg = good_config(tmp, 23);
    sb.write_fstab(cfg, "mpathfs", kFstabOpts + ",no_such_option=1");
    RunResult r = sb.mount({"mount", "-T", sb.fstab(), sb.mnt()});
    INFO(r.describe());
    CHECK(r.exit_code() != 0);
    CHECK(contains(r.output, "no_such_option"));
    CHECK(mounts_at(sb.mnt()).empty());
  }
}

TEST_CASE("mount: mount -a twice mounts once", "[mount]") {
  TempDir tmp;
  std::string cfg = good_config(tmp, 24);
  MountSandbox sb(tmp);
  sb.write_fstab(cfg, "mpathfs", kFstabOpts);

  RunResult r1 = sb.mount({"mount", "-a", "-T", sb.fstab()});
  INFO("first: " << r1.describe());
  REQUIRE(r1.exit_code() == 0);
  check_mounted(sb, cfg, 24);
  auto pids = daemons_for(sb.mnt());
  REQUIRE(pids.size() == 1);

  RunResult r2 = sb.mount({"mount", "-a", "-T", sb.fstab()});
  INFO("second: " << r2.describe());
  CHECK(r2.exit_code() == 0);  // mount -a skips a line already mounted
  CHECK(mounts_at(sb.mnt()).size() == 1);
  CHECK(daemons_for(sb.mnt()) == pids);

  // mount -a -v says so.
  RunResult r3 = sb.mount({"mount", "-a", "-v", "-T", sb.fstab()});
  INFO("third: " << r3.describe());
  CHECK(r3.exit_code() == 0);
  CHECK(contains(r3.output, "already mounted"));
  CHECK(mounts_at(sb.mnt()).size() == 1);

  // Naming the line explicitly goes to the helper, which refuses to stack.
  RunResult r4 = sb.mount({"mount", "-T", sb.fstab(), sb.mnt()});
  INFO("explicit: " << r4.describe());
  CHECK(r4.exit_code() != 0);
  CHECK(contains(r4.output, "already mounted"));
  CHECK(mounts_at(sb.mnt()).size() == 1);
  CHECK(daemons_for(sb.mnt()) == pids);
  check_mounted(sb, cfg, 24);

  check_unmounts(sb, pids[0]);
}

TEST_CASE("mount: -t fuse.mpathfs goes through mount.fuse.mpathfs", "[mount]") {
  TempDir tmp;
  std::string cfg = good_config(tmp, 25);
  MountSandbox sb(tmp);

  SECTION("on the command line") {
    RunResult r = sb.mount({"mount", "-v", "-t", "fuse.mpathfs", "-o", "_netdev,nofail,workers=2", cfg, sb.mnt()});
    INFO(r.describe());
    REQUIRE(r.exit_code() == 0);
    // Our helper ran (with -v it prints the daemon command), not mount.fuse3.
    CHECK(contains(r.output, std::string(MPATHFS_BIN) + " -o workers=2 "));
    check_mounted(sb, cfg, 25);
  }
  SECTION("from fstab") {
    sb.write_fstab(cfg, "fuse.mpathfs", kFstabOpts);
    RunResult r = sb.mount({"mount", "-a", "-v", "-T", sb.fstab()});
    INFO(r.describe());
    REQUIRE(r.exit_code() == 0);
    CHECK(contains(r.output, std::string(MPATHFS_BIN) + " "));
    check_mounted(sb, cfg, 25);
  }
  auto pids = daemons_for(sb.mnt());
  REQUIRE(pids.size() == 1);
  std::string cmd = join(cmdline_of(pids[0]));
  INFO(cmd);
  CHECK_FALSE(contains(cmd, "_netdev"));
  CHECK_FALSE(contains(cmd, "nofail"));

  check_unmounts(sb, pids[0]);
}

TEST_CASE("mount: umount with a loop device on a volume fails with EBUSY, after detaching it works", "[mount]") {
  TempDir tmp;
  std::string cfg = good_config(tmp, 26);
  MountSandbox sb(tmp);
  sb.write_fstab(cfg, "mpathfs", kFstabOpts);
  RunResult r = sb.mount({"mount", "-T", sb.fstab(), sb.mnt()});
  INFO(r.describe());
  REQUIRE(r.exit_code() == 0);
  auto pids = daemons_for(sb.mnt());
  REQUIRE(pids.size() == 1);
  pid_t pid = pids[0];

  {
    LoopDevice loop(sb.mnt() + "/vol0");
    INFO("loop device " << loop.dev());
    CHECK(read_range(loop.dev(), 0, 64 * KiB) == pattern(26, 0, 64 * KiB));

    RunResult u = sb.umount();
    INFO(u.describe());
    CHECK(u.exit_code() != 0);
    CHECK(contains(u.output, "busy"));
    // The system call itself: EBUSY.
    errno = 0;
    CHECK(::umount2(sb.mnt().c_str(), 0) == -1);
    CHECK(errno_name(errno) == "EBUSY");

    // Nothing was torn down under the loop device.
    CHECK(mounts_at(sb.mnt()).size() == 1);
    CHECK(::kill(pid, 0) == 0);
    Bytes data = pattern(88, 0, 256 * KiB);
    {
      Fd f = open_fd(loop.dev(), O_RDWR | O_DIRECT);
      AlignedBuf buf(data.size());
      std::memcpy(buf.data(), data.data(), data.size());
      REQUIRE(pwrite_all(f.get(), buf.data(), buf.size(), 512 * KiB) == 0);
      REQUIRE(::fsync(f.get()) == 0);
    }
    CHECK(read_range(sb.mnt() + "/vol0", 512 * KiB, data.size()) == data);
    CHECK(parse_status(read_file(sb.mnt() + "/status")).find("vol0")->state == "OPTIMAL");
    loop.detach();
  }

  // The loop device lets go of the file asynchronously in some kernels:
  // give it a moment, as a user retrying umount would.
  RunResult u;
  bool ok = wait_until(
      [&] {
        u = sb.umount();
        return u.exit_code() == 0;
      },
      5, 0.2);
  INFO(u.describe());
  CHECK(ok);
  CHECK(wait_gone(pid, 10));
  CHECK(mounts_at(sb.mnt()).empty());
  CHECK(read_range(tmp / "p0.img", 512 * KiB, 256 * KiB) == pattern(88, 0, 256 * KiB));
}
