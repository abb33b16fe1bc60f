// Failure handling (SPEC "Failure handling"; gmultipath-notes §4):
// failover on path errors, gmultipath's restore-all rule, gone paths,
// no_path_retry queueing and flush.  Time windows (queueing, io_timeout)
// run on a FakeClock: "at once" means "without the clock moving".
#include <catch2/catch.hpp>

#include <future>
#include <thread>

#include "core/block_locks.hpp"
#include "core/errno_class.hpp"
#include "core/watchdog.hpp"
#include "unit/fake_clock.hpp"
#include "unit/fake_path_io.hpp"

using namespace mpathfs;
using namespace mpathfs::test;
using namespace std::chrono_literals;

namespace {

VolumeSettings with_npr(int npr, Mode m = Mode::kActivePassive) {
  auto s = FakeVolume::default_settings(m);
  s.no_path_retry = npr;
  return s;
}

// Makes every path of fv answer err, then runs one write so the volume
// ends BROKEN (all paths FAIL).  no_path_retry must be 0 at that time.
void break_volume(FakeVolume& fv, int err = EIO) {
  for (auto* io : fv.ios) {
    io->read_errno = err;
    io->write_errno = err;
  }
  REQUIRE(fv.vol->no_path_retry() == 0);
  REQUIRE(fv.write(0, 512, std::byte{1}) == -EIO);
  REQUIRE(fv.vol->state() == VolumeState::kBroken);
}

void heal(FakeVolume& fv) {
  for (auto* io : fv.ios) {
    io->read_errno = 0;
    io->write_errno = 0;
    io->fail_next = 0;
  }
}

}  // namespace

TEST_CASE("errno classification: device/transport errors fail over, request errors do not", "[failover][errno]") {
  for (int e : {EIO, ENXIO, ENODEV, ETIMEDOUT, ENOTCONN, ECONNABORTED, ECONNRESET, ESHUTDOWN}) {
    INFO(errno_name(e));
    CHECK(is_path_error(e));
  }
  for (int e : {EINVAL, ENOSPC, EFBIG}) {
    INFO(errno_name(e));
    CHECK_FALSE(is_path_error(e));
  }
  CHECK(is_gone_error(ENXIO));
  CHECK(is_gone_error(ENODEV));
  CHECK_FALSE(is_gone_error(EIO));
  CHECK_FALSE(is_gone_error(ETIMEDOUT));
  CHECK(errno_name(EIO) == "EIO");
}

TEST_CASE("a path error on the active path fails it over to the next path", "[failover]") {
  const int err = GENERATE(EIO, ENXIO, ETIMEDOUT, ENOTCONN, ECONNABORTED);
  INFO("errno " << errno_name(err));
  const bool write = GENERATE(true, false);
  INFO((write ? "write" : "read"));
  FakeVolume fv(3);
  auto data = pattern(4096, 5);
  REQUIRE(fv.write(0, data) == 4096);
  fv.io(0).fail_next_errno = err;
  fv.io(0).fail_next = 1;
  if (write) {
    auto d2 = pattern(4096, 6);
    CHECK(fv.write(0, d2) == 4096);
    CHECK(fv.disk->get(0, 4096) == d2);
  } else {
    std::vector<std::byte> got;
    CHECK(fv.read(0, 4096, &got) == 4096);
    CHECK(got == data);
  }
  CHECK(fv.state_of(0) == PathState::kFail);
  CHECK(fv.state_of(1) == PathState::kActive);
  CHECK(fv.state_of(2) == PathState::kPassive);
  CHECK(fv.active() == "p1");
  CHECK(fv.vol->state() == VolumeState::kDegraded);
  auto st = fv.vol->status();
  CHECK(st.paths[0].errors == 1);
  REQUIRE(st.paths[0].last_error);
  CHECK(*st.paths[0].last_error == std::string(errno_name(err)));
  // The next request goes straight to the new active path.
  CHECK(fv.read(0, 512) == 512);
  CHECK(fv.path(1).counters().reads >= 1);
}

TEST_CASE("failover moves the active path to the next in join order, wrapping", "[failover]") {
  FakeVolume fv(3);
  REQUIRE(fv.vol->prefer("p2"));
  fv.io(2).fail_next = 1;
  REQUIRE(fv.write(0, 512, std::byte{1}) == 512);
  CHECK(fv.active() == "p0");  // after p2 comes p0
  CHECK(fv.state_of(2) == PathState::kFail);
  CHECK(fv.path(0).counters().writes == 1);
  // p0 fails next: p1 (p2 is FAIL).
  fv.io(0).fail_next = 1;
  REQUIRE(fv.write(0, 512, std::byte{2}) == 512);
  CHECK(fv.active() == "p1");
}

TEST_CASE("failover skips FAIL paths on the way", "[failover]") {
  FakeVolume fv(4);
  REQUIRE(fv.vol->fail_path("p1"));
  REQUIRE(fv.vol->fail_path("p2"));
  fv.io(0).write_errno = EIO;
  REQUIRE(fv.write(0, 512, std::byte{1}) == 512);
  CHECK(fv.active() == "p3");
  CHECK(fv.io(1).writes == 0);
  CHECK(fv.io(2).writes == 0);
}

TEST_CASE("request errors (EINVAL, ENOSPC, EFBIG) are returned, not failed over", "[failover]") {
  const int err = GENERATE(EINVAL, ENOSPC, EFBIG);
  INFO(errno_name(err));
  FakeVolume fv(2);
  fv.io(0).fail_next_errno = err;
  fv.io(0).fail_next = 1;
  CHECK(fv.write(0, 512, std::byte{1}) == -err);
  fv.io(0).fail_next = 1;
  CHECK(fv.read(0, 512) == -err);
  CHECK(fv.state_of(0) == PathState::kActive);
  CHECK(fv.state_of(1) == PathState::kPassive);
  CHECK(fv.vol->state() == VolumeState::kOptimal);
  CHECK(fv.io(1).writes + fv.io(1).reads == 1);  // only add_path's probe read
}

TEST_CASE("restore_on_error: the last good path errs, the failed one is restored and serves", "[failover][gmultipath]") {
  // FreeBSD tests/sys/geom/class/multipath: md0 failed by hand, md1 errors
  // on write -> the write succeeds, md0 ACTIVE, md1 FAIL, volume DEGRADED.
  LogCapture log;
  FakeVolume fv(2);
  REQUIRE(fv.vol->fail_path("p0"));
  REQUIRE(fv.active() == "p1");
  fv.io(1).write_errno = EIO;
  auto d = pattern(4096, 9);
  CHECK(fv.write(0, d) == 4096);
  CHECK(fv.disk->get(0, 4096) == d);
  CHECK(fv.state_of(0) == PathState::kActive);
  CHECK(fv.state_of(1) == PathState::kFail);
  CHECK(fv.vol->state() == VolumeState::kDegraded);
  CHECK(fv.active() == "p0");
  CHECK(log.count("restore p0") == 1);
}

TEST_CASE("failloop: every path errs persistently -> EIO, restores bounded, no loop", "[failover][gmultipath]") {
  const size_t n = GENERATE(2u, 3u);
  INFO(n << " paths");
  LogCapture log;
  FakeClock clock;
  FakeVolume fv(n, {}, FakeVolume::default_settings(), 1 << 20, clock);
  for (auto* io : fv.ios) io->write_errno = EIO;
  CHECK(finishes_at_once([&] { return fv.write(0, 4096, std::byte{1}); }) == -EIO);
  uint64_t attempts = 0;
  for (auto* io : fv.ios) attempts += io->errors;
  CHECK(attempts <= 2 * n);
  CHECK(log.count("all paths were marked FAIL") <= 2 * n);
  // One restore round: each path but the last failed one was restored once.
  CHECK(log.count("all paths were marked FAIL") == n - 1);
  CHECK(fv.vol->state() == VolumeState::kBroken);
  // Later requests fail at once (no_path_retry 0) without touching the paths.
  uint64_t before = attempts;
  CHECK(fv.read(0, 512) == -EIO);
  attempts = 0;
  for (auto* io : fv.ios) attempts += io->errors;
  CHECK(attempts == before);
}

TEST_CASE("a device error on the last good path is retried there once more (restore-all rule)", "[failover][gmultipath]") {
  // Both paths fail once (a transient, device-caused error): the request
  // still succeeds and the volume is not BROKEN.
  FakeVolume fv(2);
  fv.io(0).fail_next = 1;
  fv.io(1).fail_next = 1;
  auto d = pattern(512, 2);
  CHECK(fv.write(0, d) == 512);
  CHECK(fv.disk->get(0, 512) == d);
  CHECK(fv.vol->state() == VolumeState::kDegraded);
  CHECK(fv.state_of(0) == PathState::kActive);
  CHECK(fv.state_of(1) == PathState::kFail);
}

TEST_CASE("single-path volume: a transient error is retried on that very path", "[failover][gmultipath]") {
  FakeVolume fv(1);
  fv.io(0).fail_next = 1;
  CHECK(fv.write(0, 512, std::byte{1}) == 512);
  CHECK(fv.state_of(0) == PathState::kActive);
  CHECK(fv.vol->state() == VolumeState::kDegraded);  // one path: no redundancy
  // A persistent error: EIO, the path is FAIL, the volume BROKEN.
  fv.io(0).write_errno = EIO;
  CHECK(fv.write(0, 512, std::byte{1}) == -EIO);
  CHECK(fv.io(0).errors == 3);  // the transient one, then two tries
  CHECK(fv.state_of(0) == PathState::kFail);
  CHECK(fv.vol->state() == VolumeState::kBroken);
  CHECK(fv.active() == "none");
  // restore by hand brings it back.
  fv.io(0).write_errno = 0;
  REQUIRE(fv.vol->restore_path("p0"));
  CHECK(fv.write(0, 512, std::byte{1}) == 512);
  CHECK(fv.active() == "p0");
}

TEST_CASE("ENXIO/ENODEV mark a path lost, all_lost() when every path is gone", "[failover][lost]") {
  const int err = GENERATE(ENXIO, ENODEV);
  INFO(errno_name(err));
  FakeVolume fv(2);
  fv.io(0).read_errno = err;
  fv.io(0).write_errno = err;
  CHECK(fv.write(0, 512, std::byte{1}) == 512);
  CHECK(fv.path(0).lost());
  CHECK_FALSE(fv.path(1).lost());
  CHECK_FALSE(fv.vol->all_lost());
  CHECK(fv.vol->status().paths[0].lost);
  fv.io(1).read_errno = err;
  fv.io(1).write_errno = err;
  CHECK(fv.write(0, 512, std::byte{1}) == -EIO);
  CHECK(fv.path(1).lost());
  CHECK(fv.vol->all_lost());
  CHECK(fv.vol->state() == VolumeState::kBroken);
  // A lost path is not restored by the restore-all rule: p0 was not retried.
  CHECK(fv.io(0).errors == 1);
}

TEST_CASE("a gone path is not retried and a lost volume fails at once even with queueing", "[failover][lost]") {
  FakeClock clock;
  FakeVolume fv(1, {}, with_npr(-1), 1 << 20, clock);
  fv.io(0).write_errno = ENXIO;
  CHECK(finishes_at_once([&] { return fv.write(0, 512, std::byte{1}); }) == -EIO);
  CHECK(fv.vol->all_lost());
  CHECK(fv.io(0).errors == 1);
}

TEST_CASE("no_path_retry 0: a BROKEN volume fails requests with EIO at once", "[failover][queue]") {
  FakeClock clock;
  FakeVolume fv(2, {}, FakeVolume::default_settings(), 1 << 20, clock);
  break_volume(fv);
  heal(fv);
  CHECK(finishes_at_once([&] { return fv.read(0, 512); }) == -EIO);
  CHECK(finishes_at_once([&] { return fv.write(0, 512, std::byte{1}); }) == -EIO);
}

TEST_CASE("no_path_retry N: a request waits and succeeds when a path is restored in time", "[failover][queue]") {
  FakeClock clock;
  FakeVolume fv(2, {}, FakeVolume::default_settings(), 1 << 20, clock);
  break_volume(fv);
  heal(fv);
  fv.vol->set_no_path_retry(2);
  auto d = pattern(512, 4);
  auto fut = std::async(std::launch::async, [&] {
    IoContext ctx(1 << 20);
    return fv.vol->write(ctx, d.data(), d.size(), 0).value();
  });
  REQUIRE(clock.wait_for_waiters(1));
  CHECK(fv.vol->status().queued == 1);
  const uint64_t t0 = clock.now_ns();
  clock.advance_s(1.9);  // not yet no_path_retry
  REQUIRE(clock.wait_for_deadline(t0 + 2'000'000'000));
  CHECK(fut.wait_for(0ms) == std::future_status::timeout);  // really waiting
  REQUIRE(fv.vol->restore_path("p1"));
  // Woken by the restore, not by a poll: the clock stands still.
  REQUIRE(fut.wait_for(10s) == std::future_status::ready);
  CHECK(fut.get() == 512);
  CHECK(fv.disk->get(0, 512) == d);
  CHECK(fv.vol->status().queued == 0);
  CHECK(fv.active() == "p1");
}

TEST_CASE("no_path_retry N: EIO after about N seconds without a path", "[failover][queue]") {
  FakeClock clock;
  FakeVolume fv(2, {}, FakeVolume::default_settings(), 1 << 20, clock);
  break_volume(fv);
  fv.vol->set_no_path_retry(1);
  auto fut = std::async(std::launch::async, [&] { return fv.read(0, 512); });
  REQUIRE(clock.wait_for_waiters(1));
  clock.advance(999'999'999);
  REQUIRE(clock.wait_for_waiters(1));
  CHECK(fut.wait_for(0ms) == std::future_status::timeout);
  clock.advance(1);  // exactly no_path_retry seconds
  REQUIRE(fut.wait_for(10s) == std::future_status::ready);
  CHECK(fut.get() == -EIO);
  CHECK(fv.vol->status().queued == 0);
}

TEST_CASE("no_path_retry -1: a request waits until a path is restored", "[failover][queue]") {
  FakeClock clock;
  FakeVolume fv(2, {}, FakeVolume::default_settings(), 1 << 20, clock);
  break_volume(fv);
  heal(fv);
  fv.vol->set_no_path_retry(-1);
  auto fut = std::async(std::launch::async, [&] {
    IoContext ctx(1 << 20);
    const std::byte* d = nullptr;
    return fv.vol->read(ctx, 512, 0, &d).value();
  });
  REQUIRE(clock.wait_for_waiters(1));
  CHECK(fv.vol->status().queued == 1);
  // Many 1 s poll slices, and a day: still waiting.
  for (int i = 0; i < 3; ++i) {
    clock.advance_s(1.2);
    REQUIRE(clock.wait_for_waiters(1));
  }
  clock.advance_s(86400);
  REQUIRE(clock.wait_for_waiters(1));
  CHECK(fut.wait_for(0ms) == std::future_status::timeout);
  REQUIRE(fv.vol->restore_path("p0"));
  REQUIRE(fut.wait_for(10s) == std::future_status::ready);
  CHECK(fut.get() == 512);
}

TEST_CASE("set_no_path_retry(0) while waiting releases the request with EIO", "[failover][queue]") {
  FakeClock clock;
  FakeVolume fv(2, {}, FakeVolume::default_settings(), 1 << 20, clock);
  break_volume(fv);
  fv.vol->set_no_path_retry(-1);
  auto fut = std::async(std::launch::async, [&] {
    IoContext ctx(1 << 20);
    std::byte b{1};
    return fv.vol->write(ctx, &b, 1, 0).value();
  });
  REQUIRE(clock.wait_for_waiters(1));
  fv.vol->set_no_path_retry(0);
  REQUIRE(fut.wait_for(10s) == std::future_status::ready);  // the clock stands still
  CHECK(fut.get() == -EIO);
  CHECK(fv.vol->status().queued == 0);
}

TEST_CASE("shortening no_path_retry while waiting takes effect", "[failover][queue]") {
  FakeClock clock;
  FakeVolume fv(2, {}, FakeVolume::default_settings(), 1 << 20, clock);
  break_volume(fv);
  fv.vol->set_no_path_retry(-1);
  auto fut = std::async(std::launch::async, [&] { return fv.read(0, 512); });
  REQUIRE(clock.wait_for_waiters(1));
  clock.advance_s(0.5);  // into a 1 s poll slice
  const uint64_t t0 = clock.now_ns();
  fv.vol->set_no_path_retry(1);
  // The waiter re-arms at once for 1 s from now, not at the end of its slice.
  REQUIRE(clock.wait_for_deadline(t0 + 1'000'000'000));
  CHECK(fut.wait_for(0ms) == std::future_status::timeout);
  clock.advance_s(1);
  REQUIRE(fut.wait_for(10s) == std::future_status::ready);
  CHECK(fut.get() == -EIO);
}

TEST_CASE("shut_down releases a waiting request with EIO", "[failover][queue]") {
  FakeVolume fv(2);
  break_volume(fv);
  fv.vol->set_no_path_retry(-1);
  auto fut = std::async(std::launch::async, [&] {
    IoContext ctx(1 << 20);
    std::byte b{1};
    return fv.vol->write(ctx, &b, 1, 0).value();
  });
  REQUIRE(eventually([&] { return fv.vol->status().queued == 1; }));
  fv.vol->shut_down();
  REQUIRE(fut.wait_for(2s) == std::future_status::ready);
  CHECK(fut.get() == -EIO);
}

TEST_CASE("a waiting request tells the worker pool it blocks", "[failover][queue]") {
  struct Observer : BlockingObserver {
    std::atomic<int> begins{0}, ends{0};
    void blocking_begin() noexcept override { ++begins; }
    void blocking_end() noexcept override { ++ends; }
  } obs;
  FakeVolume fv(2);
  break_volume(fv);
  heal(fv);
  fv.vol->set_no_path_retry(-1);
  auto fut = std::async(std::launch::async, [&] {
    IoContext ctx(1 << 20, &obs);
    const std::byte* d = nullptr;
    return fv.vol->read(ctx, 512, 0, &d).value();
  });
  REQUIRE(eventually([&] { return obs.begins.load() == 1; }));
  CHECK(obs.ends == 0);
  REQUIRE(fv.vol->restore_path("p0"));
  REQUIRE(fut.wait_for(2s) == std::future_status::ready);
  CHECK(fut.get() == 512);
  CHECK(obs.ends == 1);
}

// Counts what a worker tells its pool about long requests.
struct BusyCounter : BlockingObserver {
  std::atomic<int> begins{0}, ends{0};
  void blocking_begin() noexcept override {}
  void blocking_end() noexcept override {}
  void busy_begin() noexcept override { ++begins; }
  void busy_end() noexcept override { ++ends; }
};

// A transport's hooks as a test drives them: interrupt() plays FUSE's
// INTERRUPT, `dying` the caller's pending SIGKILL.
struct FakeCaller {
  std::mutex mu;
  Interruption* watcher = nullptr;
  bool interrupted = false;
  std::atomic<bool> dying{false};
  std::atomic<int> watches{0}, unwatches{0};
  static void watch(void* c, Interruption* w) {
    auto* self = static_cast<FakeCaller*>(c);
    std::lock_guard lk(self->mu);
    (w ? self->watches : self->unwatches)++;
    self->watcher = w;
    if (w && self->interrupted) w->interrupted();
  }
  static bool caller_dying(void* c) { return static_cast<FakeCaller*>(c)->dying.load(); }
  static void done(void*, const std::byte*, ssize_t) {}
  void interrupt() {
    std::lock_guard lk(mu);
    interrupted = true;
    if (watcher) watcher->interrupted();
  }
  static constexpr ReplyHooks kHooks{&FakeCaller::watch, &FakeCaller::caller_dying};
  IoReply reply{this, &FakeCaller::done, &kHooks};
};

TEST_CASE("a queued request ends with EINTR once its caller is interrupted and dying", "[failover][queue]") {
  FakeClock clock;
  FakeVolume fv(2, {}, FakeVolume::default_settings(), 1 << 20, clock);
  break_volume(fv);
  fv.vol->set_no_path_retry(-1);
  FakeCaller caller;
  auto fut = std::async(std::launch::async, [&] {
    IoContext ctx(1 << 20);
    const std::byte* d = nullptr;
    return fv.vol->read(ctx, 512, 0, &d, &caller.reply).value();
  });
  REQUIRE(clock.wait_for_waiters(1));
  CHECK(fv.vol->status().queued == 1);
  CHECK(caller.watches == 1);
  // A signal that does not kill (SIGCHLD, SIGWINCH): it keeps waiting,
  // now looking for a fatal signal every 100 ms.
  const uint64_t t0 = clock.now_ns();
  caller.interrupt();
  REQUIRE(clock.wait_for_deadline(t0 + 100'000'000));
  for (int i = 1; i <= 4; ++i) {
    clock.advance(100'000'000);
    REQUIRE(clock.wait_for_deadline(t0 + (i + 1) * 100'000'000ull));
  }
  CHECK(fut.wait_for(0ms) == std::future_status::timeout);
  // The fatal signal came later (no second INTERRUPT): it ends at the
  // next look.
  caller.dying = true;
  clock.advance(100'000'000);
  REQUIRE(fut.wait_for(10s) == std::future_status::ready);
  CHECK(fut.get() == -EINTR);
  CHECK(caller.unwatches == 1);  // no call after it returned
  CHECK(fv.vol->status().queued == 0);
}

TEST_CASE("a queued request of an already dying caller ends at once", "[failover][queue]") {
  FakeClock clock;
  FakeVolume fv(2, {}, FakeVolume::default_settings(), 1 << 20, clock);
  break_volume(fv);
  fv.vol->set_no_path_retry(-1);
  FakeCaller caller;
  caller.interrupt();
  caller.dying = true;
  CHECK(finishes_at_once([&] {
          std::byte b{1};
          IoContext ctx(1 << 20);
          return fv.vol->write(ctx, &b, 1, 0, &caller.reply).value();
        }) == -EINTR);
  CHECK(fv.vol->status().queued == 0);
}

TEST_CASE("long requests and slow paths tell the pool they are busy but fast short ones do not", "[failover][busy]") {
  BusyCounter obs;
  FakeVolume fv(2);
  IoContext ctx(1 << 20, &obs);
  const std::byte* d = nullptr;
  REQUIRE(fv.vol->read(ctx, 4096, 0, &d).value() == 4096);
  CHECK(obs.begins == 0);
  REQUIRE(fv.vol->read(ctx, 1 << 20, 0, &d).value() == 1 << 20);
  CHECK(obs.begins == 1);
  CHECK(obs.ends == 1);
}

TEST_CASE("at most kMaxQueued requests wait, more fail with EIO at once", "[failover][queue]") {
  FakeClock clock;
  FakeVolume fv(1, {}, FakeVolume::default_settings(), 1 << 20, clock);
  break_volume(fv);
  fv.vol->set_no_path_retry(-1);
  std::vector<std::future<ssize_t>> futs;
  for (uint64_t i = 0; i < kMaxQueued; ++i)
    futs.push_back(std::async(std::launch::async, [&] {
      IoContext ctx(4096);
      const std::byte* d = nullptr;
      return fv.vol->read(ctx, 512, 0, &d).value();
    }));
  REQUIRE(eventually([&] { return fv.vol->status().queued == kMaxQueued; }, 5000ms));
  CHECK(finishes_at_once([&] { return fv.read(0, 512); }) == -EIO);
  fv.vol->set_no_path_retry(0);
  for (auto& f : futs) CHECK(f.get() == -EIO);
}

TEST_CASE("flush fdatasyncs every good path", "[failover][flush]") {
  FakeVolume fv(3);
  REQUIRE(fv.vol->fail_path("p1"));
  CHECK(fv.vol->flush() == 0);
  CHECK(fv.io(0).syncs == 1);
  CHECK(fv.io(1).syncs == 0);  // FAIL paths are not flushed
  CHECK(fv.io(2).syncs == 1);
}

TEST_CASE("flush succeeds if at least one path could flush, a failing path is failed", "[failover][flush]") {
  FakeVolume fv(3);
  fv.io(0).sync_errno = EIO;
  fv.io(2).sync_errno = EIO;
  CHECK(fv.vol->flush() == 0);
  CHECK(fv.state_of(0) == PathState::kFail);
  CHECK(fv.state_of(1) == PathState::kActive);
  CHECK(fv.state_of(2) == PathState::kFail);
  CHECK(fv.active() == "p1");
}

TEST_CASE("flush fails with EIO only if no path could flush", "[failover][flush]") {
  FakeVolume fv(2);
  fv.io(0).sync_errno = EIO;
  fv.io(1).sync_errno = EIO;
  CHECK(fv.vol->flush() == -EIO);
  FakeVolume broken(2);
  break_volume(broken);
  CHECK(broken.vol->flush() == -EIO);
  CHECK(broken.io(0).syncs + broken.io(1).syncs == 0);
}

TEST_CASE("flush errors on every path leave a working path (gmultipath fault logic)", "[failover][flush]") {
  // g_multipath_fault restores the others when the last good path fails;
  // a flush that failed everywhere should not leave the volume BROKEN
  // when the paths still serve I/O.
  FakeVolume fv(2);
  fv.io(0).sync_errno = EIO;
  fv.io(1).sync_errno = EIO;
  CHECK(fv.vol->flush() == -EIO);
  CHECK(fv.vol->state() != VolumeState::kBroken);
}

TEST_CASE("concurrent requests during a failover all succeed", "[failover][threads]") {
  for (Mode m : {Mode::kActivePassive, Mode::kActiveActive, Mode::kActiveRead}) {
    INFO(mode_name(m));
    FakeVolume fv(3, {}, FakeVolume::default_settings(m));
    fv.io(0).fail_next = 5;
    fv.io(1).fail_next = 3;
    std::atomic<int> bad{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 6; ++t)
      ts.emplace_back([&, t] {
        IoContext ctx(1 << 20);
        for (int k = 0; k < 200; ++k) {
          std::byte b{static_cast<unsigned char>(t)};
          if (fv.vol->write(ctx, &b, 1, t * 512).value() != 1) ++bad;
          const std::byte* d = nullptr;
          if (fv.vol->read(ctx, 1, t * 512, &d).value() != 1) ++bad;
        }
      });
    for (auto& t : ts) t.join();
    CHECK(bad == 0);
    CHECK(fv.vol->state() != VolumeState::kBroken);
  }
}

// ---------------------------------------------------------------- io_timeout

namespace {

// One fake clock and one watchdog on it for the whole run, never
// destroyed: rescue threads detach their contexts from the watchdog after
// they have answered.  Its loop does not run: a test moves the clock past
// io_timeout and scans (timed_out()), so a takeover happens exactly then.
FakeClock& io_clock() {
  static auto* clock = new FakeClock;
  return *clock;
}
Watchdog& watchdog() {
  static auto* wd = new Watchdog(1 << 20, 20, io_clock());
  return *wd;
}
// io_timeout (0.2 s in these tests) passes for every request in flight.
void timed_out() {
  io_clock().advance(250'000'000);
  watchdog().scan(io_clock().now_ns());
}
// Calls blocked in the hung paths of fv.
int stuck(FakeVolume& fv) {
  int n = 0;
  for (auto* io : fv.ios) n += io->hung;
  return n;
}

// Collects the one answer of a request taken over by the watchdog.
struct ReplyBox {
  std::promise<std::pair<ssize_t, std::vector<std::byte>>> promise;
  std::future<std::pair<ssize_t, std::vector<std::byte>>> future = promise.get_future();
  std::atomic<int> calls{0};
  IoReply reply{this, &ReplyBox::done};
  static void done(void* c, const std::byte* data, ssize_t n) {
    auto* self = static_cast<ReplyBox*>(c);
    if (self->calls.fetch_add(1) == 0)
      self->promise.set_value({n, n > 0 && data ? std::vector<std::byte>(data, data + n) : std::vector<std::byte>{}});
  }
};

// Boxes live until the end of the run: a rescue thread may still be
// returning from set_value() when the test has its answer.
ReplyBox& new_box() {
  static std::mutex mu;
  static std::vector<std::unique_ptr<ReplyBox>> boxes;
  std::lock_guard lk(mu);
  return *boxes.emplace_back(std::make_unique<ReplyBox>());
}

VolumeSettings with_timeout(double s) {
  auto v = FakeVolume::default_settings();
  v.io_timeout = s;
  return v;
}

// A volume of n fake paths on the io_timeout tests' clock.
struct TimedVolume : FakeVolume {
  explicit TimedVolume(size_t n, FakeOptions o = {}, double io_timeout = 0.2)
      : FakeVolume(n, o, with_timeout(io_timeout), 1 << 20, io_clock()) {}
};

}  // namespace

TEST_CASE("io_timeout: a read a hung path does not answer is taken over and answered from the next path",
          "[failover][io_timeout]") {
  TimedVolume fv(2);
  auto data = pattern(512, 31);
  REQUIRE(fv.write(0, data) == 512);
  fv.io(0).set_hang();
  ReplyBox& box = new_box();
  std::atomic<bool> worker_taken_over{false};
  std::thread worker([&] {
    IoContext ctx(1 << 20, nullptr, &watchdog());
    const std::byte* d = nullptr;
    worker_taken_over = fv.vol->read(ctx, 512, 0, &d, &box.reply).is_taken_over();
  });
  REQUIRE(fv.io(0).wait_hung(1));
  watchdog().scan(io_clock().now_ns());  // before io_timeout: nothing happens
  CHECK(fv.state_of(0) == PathState::kActive);
  timed_out();
  REQUIRE(box.future.wait_for(10s) == std::future_status::ready);
  auto [n, got] = box.future.get();
  CHECK(n == 512);
  CHECK(got == data);
  CHECK(fv.state_of(0) == PathState::kFail);
  CHECK(fv.vol->status().paths[0].last_error == std::optional<std::string>("ETIMEDOUT"));
  CHECK(fv.active() == "p1");
  CHECK(fv.vol->abandoned() == 1);  // the worker is still stuck in p0
  fv.io(0).release();
  worker.join();
  CHECK(worker_taken_over);  // the late answer is dropped
  CHECK(box.calls == 1);
  CHECK(fv.vol->abandoned() == 0);
}

TEST_CASE("io_timeout: a late write never overwrites a newer overlapping write", "[failover][io_timeout]") {
  TimedVolume fv(2);
  fv.io(0).set_hang();
  auto old_data = pattern(4096, 1), new_data = pattern(4096, 2);
  ReplyBox& box = new_box();
  std::atomic<bool> worker_taken_over{false};
  std::thread worker([&] {
    IoContext ctx(1 << 20, nullptr, &watchdog());
    worker_taken_over = fv.vol->write(ctx, old_data.data(), old_data.size(), 0, &box.reply).is_taken_over();
  });
  REQUIRE(fv.io(0).wait_hung(1));
  timed_out();
  REQUIRE(box.future.wait_for(10s) == std::future_status::ready);
  CHECK(box.future.get().first == 4096);  // rescued on p1
  CHECK(fv.disk->get(0, 4096) == old_data);
  // A newer write to the same blocks must wait for the stale one ...
  auto newer = std::async(std::launch::async, [&] {
    IoContext ctx(1 << 20, nullptr, &watchdog());
    return fv.vol->write(ctx, new_data.data(), 1000, 3000).value();
  });
  // ... while a write elsewhere goes through.
  CHECK(fv.write(65536, 512, std::byte{7}) == 512);
  REQUIRE(io_clock().wait_for_waiters(1));  // the newer one waits for the fence
  CHECK(newer.wait_for(0ms) == std::future_status::timeout);
  // The hung path answers at last: its stale write lands, then the newer one.
  fv.io(0).release();
  worker.join();
  CHECK(worker_taken_over);
  REQUIRE(newer.wait_for(10s) == std::future_status::ready);  // lifted, not timed out
  CHECK(newer.get() == 1000);
  auto disk = fv.disk->get(0, 4096);
  CHECK(std::equal(disk.begin(), disk.begin() + 3000, old_data.begin()));
  CHECK(std::equal(disk.begin() + 3000, disk.begin() + 4000, new_data.begin()));
  CHECK(std::equal(disk.begin() + 4000, disk.end(), old_data.begin() + 4000));
}

TEST_CASE("io_timeout without a reply hook: the path is failed, the request waits for its answer",
          "[failover][io_timeout]") {
  TimedVolume fv(2);
  fv.io(0).set_hang();
  auto fut = std::async(std::launch::async, [&] {
    IoContext ctx(1 << 20, nullptr, &watchdog());
    const std::byte* d = nullptr;
    return fv.vol->read(ctx, 512, 0, &d).value();
  });
  REQUIRE(fv.io(0).wait_hung(1));
  timed_out();
  CHECK(fv.state_of(0) == PathState::kFail);
  CHECK(fut.wait_for(0ms) == std::future_status::timeout);
  // New requests avoid the hung path.
  CHECK(finishes_at_once([&] { return fv.read(0, 512); }) == 512);
  fv.io(0).release();
  REQUIRE(fut.wait_for(10s) == std::future_status::ready);
  CHECK(fut.get() == 512);
}

TEST_CASE("io_timeout: an unaligned write on a hung O_DIRECT path is rescued on the next path",
          "[failover][io_timeout][rmw]") {
  // The hung worker holds the read-modify-write stripe of the block while
  // it is stuck in the path; the rescue needs the same stripe.
  FakeOptions o;
  o.direct = true;
  o.align = 4096;
  o.kind = PathKind::kBlockDevice;
  TimedVolume fv(2, o);
  fv.io(0).set_hang();
  auto data = pattern(10, 5);
  ReplyBox& box = new_box();
  std::atomic<bool> worker_taken_over{false};
  std::thread worker([&] {
    IoContext ctx(1 << 20, nullptr, &watchdog());
    worker_taken_over = fv.vol->write(ctx, data.data(), data.size(), 100, &box.reply).is_taken_over();
  });
  REQUIRE(fv.io(0).wait_hung(1));
  timed_out();
  auto ready = box.future.wait_for(10s);
  CHECK(ready == std::future_status::ready);
  // Another unaligned write to an unrelated block that shares the stripe
  // (64 stripes of 4 KiB blocks) must not wait for the hung path either.
  auto other = std::async(std::launch::async, [&] {
    IoContext ctx(1 << 20);
    std::byte b{1};
    return fv.vol->write(ctx, &b, 1, 64 * 4096 + 7).value();
  });
  CHECK(other.wait_for(10s) == std::future_status::ready);  // no clock move needed
  fv.io(0).release();
  worker.join();
  REQUIRE(box.future.wait_for(10s) == std::future_status::ready);
  CHECK(box.future.get().first == 10);
  CHECK(other.get() == 1);
  CHECK(fv.disk->get(100, 10) == data);
  REQUIRE(eventually([&] { return fv.vol->abandoned() == 0; }));
}

TEST_CASE("io_timeout: every path hung -> the request fails after a bounded number of re-issues",
          "[failover][io_timeout][gmultipath]") {
  // "exactly like an I/O error": each path is tried, the restore-all rule
  // runs once, then EIO (no_path_retry 0) — not an endless ping-pong that
  // leaves a stuck thread behind every io_timeout.
  TimedVolume fv(2);
  fv.io(0).set_hang();
  fv.io(1).set_hang();
  ReplyBox& box = new_box();
  std::thread worker([&] {
    IoContext ctx(1 << 20, nullptr, &watchdog());
    const std::byte* d = nullptr;
    (void)fv.vol->read(ctx, 512, 0, &d, &box.reply).value();
  });
  auto answered = [&] { return box.future.wait_for(0ms) == std::future_status::ready; };
  // Each io_timeout takes over the call stuck last; its rescue gets stuck
  // on the next path, until none is left.
  for (int round = 1; round <= 6 && !answered(); ++round) {
    REQUIRE(eventually([&] { return stuck(fv) == round || answered(); }));
    if (!answered()) timed_out();
  }
  auto ready = box.future.wait_for(10s);
  CHECK(ready == std::future_status::ready);
  const int stuck_calls = stuck(fv);
  INFO("calls stuck in the hung paths: " << stuck_calls);
  CHECK(stuck_calls <= 3);
  if (ready == std::future_status::ready) CHECK(box.future.get().first == -EIO);
  // Clean up: answer everything, wait for every abandoned call to return.
  fv.io(0).release();
  fv.io(1).release();
  worker.join();
  // The answer (set_value finished) before the box goes away.
  if (ready != std::future_status::ready) CHECK(box.future.wait_for(10s) == std::future_status::ready);
  CHECK(eventually([&] { return fv.vol->abandoned() == 0; }, 10000ms));
  CHECK(box.calls == 1);
}

TEST_CASE("the watchdog tells the pool of a request running for long, the worker when it ends",
          "[failover][busy][io_timeout]") {
  BusyCounter obs;
  FakeClock clock;
  FakeVolume fv(1, {}, with_timeout(30), 1 << 20, clock);  // slow, not timed out
  fv.io(0).set_hang();
  Watchdog wd(1 << 20, 10, clock);  // its loop scans every 10 ms of the clock
  wd.start();
  REQUIRE(clock.wait_for_waiters(1));
  std::thread worker([&] {
    IoContext ctx(1 << 20, &obs, &wd);
    const std::byte* d = nullptr;
    fv.vol->read(ctx, 512, 0, &d).value();
  });
  REQUIRE(fv.io(0).wait_hung(1));
  clock.advance(10'000'000);  // a scan: running for 10 ms is not long yet
  REQUIRE(clock.wait_for_waiters(1));
  CHECK(obs.begins == 0);
  clock.advance(Watchdog::kSlowRequestNs);  // past the slow mark
  CHECK(eventually([&] { return obs.begins.load() == 1; }));
  CHECK(obs.ends == 0);
  fv.io(0).release();
  worker.join();
  wd.stop();
  CHECK(obs.begins == 1);
  CHECK(obs.ends == 1);
}

TEST_CASE("a worker waiting for a block lock tells the pool it is busy", "[failover][busy]") {
  BusyCounter obs;
  BlockLocks locks;
  const uint64_t stripe = BlockLocks::stripes_of(0, 4096);
  auto held = locks.acquire(stripe, true, &obs);
  CHECK(obs.begins == 0);  // no wait, nothing said
  auto fut = std::async(std::launch::async, [&] { return locks.acquire(stripe, true, &obs); });
  REQUIRE(eventually([&] { return obs.begins.load() == 1; }));
  CHECK(obs.ends == 0);
  locks.release(held);
  auto second = fut.get();
  CHECK(obs.ends == 1);
  locks.release(second);
}
