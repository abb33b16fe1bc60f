// Checker: probes FAIL paths every check_interval, restores those that
// answer as themselves (failback=immediate), never lets a hung probe hold a
// round or another path's probe, and reaps volumes whose every path is
// gone.  On a fake clock: a round happens when the test advances the time.
#include <catch2/catch.hpp>

#include "core/checker.hpp"
#include "unit/fake_clock.hpp"
#include "unit/fake_path_io.hpp"

using namespace mpathfs;
using namespace mpathfs::test;

namespace {

constexpr double kInterval = 5;

// A registry holding one FakeVolume of n paths, all on one fake clock.
struct CheckerRig {
  explicit CheckerRig(size_t n, Failback fb = Failback::kImmediate)
      : reg({}, clock), fv(n, {}, default_volume_settings(), 1 << 20, clock),
        checker(reg, kInterval, fb, [this] { ++tree_changes; }) {
    REQUIRE(reg.insert(fv.vol));
  }
  // Probe threads are detached: none may outlive the test (it would log
  // into a LogCapture gone, or read a fake path the test changes).
  ~CheckerRig() {
    checker.stop();
    (void)quiesce();
  }
  CheckerRig(const CheckerRig&) = delete;
  CheckerRig& operator=(const CheckerRig&) = delete;
  // Waits until no probe is in flight on any path: begin_probe() succeeds
  // only once the probe thread's end_probe() (its last touch) ran.
  bool quiesce() {
    for (size_t i = 0; i < fv.paths.size(); ++i) {
      Path& p = fv.path(i);
      if (!eventually([&] {
            if (!p.begin_probe()) return false;
            p.end_probe();
            return true;
          }))
        return false;
    }
    return true;
  }
  // Fails path i the way I/O does (not by hand: the checker never restores
  // an admin fail), then heals it: it is FAIL but would answer a probe.
  void fail_by_io(size_t i, int err = EIO) {
    REQUIRE(fv.vol->prefer("p" + std::to_string(i)));  // reads go there
    fv.io(i).read_errno = err;
    for (int k = 0; k < 4 && fv.state_of(i) != PathState::kFail; ++k) (void)fv.read(0, 512);
    REQUIRE(fv.state_of(i) == PathState::kFail);
    fv.io(i).read_errno = 0;
  }
  // Runs the loop and waits until it sleeps on the clock.
  void start() {
    checker.start();
    REQUIRE(clock.wait_for_waiters(1));
  }
  // Lets one interval pass; the loop's round has begun when this returns
  // (the loop sleeps again only after starting every probe).
  void next_round() {
    clock.advance_s(kInterval);
    REQUIRE(clock.wait_for_waiters(1));
  }
  bool probing(size_t i) { return fv.path(i).checker() == CheckerState::kPending; }

  FakeClock clock;
  Registry reg;
  FakeVolume fv;
  std::atomic<int> tree_changes{0};
  Checker checker;
};

}  // namespace

TEST_CASE("checker: a FAIL path is probed once per check_interval and restored with failback=immediate",
          "[checker]") {
  CheckerRig rig(2);
  rig.fail_by_io(0);
  const uint64_t reads = rig.fv.io(0).reads;
  const uint64_t reads1 = rig.fv.io(1).reads;
  rig.start();
  // Almost an interval: no round yet.
  rig.clock.advance(seconds_to_ns(kInterval) - 1000);
  CHECK(rig.fv.io(0).reads == reads);
  CHECK(rig.fv.path(0).checker() == CheckerState::kUnknown);
  rig.clock.advance(1000);
  REQUIRE(rig.clock.wait_for_waiters(1));
  REQUIRE(eventually([&] { return rig.fv.state_of(0) != PathState::kFail; }));
  CHECK(rig.fv.io(0).reads == reads + 1);  // one probe read
  CHECK(rig.fv.path(0).checker() == CheckerState::kUp);
  CHECK(rig.fv.vol->state() == VolumeState::kOptimal);
  // A working path is not probed: its I/O is the probe.
  rig.next_round();
  rig.checker.stop();
  CHECK(rig.fv.io(0).reads == reads + 1);
  CHECK(rig.fv.io(1).reads == reads1);
}

TEST_CASE("checker: failback=manual reports a path up but leaves it FAIL", "[checker]") {
  CheckerRig rig(2, Failback::kManual);
  rig.fail_by_io(0);
  rig.checker.run_once();
  REQUIRE(eventually([&] { return rig.fv.path(0).checker() == CheckerState::kUp; }));
  CHECK(rig.fv.state_of(0) == PathState::kFail);
  CHECK(rig.fv.vol->state() == VolumeState::kDegraded);
}

TEST_CASE("checker: a path that still errs stays FAIL and is probed again next round", "[checker]") {
  CheckerRig rig(2);
  rig.fail_by_io(0);
  rig.fv.io(0).read_errno = EIO;
  rig.start();
  rig.next_round();
  REQUIRE(eventually([&] { return rig.fv.path(0).checker() == CheckerState::kDown; }));
  CHECK(rig.fv.state_of(0) == PathState::kFail);
  const uint64_t errors = rig.fv.io(0).errors;
  rig.fv.io(0).read_errno = 0;
  rig.next_round();
  REQUIRE(eventually([&] { return rig.fv.state_of(0) != PathState::kFail; }));
  CHECK(rig.fv.io(0).errors == errors);
}

TEST_CASE("checker: a hung probe holds neither the next round nor the probes of other paths", "[checker][hung]") {
  CheckerRig rig(3);
  rig.fail_by_io(0);
  rig.fail_by_io(1);
  rig.fv.io(0).set_hang();
  rig.start();
  rig.next_round();
  REQUIRE(rig.fv.io(0).wait_hung(1));
  REQUIRE(eventually([&] { return rig.fv.state_of(1) != PathState::kFail; }));
  CHECK(rig.probing(0));
  // The next rounds run while p0's probe hangs, and never probe p0 twice.
  rig.fail_by_io(1);
  rig.next_round();
  REQUIRE(eventually([&] { return rig.fv.state_of(1) != PathState::kFail; }));
  rig.next_round();
  CHECK(rig.fv.io(0).hung == 1);
  CHECK(rig.fv.state_of(0) == PathState::kFail);
  // p0 answers at last: restored by the probe that hung.
  rig.fv.io(0).release();
  REQUIRE(eventually([&] { return rig.fv.state_of(0) != PathState::kFail; }));
  CHECK_FALSE(rig.probing(0));
  rig.checker.stop();
}

TEST_CASE("checker: a path that answers as another disk stays FAIL, logged once", "[checker][identity]") {
  LogCapture log;  // outlives the rig's probe threads
  CheckerRig rig(2);
  rig.fail_by_io(0);
  rig.fv.io(0).set_size(rig.fv.vol->path_size() - 4096);  // now leads elsewhere
  for (int round = 0; round < 2; ++round) {
    rig.checker.run_once();
    REQUIRE(rig.quiesce());
    CHECK(rig.fv.path(0).checker() == CheckerState::kDown);
    CHECK(rig.fv.state_of(0) == PathState::kFail);
    CHECK(rig.fv.path(0).last_error() == EINVAL);
    rig.fv.path(0).set_checker(CheckerState::kUnknown);
  }
  CHECK(log.count("is not a path of this volume") == 1);
  rig.fv.io(0).set_size(rig.fv.vol->path_size());
  rig.checker.run_once();
  REQUIRE(rig.quiesce());
  CHECK(rig.fv.state_of(0) != PathState::kFail);
}

TEST_CASE("checker: a path whose device is gone is lost, and the volume is reaped when all are", "[checker][lost]") {
  CheckerRig rig(1);
  rig.fail_by_io(0);
  rig.fv.io(0).read_errno = ENXIO;
  rig.start();
  rig.next_round();
  REQUIRE(eventually([&] { return rig.fv.path(0).lost(); }));
  CHECK(rig.fv.vol->all_lost());
  CHECK(rig.reg.find("vol0"));  // reaped at the start of a round
  CHECK(rig.tree_changes == 0);
  rig.next_round();
  rig.checker.stop();
  CHECK_FALSE(rig.reg.find("vol0"));
  CHECK(rig.tree_changes == 1);
  CHECK(rig.fv.vol->is_shut_down());
}
