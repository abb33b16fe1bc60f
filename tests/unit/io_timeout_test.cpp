// io_timeout: the watchdog takes over a request a hung path does not
// answer, fails the path and fences a stale write.  On a FakeClock: a test
// moves the clock past io_timeout and scans, so a takeover happens exactly
// then.
#include <catch2/catch.hpp>

#include <future>
#include <thread>

#include "unit/failover_helpers.hpp"
#include "unit/fake_clock.hpp"
#include "unit/fake_path_io.hpp"
#include "unit/watchdog_rig.hpp"

using namespace mpathfs;
using namespace mpathfs::test;
using namespace std::chrono_literals;

namespace {

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

TEST_CASE("io_timeout: a write held on a connection cut loose is rescued at once, not at its own deadline",
          "[failover][io_timeout]") {
  // NBD: io_timeout of one request shuts the connection; a write sent on it
  // meanwhile has its answer (failed) but stays in its worker until the
  // server can no longer apply it.  Without the backend's say-so (a file
  // path) the same write waits for its own deadline.
  for (const bool holds : {true, false}) {
    INFO("backend holds cut writes: " << holds);
    FakeOptions o;
    o.holds_cut_writes = holds;
    TimedVolume fv(2, o);
    fv.io(0).set_hang();
    auto first = pattern(512, 3), second = pattern(512, 4);
    ReplyBox& box1 = new_box();
    ReplyBox& box2 = new_box();
    std::thread w1([&] {
      IoContext ctx(1 << 20, nullptr, &watchdog());
      (void)fv.vol->write(ctx, first.data(), first.size(), 0, &box1.reply);
    });
    REQUIRE(fv.io(0).wait_hung(1));
    io_clock().advance(150'000'000);  // the second write starts 0.15 s later
    std::thread w2([&] {
      IoContext ctx(1 << 20, nullptr, &watchdog());
      (void)fv.vol->write(ctx, second.data(), second.size(), 8192, &box2.reply);
    });
    REQUIRE(fv.io(0).wait_hung(2));
    io_clock().advance(100'000'000);  // the first one's io_timeout, not the second's
    watchdog().scan(io_clock().now_ns());
    REQUIRE(box1.future.wait_for(10s) == std::future_status::ready);
    CHECK(fv.state_of(0) == PathState::kFail);
    watchdog().scan(io_clock().now_ns());  // the clock has not moved
    if (holds) {
      REQUIRE(box2.future.wait_for(10s) == std::future_status::ready);
      CHECK(box2.future.get().first == 512);
      CHECK(fv.disk->get(8192, 512) == second);
      const auto s = fv.vol->status();
      CHECK(s.io_timeouts == 1);  // one request timed out; the other was cut loose
      CHECK(s.rescued == 2);
    } else {
      CHECK(box2.future.wait_for(50ms) == std::future_status::timeout);
      timed_out();
      REQUIRE(box2.future.wait_for(10s) == std::future_status::ready);
      CHECK(box2.future.get().first == 512);
    }
    fv.io(0).release();
    w1.join();
    w2.join();
    CHECK(eventually([&] { return fv.vol->abandoned() == 0; }));
  }
}
