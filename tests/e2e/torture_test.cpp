// Torture (issue 4), short CI form: fio writes random blocks (4k-1M, depth
// 16, libaio, O_DIRECT) over a two-path volume with crc32c verify headers,
// then reads everything back and verifies it, while a thread fails and
// heals the paths underneath (NbdPath::fail: real EIO from nbdkit) at random
// every 100-300 ms, never both at once.  In each mode, and once through a
// loop device on the volume.  Pass: fio exits 0, no verify error, no I/O
// error, and every byte written was read back and verified.
//
// A second kind of fault freezes a path's server (SIGSTOP: requests go
// unanswered, as on a stalled link) for 0.2-2.5 s and thaws it, with
// io_timeout 1 s: requests time out, are re-issued on the other path, and
// the late answers arrive after the thaw — late *writes* included, which
// must not overwrite newer data (fio's verify would see it).
//
// The worst completion latency fio saw (clat max: the failover cost) is
// printed as a warning.
//
// Length: MPATHFS_TORTURE_SECONDS per case (default 25): fio is run again
// and again (each run a full write + verify pass with a new seed) until that
// much time has passed.  The long form:
//   MPATHFS_TORTURE_SECONDS=600 build/tests/mpathfs_e2e '[torture]'
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "e2e/fio_run.hpp"
#include "e2e/harness.hpp"

using namespace mpathfs::e2e;

namespace {

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

double torture_seconds() {
  const char* s = std::getenv("MPATHFS_TORTURE_SECONDS");
  if (s && *s) {
    char* end = nullptr;
    double v = std::strtod(s, &end);
    if (end != s && v > 0) return v;
  }
  return 25;
}

// "2026-01-02 03:04:05.678", as the daemon's log lines start.
std::string wall_clock() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

// What RandomFaults does to a path, and how often it changes its mind.
struct FaultKind {
  std::string verb, undo_verb;
  void (NbdPath::*apply)();
  void (NbdPath::*undo)();
  int min_ms, max_ms;
};
// Real EIO from nbdkit's error filter, every 100-300 ms.
const FaultKind kErrors{"fail", "heal", &NbdPath::fail, &NbdPath::heal, 100, 300};
// The server stops answering (SIGSTOP) for 0.2-2.5 s: some freezes end
// before io_timeout (1 s), most outlast it.
const FaultKind kFreezes{"freeze", "thaw", &NbdPath::freeze, &NbdPath::thaw, 200, 2500};

// Breaks and mends paths underneath at random: each tick moves to another
// state among "none broken" and "path i broken", mending before breaking,
// so at most one path is broken at any time.  The destructor stops it and
// mends everything.
class RandomFaults {
 public:
  RandomFaults(std::vector<NbdPath*> paths, uint32_t seed, const FaultKind& kind = kErrors)
      : paths_(std::move(paths)), kind_(kind), rng_(seed) {
    thread_ = std::thread([this] { loop(); });
  }
  ~RandomFaults() { stop(); }
  RandomFaults(const RandomFaults&) = delete;
  RandomFaults& operator=(const RandomFaults&) = delete;

  void stop() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    for (auto* p : paths_) (p->*kind_.undo)();
  }
  int fails() const { return fails_.load(); }
  int heals() const { return heals_.load(); }
  // The last transitions, with wall-clock times in the daemon log's format.
  std::string recent() const {
    std::lock_guard<std::mutex> lk(mu_);
    std::string s;
    for (auto& e : events_) s += e + "\n";
    return s;
  }

 private:
  void loop() {
    std::uniform_int_distribution<int> ms(kind_.min_ms, kind_.max_ms);
    std::uniform_int_distribution<int> pick(0, static_cast<int>(paths_.size()));  // 0 = none failed
    int state = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(mu_);
        if (cv_.wait_for(lk, std::chrono::milliseconds(ms(rng_)), [this] { return stop_; })) return;
      }
      int next;
      do next = pick(rng_);
      while (next == state);
      std::string ev;
      if (state > 0) {
        (paths_[state - 1]->*kind_.undo)();
        ++heals_;
        ev += kind_.undo_verb + " " + paths_[state - 1]->file() + " ";
      }
      if (next > 0) {
        (paths_[next - 1]->*kind_.apply)();
        ++fails_;
        ev += kind_.verb + " " + paths_[next - 1]->file();
      }
      state = next;
      record(ev);
    }
  }

  void record(const std::string& what) {
    std::lock_guard<std::mutex> lk(mu_);
    events_.push_back(wall_clock() + " " + what);
    if (events_.size() > 12) events_.erase(events_.begin());
  }

  std::vector<NbdPath*> paths_;
  const FaultKind& kind_;
  std::mt19937 rng_;
  mutable std::mutex mu_;
  std::vector<std::string> events_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<int> fails_{0}, heals_{0};
  std::thread thread_;
};

json torture_options() {
  // The checker brings a healed path back within a second; the rest quiet.
  // Random faults every 100-300 ms are the point here, not flapping: no hold-down.
  return {{"workers", 8},         {"check_interval", 1}, {"failback", "immediate"},
          {"no_path_retry", 0},   {"io_timeout", 10},    {"flap_threshold", 64}};
}

uint64_t total_errors(const json& st) {
  uint64_t n = 0;
  for (auto& p : st.at("paths")) n += p.value("errors", uint64_t(0));
  return n;
}

// Runs fio passes on target until `seconds` have passed, with random faults
// underneath; checks every pass.
void torture(const TempDir& tmp, const Daemon& d, NbdPath& a, NbdPath& b, const std::string& target,
             uint64_t size, const std::string& label, const FaultKind& kind = kErrors) {
  const double budget = torture_seconds();
  uint64_t written = 0, verified = 0, worst_w = 0, worst_r = 0;
  int passes = 0, fails = 0;
  double t0 = now_s();
  {
    RandomFaults faults({&a, &b}, 0x5eed + static_cast<uint32_t>(label.size()), kind);
    for (uint32_t seed = 1; passes == 0 || now_s() - t0 < budget; ++seed) {
      FioRun r = run_fio(tmp, target, size, seed, budget + 300);
      std::string ended = wall_clock();
      ++passes;
      CAPTURE(label, passes, seed, r.seconds, ended);
      INFO("last faults underneath:\n" << faults.recent());
      INFO("fio: " << r.run.describe());
      REQUIRE_FALSE(r.run.timed_out);
      CHECK(r.run.exit_code() == 0);
      REQUIRE(r.out.is_object());
      CHECK(r.job_error == 0);
      CHECK_FALSE(contains(r.run.output, "verify"));
      CHECK_FALSE(contains(r.run.output, "error"));
      // Everything written was read back and verified.
      CHECK(r.written == size);
      CHECK(r.verified == r.written);
      written += r.written;
      verified += r.verified;
      worst_w = std::max(worst_w, r.write_clat_max_ns);
      worst_r = std::max(worst_r, r.read_clat_max_ns);
      if (r.run.exit_code() != 0 || r.job_error != 0) break;  // one failure tells it
    }
    faults.stop();
    fails = faults.fails();
  }
  double dt = now_s() - t0;
  json st = d.status("vol0");
  INFO("status.json: " << st.dump());
  // The faults really hit I/O (else the test proves nothing): about three
  // errors a second, fewer when the machine is loaded; a freeze every 1-2 s.
  CHECK(fails >= std::max(1, static_cast<int>(dt * 100 / kind.max_ms)));
  // (A freeze shows as timeouts, not errors: the caller checks those.)
  if (&kind == &kErrors) CHECK(total_errors(st) > 0);
  std::ostringstream msg;
  msg.precision(1);
  msg << std::fixed << "torture " << label << ": " << passes << " fio passes in " << dt << " s, "
      << written / MiB << " MiB written and " << verified / MiB << " MiB verified, " << fails
      << " path faults (" << kind.verb << ") underneath, " << total_errors(st) << " path errors seen by mpathfs; worst clat: write "
      << worst_w / 1e6 << " ms, read " << worst_r / 1e6 << " ms";
  INFO(msg.str());
  WARN(msg.str());
  // Healed paths come back (checker, failback=immediate).
  CHECK(wait_until([&] { return d.status("vol0").at("state") == "OPTIMAL"; }, 5, 0.1));
}

}  // namespace

namespace {
// Two nbd paths over one 256 MiB image and a daemon with volume vol0 on them
// (torn down in reverse: the daemon first).
struct Rig {
  static constexpr uint64_t kSize = 256 * MiB;
  TempDir tmp;
  std::string img = make_zero_file(tmp / "disk.img", kSize);
  NbdPath a{tmp, img, "a"};
  NbdPath b{tmp, img, "b"};
  Daemon d;
  Rig(const std::string& mode, const json& opts)
      : d(tmp, write_config(tmp, opts, json::array({volume_spec("vol0", {a.file(), b.file()}, mode)}))) {}
};
}  // namespace

TEST_CASE("torture: fio verify on a volume while paths fail underneath, in each mode", "[torture]") {
  const std::string mode = GENERATE(as<std::string>{}, "active-passive", "active-active", "active-read");
  CAPTURE(mode);
  Rig r(mode, torture_options());
  REQUIRE(r.d.status("vol0").at("mode") == mode);
  torture(r.tmp, r.d, r.a, r.b, r.d.vol("vol0"), Rig::kSize, mode + " (volume file)");
}

TEST_CASE("torture: fio verify through a loop device on a volume while paths fail underneath", "[torture]") {
  Rig r("active-active", torture_options());
  LoopDevice loop(r.d.vol("vol0"));
  torture(r.tmp, r.d, r.a, r.b, loop.dev(), Rig::kSize, "active-active (loop device)");
}

TEST_CASE("torture: fio verify while paths freeze and thaw underneath (io_timeout)", "[torture]") {
  json opts = torture_options();
  opts["io_timeout"] = 1;
  Rig r("active-active", opts);
  torture(r.tmp, r.d, r.a, r.b, r.d.vol("vol0"), Rig::kSize, "active-active (freeze/thaw)", kFreezes);
  // Requests really outlived io_timeout on a frozen path (else this is the
  // other torture again): the daemon logs each path that timed out.
  const std::string log = r.d.log();
  size_t timeouts = 0;
  for (size_t at = log.find("did not answer a request"); at != std::string::npos;
       at = log.find("did not answer a request", at + 1))
    ++timeouts;
  WARN("io_timeout expiries logged: " << timeouts);
  CHECK(timeouts > 0);
}
