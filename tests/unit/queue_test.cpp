// no_path_retry queueing (multipathd's queue_if_no_path) on a FakeClock:
// a request waits while the volume is BROKEN, ends when a path returns, the
// setting changes, its caller is killed, or no_path_retry seconds pass.
#include <catch2/catch.hpp>

#include <future>
#include <thread>

#include "unit/failover_helpers.hpp"
#include "unit/fake_clock.hpp"
#include "unit/fake_path_io.hpp"

using namespace mpathfs;
using namespace mpathfs::test;
using namespace std::chrono_literals;

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
