// Volume::flush: every good path in parallel, bounded by io_timeout (on a
// FakeClock: the deadline passes when the test moves the clock).
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <vector>

#include "unit/fake_clock.hpp"
#include "unit/fake_path_io.hpp"

using namespace mpathfs;
using namespace mpathfs::test;
using namespace std::chrono_literals;

namespace {
VolumeSettings timeout_settings(double s, Mode m = Mode::kActivePassive) {
  VolumeSettings v = default_volume_settings(m);
  v.io_timeout = s;
  return v;
}
}  // namespace

TEST_CASE("flush: a path whose fdatasync hangs is failed after io_timeout, the flush succeeds on the others",
          "[flush][io_timeout]") {
  FakeClock clock;
  FakeVolume fv(3, {}, timeout_settings(0.3), 1 << 20, clock);
  fv.io(0).sync_hang = true;
  LogCapture log;
  auto flush = std::async(std::launch::async, [&] { return fv.vol->flush(); });
  REQUIRE(clock.wait_for_waiters(1));
  // The others flushed (their threads answered) and p0's flusher is inside
  // its fdatasync (a new thread: it may not have run yet) before the clock moves.
  REQUIRE(eventually([&] { return fv.io(1).syncs == 1 && fv.io(2).syncs == 1; }));
  REQUIRE(fv.io(0).wait_hung(1));
  clock.advance(299'999'999);
  REQUIRE(clock.wait_for_waiters(1));
  CHECK(flush.wait_for(0ms) == std::future_status::timeout);  // not before io_timeout
  clock.advance(1);
  REQUIRE(flush.wait_for(10s) == std::future_status::ready);
  CHECK(flush.get() == 0);
  CHECK(fv.state_of(0) == PathState::kFail);
  CHECK(fv.vol->status().paths[0].last_error == std::optional<std::string>("ETIMEDOUT"));
  CHECK(fv.vol->state() == VolumeState::kDegraded);
  CHECK(fv.io(1).syncs == 1);
  CHECK(fv.io(2).syncs == 1);
  CHECK(log.count("did not answer a flush") == 1);
  CHECK(fv.vol->flush_hung());  // p0's thread is still inside fdatasync

  // The next flush skips the FAIL path and does not wait for it.
  CHECK(finishes_at_once([&] { return fv.vol->flush(); }) == 0);
  fv.io(0).release();
  CHECK(eventually([&] { return !fv.vol->flush_hung(); }));
}

TEST_CASE("flush: every path hung -> EIO after io_timeout, not after the hang", "[flush][io_timeout]") {
  FakeClock clock;
  FakeVolume fv(2, {}, timeout_settings(0.2), 1 << 20, clock);
  fv.io(0).sync_hang = true;
  fv.io(1).sync_hang = true;
  auto flush = std::async(std::launch::async, [&] { return fv.vol->flush(); });
  REQUIRE(clock.wait_for_waiters(1));
  clock.advance(200'000'000);  // one deadline for both paths
  REQUIRE(flush.wait_for(10s) == std::future_status::ready);
  CHECK(flush.get() == -EIO);
  fv.io(0).release();
  fv.io(1).release();
}

TEST_CASE("flush: concurrent flushes share the paths' fdatasync and all answer", "[flush]") {
  FakeVolume fv(2);
  std::vector<std::future<int>> futs;
  for (int i = 0; i < 8; ++i) futs.push_back(std::async(std::launch::async, [&] { return fv.vol->flush(); }));
  for (auto& f : futs) CHECK(f.get() == 0);
  CHECK(fv.io(0).syncs >= 1);
  CHECK(fv.io(0).syncs <= 8);
  CHECK(fv.state_of(0) == PathState::kActive);
}

TEST_CASE("flush: the fdatasync that answers a flush starts after the flush was asked", "[flush]") {
  // A write acknowledged before fsync must be covered: an fdatasync already
  // running when the flush is asked does not count.
  FakeClock clock;
  FakeVolume fv(1, {}, timeout_settings(5), 1 << 20, clock);
  fv.io(0).sync_hang = true;
  auto first = std::async(std::launch::async, [&] { return fv.vol->flush(); });
  REQUIRE(fv.io(0).wait_hung(1));
  auto second = std::async(std::launch::async, [&] { return fv.vol->flush(); });
  REQUIRE(clock.wait_for_waiters(2));  // both asked, both wait
  fv.io(0).release();  // the first fdatasync returns; the second flush needs one more
  CHECK(first.get() == 0);
  CHECK(second.get() == 0);
  CHECK(fv.io(0).syncs == 2);
}

TEST_CASE("a path failed by hand stays FAIL when a request in flight on it answers later", "[failover][admin]") {
  for (Mode m : {Mode::kActiveActive, Mode::kActivePassive}) {
    INFO(mode_name(m));
    FakeVolume fv(2, {}, default_volume_settings(m));
    auto data = pattern(512, 3);
    REQUIRE(fv.write(0, data) == 512);
    fv.io(0).set_hang();
    // Reads until one hangs on p0: in active-active a read that p1 answers
    // at once leaves both paths idle, and the next may go to p1 again.
    auto one_read = [&] {
      IoContext ctx(1 << 20);
      const std::byte* d = nullptr;
      return fv.vol->read(ctx, 512, 0, &d).value();
    };
    std::vector<std::future<ssize_t>> reads;
    for (int i = 0; i < 16 && !fv.io(0).wait_hung(1, std::chrono::milliseconds(50)); ++i)
      reads.push_back(std::async(std::launch::async, one_read));
    REQUIRE(fv.io(0).wait_hung(1));
    REQUIRE(fv.vol->fail_path("p0"));
    fv.io(0).release();
    for (auto& r : reads) CHECK(r.get() == 512);  // a late answer is still a good answer
    CHECK(fv.state_of(0) == PathState::kFail);
    CHECK(fv.active() == "p1");
    // Later requests avoid it; only restore brings it back.
    const uint64_t before = fv.io(0).reads;
    for (int i = 0; i < 20; ++i) REQUIRE(fv.read(0, 512) == 512);
    CHECK(fv.io(0).reads == before);
    REQUIRE(fv.vol->restore_path("p0"));
    CHECK(fv.state_of(0) != PathState::kFail);
  }
}

TEST_CASE("when the last good path fails the restore-all rule brings back a path failed by hand", "[failover][admin]") {
  FakeVolume fv(2);
  REQUIRE(fv.vol->fail_path("p0"));
  fv.io(1).read_errno = EIO;
  // p1 fails: gmultipath's restore-all rule brings p0 back (the admin's
  // fail yields to keeping the volume up) and the read is served there.
  CHECK(fv.read(0, 512) == 512);
  CHECK(fv.state_of(1) == PathState::kFail);
}
