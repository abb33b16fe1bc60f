// Checker: probes paths every check_interval, restores FAIL ones that
// answer as themselves (failback=immediate), never lets a hung probe hold a
// round or another path's probe, and reaps volumes whose every path is
// gone.  On a fake clock: a round happens when the test advances the time.
#include <catch2/catch.hpp>

#include "unit/checker_rig.hpp"

using namespace mpathfs;
using namespace mpathfs::test;


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
  // A path that served a request within check_interval is not probed: its
  // I/O was the probe.  The idle one is (every path is checked).
  REQUIRE(rig.quiesce());  // round 1 probed p1 too (idle until now)
  rig.clock.advance_s(kInterval / 2);
  REQUIRE(rig.fv.read(0, 512) == 512);  // on the ACTIVE p1
  const uint64_t reads1_now = rig.fv.io(1).reads;
  rig.clock.advance_s(kInterval / 2);
  REQUIRE(rig.clock.wait_for_waiters(1));
  REQUIRE(rig.quiesce());
  rig.checker.stop();
  CHECK(rig.fv.io(0).reads == reads + 2);
  CHECK(rig.fv.io(1).reads == reads1_now);
  CHECK(reads1_now > reads1);
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
  REQUIRE((rig.settle(1) && rig.settle(2)));
  CHECK(rig.probing(0));
  // The next rounds run while p0's probe hangs, and never probe p0 twice.
  rig.fail_by_io(1);
  rig.next_round();
  REQUIRE(eventually([&] { return rig.fv.state_of(1) != PathState::kFail; }));
  REQUIRE((rig.settle(1) && rig.settle(2)));
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
