// Failure handling (SPEC "Failure handling"; gmultipath-notes §4):
// failover on path errors, gmultipath's restore-all rule, gone paths and
// flush.  Queueing is in queue_test.cpp, io_timeout in io_timeout_test.cpp.
// Time windows run on a FakeClock: "at once" means "without the clock moving".
#include <catch2/catch.hpp>

#include <future>
#include <thread>

#include "core/block_locks.hpp"
#include "core/errno_class.hpp"
#include "unit/failover_helpers.hpp"
#include "unit/fake_clock.hpp"
#include "unit/fake_path_io.hpp"

using namespace mpathfs;
using namespace mpathfs::test;
using namespace std::chrono_literals;

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
  // No working path: the FAIL paths are asked (the restore-all rule, as a
  // request would retry them); one that flushes is back.
  FakeVolume broken(2);
  break_volume(broken);
  broken.io(0).sync_errno = EIO;
  broken.io(1).sync_errno = EIO;
  CHECK(broken.vol->flush() == -EIO);
  CHECK(broken.io(0).syncs + broken.io(1).syncs == 2);
  CHECK(broken.vol->status().state == VolumeState::kBroken);
  broken.io(1).sync_errno = 0;
  CHECK(broken.vol->flush() == 0);
  CHECK(broken.vol->status().state != VolumeState::kBroken);
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

TEST_CASE("a late error of a request issued before its path came back does not fail it again", "[failover]") {
  // The path was restored after the request went out: the error says how
  // the path was then; the return is newer evidence.  The request retries.
  FakeClock clock;
  FakeVolume fv(2, {}, FakeVolume::default_settings(), 1 << 20, clock);
  fv.io(0).set_hang();
  auto late = std::async(std::launch::async, [&] { return fv.read(0, 512); });
  REQUIRE(fv.io(0).wait_hung(1));
  clock.advance(1'000'000);
  REQUIRE(fv.vol->fail_path("p0"));
  REQUIRE(fv.vol->restore_path("p0"));
  fv.io(0).read_errno = EIO;  // the answer the hung request gets
  fv.io(0).release();
  CHECK(late.get() == 512);
  fv.io(0).read_errno = 0;
  CHECK(fv.state_of(0) != PathState::kFail);
  CHECK(fv.vol->state() == VolumeState::kOptimal);
  // A request issued now that errs fails the path as ever.
  clock.advance(1'000'000);
  fv.io(0).fail_next = 1;
  fv.io(1).fail_next = 0;
  REQUIRE(fv.vol->fail_path("p1"));
  REQUIRE(fv.vol->restore_path("p1"));
  CHECK(fv.active() == "p0");
  clock.advance(1'000'000);
  CHECK(fv.read(0, 512) == 512);
  CHECK(fv.state_of(0) == PathState::kFail);
}
