// Disks that appear join by themselves (issue 16): with `scan` globs, the
// daemon tastes block devices the kernel reports (uevents), and loop paths
// detached with `losetup -d` leave.  The globs here name a directory of
// links the test makes before it attaches each loop device, so the daemon
// never tastes another test's loop devices on this shared machine.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "e2e/command_checks.hpp"
#include "e2e/harness.hpp"

using namespace mpathfs::e2e;

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// /sys/block/loopN/loop/backing_file, "" when loopN is not attached.
std::string backing_file(const std::string& dev) {
  std::string out;
  const std::string name = dev.substr(dev.rfind('/') + 1);
  if (try_read_file("/sys/block/" + name + "/loop/backing_file", out) != 0) return "";
  return trim(out);
}

// A loop device over `file` under a link made before it is attached: the
// scan glob matches it from its first uevent.  Detached at the end only
// while it is still over `file` (the daemon may have let it go already).
class LinkedLoop {
 public:
  LinkedLoop(const std::string& file, const std::string& link)
      : file_(std::filesystem::canonical(file).string()), link_(link) {
    for (int i = 0; i < 20 && dev_.empty(); ++i) {
      const std::string dev = trim(run({"losetup", "-f"}, 10).output);
      if (dev.rfind("/dev/loop", 0) != 0) continue;
      ::unlink(link_.c_str());
      if (::symlink(dev.c_str(), link_.c_str()) != 0) throw std::runtime_error("symlink " + link_);
      if (run({"losetup", dev, file_}, 10).exit_code() == 0) dev_ = dev;  // else taken meanwhile: again
    }
    if (dev_.empty()) throw std::runtime_error("cannot attach " + file_);
  }
  ~LinkedLoop() {
    for (int i = 0; i < 50 && attached(); ++i) {
      if (run({"losetup", "-d", dev_}, 10).exit_code() == 0 && !attached()) break;
      usleep(100000);
    }
    ::unlink(link_.c_str());
  }
  LinkedLoop(const LinkedLoop&) = delete;
  LinkedLoop& operator=(const LinkedLoop&) = delete;
  const std::string& dev() const { return dev_; }
  const std::string& link() const { return link_; }
  bool attached() const { return backing_file(dev_) == file_; }

 private:
  std::string file_, link_, dev_;
};

RunResult mpathfs_cmd(const std::vector<std::string>& args) { return mp_raw(args); }

bool has_volume(const Daemon& d, const std::string& name) {
  auto t = parse_status(d.status_text());
  return t.find(name) != nullptr;
}

size_t path_count(const Daemon& d, const std::string& vol) {
  if (!has_volume(d, vol)) return 0;
  return path_names(d.status(vol)).size();
}

// A config with no volumes that scans `glob`.
std::string scan_config(const TempDir& tmp, const std::string& glob) {
  const std::string cfg = write_config(tmp, quiet_options(), json::array(), "scan.json");
  json j = json::parse(read_file(cfg));
  j["scan"] = json::array({glob});
  write_text_file(cfg, j.dump());
  return cfg;
}

}  // namespace

TEST_CASE("devices: labeled loop devices attached after the mount join or assemble, and leave on losetup -d",
          "[devices][loop]") {
  TempDir tmp{"mpathfs-devjoin"};
  const std::string disks = tmp.mkdir("disks");
  auto img = make_path_files(tmp, 3, 4 * MiB, 7);
  REQUIRE_OK(mpathfs_cmd({"label", "lv0", img[0]}));
  std::filesystem::copy_file(img[0], img[1], std::filesystem::copy_options::overwrite_existing);  // a 2nd path
  REQUIRE_OK(mpathfs_cmd({"label", "lv1", img[2]}));
  Daemon d(tmp, scan_config(tmp, disks + "/*"));

  double t0 = now_s();
  LinkedLoop a(img[0], disks + "/a");
  REQUIRE(wait_until([&] { return path_count(d, "lv0") == 1; }, 1));
  const double join_s = now_s() - t0;
  WARN("a labeled loop device joined in " << join_s << " s");
  LinkedLoop b(img[1], disks + "/b");
  REQUIRE(wait_until([&] { return path_count(d, "lv0") == 2; }, 1));
  LinkedLoop c(img[2], disks + "/c");
  REQUIRE(wait_until([&] { return path_count(d, "lv1") == 1; }, 1));
  CHECK(path_names(d.status("lv0")) == std::vector<std::string>{a.link(), b.link()});

  // losetup -d of a busy loop device only marks it: the daemon lets go and
  // the kernel detaches it.
  t0 = now_s();
  REQUIRE(run({"losetup", "-d", b.dev()}, 10).exit_code() == 0);
  REQUIRE(wait_until([&] { return path_count(d, "lv0") == 1; }, 2));
  REQUIRE(wait_until([&] { return !b.attached(); }, 2));
  WARN("a detached loop path left in " << now_s() - t0 << " s");
  CHECK(d.status("lv0")["state"] == "DEGRADED");
  // The last one takes its volume with it.
  REQUIRE(run({"losetup", "-d", a.dev()}, 10).exit_code() == 0);
  REQUIRE(wait_until([&] { return !has_volume(d, "lv0"); }, 2));
  REQUIRE(wait_until([&] { return !a.attached(); }, 2));
  CHECK(has_volume(d, "lv1"));
  const std::string log = d.log();
  CHECK(log.find("path " + b.link() + " left") != std::string::npos);
  CHECK(log.find("lv0: every path is gone, volume destroyed") != std::string::npos);
}

TEST_CASE("devices: a foreign UUID with a volume's name assembles under a distinct name, with a warning",
          "[devices][loop]") {
  TempDir tmp{"mpathfs-devclash"};
  const std::string disks = tmp.mkdir("disks");
  auto img = make_path_files(tmp, 2, 4 * MiB, 8);
  REQUIRE_OK(mpathfs_cmd({"label", "lv0", img[0]}));
  REQUIRE_OK(mpathfs_cmd({"label", "lv0", img[1]}));  // same name, another UUID
  Daemon d(tmp, scan_config(tmp, disks + "/*"));
  LinkedLoop a(img[0], disks + "/a");
  REQUIRE(wait_until([&] { return has_volume(d, "lv0"); }, 1));
  LinkedLoop b(img[1], disks + "/b");
  REQUIRE(wait_until([&] { return parse_status(d.status_text()).volumes.size() == 2; }, 1));
  CHECK(path_names(d.status("lv0")) == std::vector<std::string>{a.link()});
  CHECK(d.log().find("volume name lv0 is taken by another UUID") != std::string::npos);
}

TEST_CASE("devices: ctl/rescan finds a labeled file added to a scanned directory", "[devices][rescan]") {
  TempDir tmp{"mpathfs-rescan"};
  const std::string dir = tmp.mkdir("images");
  Daemon d(tmp, scan_config(tmp, dir + "/*.img"));
  auto img = make_path_files(tmp, 1, 4 * MiB, 9, "late");
  REQUIRE_OK(mpathfs_cmd({"label", "late0", img[0]}));
  std::filesystem::rename(img[0], dir + "/late0.img");
  CHECK_FALSE(has_volume(d, "late0"));  // files send no uevent
  REQUIRE(ctl_write(d.ctl("rescan"), "\n") == 0);
  CHECK(has_volume(d, "late0"));
  CHECK(path_names(d.status("late0")) == std::vector<std::string>{dir + "/late0.img"});
}

// A device taken by someone else at its uevent (a loop device holds itself
// while it is configured; here the test holds it) is tasted again on a
// short schedule and joins once it is free, with no rescan.
TEST_CASE("devices: a labeled device busy at its uevent joins once it is free", "[devices][loop]") {
  TempDir tmp{"mpathfs-devbusy"};
  const std::string disks = tmp.mkdir("disks");
  auto img = make_path_files(tmp, 1, 4 * MiB, 10);
  REQUIRE_OK(mpathfs_cmd({"label", "busy0", img[0]}));
  LoopDevice loop(img[0]);  // outside the glob until the link is made; outlives the daemon
  Daemon::Options o;
  o.source = scan_config(tmp, disks + "/*");
  o.extra_args = {"-d"};  // the debug log says when the daemon met it busy
  Daemon d(tmp, o);
  struct Held {
    int fd;
    ~Held() {
      if (fd >= 0) ::close(fd);
    }
  } held{::open(loop.dev().c_str(), O_RDONLY | O_EXCL | O_CLOEXEC)};
  REQUIRE(held.fd >= 0);
  const std::string link = disks + "/a";
  REQUIRE(::symlink(loop.dev().c_str(), link.c_str()) == 0);
  const std::string uevent = "/sys/block/" + loop.dev().substr(loop.dev().rfind('/') + 1) + "/uevent";
  write_text_file(uevent, "change");  // what udevadm trigger does
  REQUIRE(wait_until([&] { return d.log().find(link + " busy at its uevent") != std::string::npos; }, 3));
  CHECK_FALSE(has_volume(d, "busy0"));
  ::close(held.fd);
  held.fd = -1;
  const double t0 = now_s();
  REQUIRE(wait_until([&] { return has_volume(d, "busy0"); }, 3));
  WARN("joined " << now_s() - t0 << " s after it was free");
  CHECK(path_names(d.status("busy0")) == std::vector<std::string>{link});
}
