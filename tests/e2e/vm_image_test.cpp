// VM images and file systems on mpathfs volumes (issue 5): a loop device
// (losetup --direct-io=on) on a volume file, ext4 on it written while a path
// fails underneath, fsck clean and checksums intact, also after mpathfs is
// unmounted and mounted again; qemu-img convert -n onto a volume (the file
// and a loop device on it) and qemu-img compare.
//
// Paths are two NbdPath (nbdkit + nbdfuse) over one image: a real two-path
// volume whose paths really fail (EIO) when told to.
//
// Everything is torn down by RAII, in reverse order of declaration, also
// when an assertion fails half way: fault thread stopped and paths healed,
// ext4 unmounted, loop device detached, mpathfs unmounted, nbd servers killed.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "e2e/harness.hpp"

using namespace mpathfs::e2e;

namespace {

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// ---------------------------------------------------------------- guards

// A file system mounted from a block device; unmounted in the destructor
// (lazily when a plain umount fails), so a failed test leaves no mount.
class BlockMount {
 public:
  BlockMount(const std::string& dev, const std::string& dir, const std::string& opts = "") : dir_(dir) {
    std::vector<std::string> argv = {"mount"};
    if (!opts.empty()) argv.insert(argv.end(), {"-o", opts});
    argv.insert(argv.end(), {dev, dir});
    RunResult r = run(argv, 60);
    if (r.exit_code() != 0) throw std::runtime_error("mount " + dev + " " + dir + ": " + r.describe());
    mounted_ = true;
  }
  ~BlockMount() {
    if (!mounted_) return;
    if (run({"umount", dir_}, 60).exit_code() != 0) run({"umount", "-l", dir_}, 10);
  }
  BlockMount(const BlockMount&) = delete;
  BlockMount& operator=(const BlockMount&) = delete;
  // umount; returns umount's result (the destructor then does nothing).
  RunResult unmount() {
    RunResult r = run({"umount", dir_}, 60);
    if (r.exit_code() == 0) mounted_ = false;
    return r;
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

// Fails and heals the two paths of a volume underneath, alternating, every
// 100-300 ms, until stopped: never both failed at once.  `nbd` uses the
// real fault (NbdPath::fail: EIO from the server); otherwise the control
// files (echo PATH > ctl/VOL/fail, then restore).  Stopping heals everything.
class PathFlapper {
 public:
  PathFlapper(std::vector<NbdPath*> paths, bool nbd, const Daemon& d, std::string vol, uint32_t seed)
      : paths_(std::move(paths)), nbd_(nbd), d_(d), vol_(std::move(vol)), rng_(seed) {
    thread_ = std::thread([this] { loop(); });
  }
  ~PathFlapper() { stop(); }
  PathFlapper(const PathFlapper&) = delete;
  PathFlapper& operator=(const PathFlapper&) = delete;

  void stop() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    for (auto* p : paths_) p->heal();
  }
  int faults() const { return faults_.load(); }
  std::string errors() const {
    std::lock_guard<std::mutex> lk(mu_);
    return errors_;
  }

 private:
  bool sleep_ms(int ms) {
    std::unique_lock<std::mutex> lk(mu_);
    return !cv_.wait_for(lk, std::chrono::milliseconds(ms), [this] { return stop_; });
  }
  void note(const std::string& what, int rc) {
    if (rc == 0) return;
    std::lock_guard<std::mutex> lk(mu_);
    errors_ += what + ": " + errno_name(rc) + "\n";
  }
  void loop() {
    std::uniform_int_distribution<int> ms(100, 300);
    size_t i = 0;
    while (sleep_ms(ms(rng_))) {
      NbdPath* p = paths_[i % paths_.size()];
      if (nbd_) {
        p->fail();
      } else {
        note("fail " + p->file(), ctl_write(d_.ctl(vol_, "fail"), p->file() + "\n"));
      }
      ++faults_;
      bool go_on = sleep_ms(ms(rng_));
      if (nbd_) {
        p->heal();
      } else {
        note("restore " + p->file(), ctl_write(d_.ctl(vol_, "restore"), p->file() + "\n"));
      }
      if (!go_on) break;
      ++i;
    }
  }

  std::vector<NbdPath*> paths_;
  bool nbd_;
  const Daemon& d_;
  std::string vol_;
  std::mt19937 rng_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<int> faults_{0};
  std::string errors_;
  std::thread thread_;
};

// ---------------------------------------------------------------- helpers

struct FileSum {
  uint64_t size = 0;
  uint64_t hash = 0;
};

// Writes `n` files of random sizes (4 KiB .. 1 MiB, pattern content) into
// dir, fsync'ing each; returns their checksums.
std::map<std::string, FileSum> write_files(const std::string& dir, int n, uint64_t seed) {
  std::map<std::string, FileSum> sums;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<uint64_t> size_d(4 * KiB, 1 * MiB);
  for (int i = 0; i < n; ++i) {
    std::string name = "file" + std::to_string(i);
    uint64_t size = size_d(rng);
    if (i % 3 == 0) size &= ~uint64_t(4095);  // some whole blocks, some not
    if (size == 0) size = 4096;
    Bytes data = pattern(seed * 1000 + i, 0, size);
    Fd f = open_fd(dir + "/" + name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    for (uint64_t off = 0; off < size;) {
      size_t chunk = std::min<uint64_t>(256 * KiB, size - off);
      ssize_t w = ::write(f.get(), data.data() + off, chunk);
      if (w < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error("write " + name + ": " + errno_name(errno));
      }
      off += static_cast<uint64_t>(w);
    }
    if (::fsync(f.get()) != 0) throw std::runtime_error("fsync " + name + ": " + errno_name(errno));
    sums[name] = FileSum{size, fnv1a(data.data(), data.size())};
  }
  return sums;
}

// Every file present with its size and checksum; returns a description of
// the mismatches ("" when all match).
std::string check_files(const std::string& dir, const std::map<std::string, FileSum>& sums) {
  std::string bad;
  for (auto& [name, want] : sums) {
    std::string text;
    int rc = try_read_file(dir + "/" + name, text);
    if (rc != 0) {
      bad += name + ": " + errno_name(rc) + "\n";
      continue;
    }
    uint64_t h = fnv1a(reinterpret_cast<const uint8_t*>(text.data()), text.size());
    if (text.size() != want.size || h != want.hash)
      bad += name + ": size " + std::to_string(text.size()) + " (want " + std::to_string(want.size) +
             "), checksum " + (h == want.hash ? "ok" : "differs") + "\n";
  }
  return bad;
}

std::string loop_sysfs(const std::string& dev, const std::string& key) {
  std::string name = dev.substr(dev.rfind('/') + 1);
  std::string v;
  if (try_read_file("/sys/block/" + name + "/loop/" + key, v) != 0) return "?";
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}

// fsck.ext4 -fn: 0 is clean.
void check_fsck_clean(const std::string& dev) {
  RunResult r = run({"fsck.ext4", "-fn", dev}, 120);
  INFO("fsck.ext4 -fn " << dev << ": " << r.describe());
  CHECK(r.exit_code() == 0);
}

// A child that has exited is a zombie until reaped: "gone" for our purpose.
bool exited(pid_t pid) {
  std::string st;
  if (try_read_file("/proc/" + std::to_string(pid) + "/stat", st) != 0) return true;
  size_t p = st.rfind(')');
  return p != std::string::npos && p + 2 < st.size() && (st[p + 2] == 'Z' || st[p + 2] == 'X');
}

uint64_t total_errors(const json& st) {
  uint64_t n = 0;
  for (auto& p : st.at("paths")) n += p.value("errors", uint64_t(0));
  return n;
}

std::string two_path_config(const TempDir& tmp, const NbdPath& a, const NbdPath& b, json options) {
  return write_config(tmp, options, json::array({volume_spec("vol0", {a.file(), b.file()})}));
}

}  // namespace

TEST_CASE("vm: ext4 on a loop device on a volume survives a failing path and a remount of mpathfs", "[vm]") {
  const bool nbd_fault = GENERATE(true, false);
  CAPTURE(nbd_fault ? "NbdPath::fail (real EIO)" : "echo PATH > ctl/vol0/fail");
  TempDir tmp;
  std::string img = make_zero_file(tmp / "disk.img", 256 * MiB);
  NbdPath a(tmp, img, "a");
  NbdPath b(tmp, img, "b");
  json opts = quiet_options();
  std::string cfg = two_path_config(tmp, a, b, opts);
  std::string ext = tmp.mkdir("ext");
  std::map<std::string, FileSum> sums;

  {
    Daemon d(tmp, cfg);
    {
      LoopDevice loop(d.vol("vol0"));
      INFO("loop device " << loop.dev());
      CHECK(loop_sysfs(loop.dev(), "dio") == "1");
      CHECK(file_size(loop.dev()) == 256 * MiB);

      RunResult mk = run({"mkfs.ext4", "-q", "-F", loop.dev()}, 120);
      INFO(mk.describe());
      REQUIRE(mk.exit_code() == 0);
      {
        BlockMount m(loop.dev(), ext);
        double t0 = now_s();
        {
          PathFlapper flap({&a, &b}, nbd_fault, d, "vol0", 4242);
          // Write until several faults have come and gone (and 2 s at
          // least): 8 directories of 20 files, rewritten round after round
          // (O_TRUNC, new content), so at most ~80 MiB are in use.
          int round = 0;
          while (round < 8 || now_s() - t0 < 2.0 || (flap.faults() < 6 && now_s() - t0 < 60)) {
            std::string dir = "r" + std::to_string(round % 8);
            std::string sub = ext + "/" + dir;
            if (round < 8) REQUIRE(::mkdir(sub.c_str(), 0755) == 0);
            for (auto& [name, s] : write_files(sub, 20, 100 + round)) sums[dir + "/" + name] = s;
            ++round;
          }
          INFO("rounds: " << round);
          flap.stop();
          INFO("faults injected: " << flap.faults());
          CHECK(flap.faults() >= 6);
          CHECK(flap.errors().empty());
        }
        WARN("ext4 on loop on mpathfs: " << sums.size() << " files written (and rewritten) for " << now_s() - t0
                                         << " s while paths failed underneath");
        json st = d.status("vol0");
        INFO("status.json: " << st.dump());
        if (nbd_fault) CHECK(total_errors(st) > 0);  // the fault really hit I/O
        CHECK(st.at("state") != "BROKEN");
        // A fresh reader sees every file.
        CHECK(check_files(ext, sums) == "");
        ::sync();
        RunResult u = m.unmount();
        INFO(u.describe());
        REQUIRE(u.exit_code() == 0);
      }
      check_fsck_clean(loop.dev());
      {
        BlockMount m(loop.dev(), ext, "ro");
        CHECK(check_files(ext, sums) == "");
      }
      loop.detach();
    }
    // umount(8) of mpathfs; the daemon exits.
    RunResult u;
    bool ok = wait_until(
        [&] {
          u = run({"umount", d.mnt()}, 30);
          return u.exit_code() == 0;
        },
        5, 0.2);
    INFO(u.describe());
    CHECK(ok);
    CHECK(wait_until([&] { return exited(d.pid()); }, 10));
  }

  // Mounted again: the same file system, clean, the same files.
  Daemon d2(tmp, cfg);
  auto st2 = d2.status("vol0");
  CHECK(st2.at("state") == "OPTIMAL");
  LoopDevice loop2(d2.vol("vol0"));
  CHECK(loop_sysfs(loop2.dev(), "dio") == "1");
  check_fsck_clean(loop2.dev());
  {
    BlockMount m(loop2.dev(), ext);
    CHECK(check_files(ext, sums) == "");
  }
  check_fsck_clean(loop2.dev());
}

TEST_CASE("vm: qemu-img convert -n onto a volume and qemu-img compare", "[vm]") {
  const bool via_loop = GENERATE(false, true);
  CAPTURE(via_loop ? "target: loop device on the volume" : "target: the volume file");
  TempDir tmp;
  const uint64_t size = 64 * MiB;
  // Non-zero background: the image's holes must really be written as zeros.
  std::string img = make_pattern_file(tmp / "disk.img", size, 31);
  NbdPath a(tmp, img, "a");
  NbdPath b(tmp, img, "b");
  Daemon d(tmp, two_path_config(tmp, a, b, quiet_options()));

  // Sources: a sparse qcow2 with data written by qemu-io, and a raw file of
  // (pseudo-)random data.
  std::string qcow = tmp / "src.qcow2";
  RunResult r = run({"qemu-img", "create", "-q", "-f", "qcow2", qcow, std::to_string(size)}, 60);
  INFO(r.describe());
  REQUIRE(r.exit_code() == 0);
  r = run({"qemu-io", "-f", "qcow2", "-c", "write -P 0xab 0 1M", "-c", "write -P 0x5a 10M 3M", "-c",
           "write -P 0x11 33M 4k", "-c", "write -z 34M 1M", "-c", "write -P 0xee 63M 512k", qcow},
          60);
  INFO(r.describe());
  REQUIRE(r.exit_code() == 0);
  std::string raw = make_pattern_file(tmp / "src.raw", size, 32);

  std::unique_ptr<LoopDevice> loop;
  std::string target = d.vol("vol0");
  if (via_loop) {
    loop = std::make_unique<LoopDevice>(d.vol("vol0"));
    target = loop->dev();
  }

  for (auto [src, fmt] : {std::pair<std::string, std::string>{qcow, "qcow2"}, {raw, "raw"}}) {
    CAPTURE(src);
    double t0 = now_s();
    r = run({"qemu-img", "convert", "-n", "-f", fmt, "-O", "raw", "-t", "none", src, target}, 120);
    double dt = now_s() - t0;
    INFO("convert: " << r.describe());
    REQUIRE(r.exit_code() == 0);
    WARN("qemu-img convert " << fmt << " -> " << (via_loop ? "loop device" : "volume file") << ": "
                             << size / MiB << " MiB in " << dt << " s");
    // Through the target (O_DIRECT reads), and through the image under the
    // paths (proves it reached the disk, not only a cache).
    r = run({"qemu-img", "compare", "-f", fmt, "-F", "raw", "-T", "none", src, target}, 120);
    INFO("compare with target: " << r.describe());
    CHECK(r.exit_code() == 0);
    r = run({"qemu-img", "compare", "-f", fmt, "-F", "raw", src, img}, 120);
    INFO("compare with the disk under the paths: " << r.describe());
    CHECK(r.exit_code() == 0);
    CHECK(contains(r.output, "identical"));
  }
  loop.reset();
  json st = d.status("vol0");
  CHECK(st.at("state") == "OPTIMAL");
  CHECK(total_errors(st) == 0);
}
