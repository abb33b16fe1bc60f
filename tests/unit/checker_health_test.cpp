// Path health on the fake clock: every path is checked (not only FAIL
// ones), a healthy path's probes back off, a probe that fails or hangs
// fails a working path, flapping paths are held down, and failback=N waits.
#include <catch2/catch.hpp>

#include "unit/checker_rig.hpp"

using namespace mpathfs;
using namespace mpathfs::test;

namespace {

CheckerPolicy policy(Failback fb = Failback::kImmediate) {
  return CheckerPolicy{.interval_s = kInterval, .failback = fb};
}

// One round, and every probe it started has ended.
void round_and_settle(CheckerRig& rig) {
  rig.next_round();
  REQUIRE(rig.quiesce());
}

// Fails path i by I/O and lets the checker restore it (one round).
void flap_once(CheckerRig& rig, size_t i) {
  rig.fail_by_io(i);
  round_and_settle(rig);
}

}  // namespace

TEST_CASE("health: an idle PASSIVE path whose probe fails is FAIL and the volume DEGRADED, then comes back PASSIVE",
          "[checker][health]") {
  LogCapture log;
  CheckerRig rig(2, policy());
  REQUIRE(rig.fv.active() == "p0");
  rig.start();
  rig.fv.io(1).read_errno = EIO;  // broken underneath; no application I/O
  round_and_settle(rig);
  CHECK(rig.fv.state_of(1) == PathState::kFail);
  CHECK(rig.fv.vol->state() == VolumeState::kDegraded);
  CHECK(rig.fv.path(1).checker() == CheckerState::kDown);
  CHECK(rig.fv.path(1).last_error() == EIO);
  CHECK(log.count("path p1 marked FAIL (checker EIO)") == 1);
  rig.fv.io(1).read_errno = 0;
  round_and_settle(rig);
  CHECK(rig.fv.state_of(1) == PathState::kPassive);  // a return never moves ACTIVE
  CHECK(rig.fv.active() == "p0");
  CHECK(rig.fv.vol->state() == VolumeState::kOptimal);
  auto st = rig.fv.vol->status();
  CHECK(st.paths[1].checker == "up");
  CHECK(st.paths[1].checked_ago == 0);
}

TEST_CASE("health: a probe never fails the last working path", "[checker][health]") {
  CheckerRig rig(1, policy());
  rig.start();
  rig.fv.io(0).read_errno = EIO;
  round_and_settle(rig);
  CHECK(rig.fv.path(0).checker() == CheckerState::kDown);
  CHECK(rig.fv.state_of(0) != PathState::kFail);
}

TEST_CASE("health: a healthy idle path is probed at rounds 1, 2, 4, 8, 12, a change probes every round again",
          "[checker][health][backoff]") {
  CheckerRig rig(2, policy());
  rig.start();
  std::vector<int> probed;
  for (int round = 1; round <= 12; ++round) {
    const uint64_t before = rig.fv.io(1).reads;
    round_and_settle(rig);
    if (rig.fv.io(1).reads != before) probed.push_back(round);
  }
  CHECK(probed == std::vector<int>{1, 2, 4, 8, 12});
  rig.fv.io(1).read_errno = EIO;
  for (int round = 13; round <= 15; ++round) round_and_settle(rig);
  CHECK(rig.fv.state_of(1) != PathState::kFail);  // not asked yet: backing off
  round_and_settle(rig);                           // round 16
  CHECK(rig.fv.state_of(1) == PathState::kFail);
  rig.fv.io(1).read_errno = 0;
  probed.clear();
  for (int round = 17; round <= 20; ++round) {
    const uint64_t before = rig.fv.io(1).reads;
    round_and_settle(rig);
    if (rig.fv.io(1).reads != before) probed.push_back(round);
  }
  CHECK(rig.fv.state_of(1) == PathState::kPassive);
  // 17 restores it; from 18 on it is a working path that stays up.
  CHECK(probed == std::vector<int>{17, 18, 19});
}

TEST_CASE("health: a probe unanswered for io_timeout fails a working path", "[checker][health][hung]") {
  CheckerRig rig(2, policy(Failback::kManual));
  rig.start();
  rig.fv.io(1).set_hang();
  rig.next_round();
  REQUIRE(rig.fv.io(1).wait_hung(1));
  REQUIRE(rig.settle(0));
  CHECK(rig.fv.state_of(1) == PathState::kPassive);
  rig.next_round();  // io_timeout (5 s) later
  INFO("p0 " << path_state_name(rig.fv.state_of(0)) << ", p1 checker " << checker_state_name(rig.fv.path(1).checker())
             << ", probe began " << rig.fv.path(1).health().probe_started_ns() << ", now " << rig.clock.now_ns());
  REQUIRE(eventually([&] { return rig.fv.state_of(1) == PathState::kFail; }));
  CHECK(rig.fv.path(1).last_error() == ETIMEDOUT);
  CHECK(rig.fv.io(1).hung == 1);  // never two probes at once
  rig.fv.io(1).release();
  REQUIRE(rig.quiesce());
  CHECK(rig.fv.state_of(1) == PathState::kFail);  // failback=manual
}

TEST_CASE("health: the third failure within flap_window holds a path down until it answered for hold_down",
          "[checker][health][flap]") {
  LogCapture log;
  CheckerPolicy pol = policy();
  pol.hold_down_s = 30;
  CheckerRig rig(2, pol);
  rig.start();
  flap_once(rig, 1);
  flap_once(rig, 1);
  CHECK(rig.fv.state_of(1) != PathState::kFail);
  rig.fail_by_io(1);  // the third
  round_and_settle(rig);
  CHECK(log.count("held down") == 1);
  CHECK(rig.fv.state_of(1) == PathState::kFail);
  auto st = rig.fv.vol->status();
  CHECK(st.paths[1].checker == "held");
  CHECK(st.paths[1].held_left == Approx(30));
  // It answers every probe: 30 s later (6 rounds) it returns, not before.
  for (int round = 1; round < 6; ++round) {
    round_and_settle(rig);
    CHECK(rig.fv.state_of(1) == PathState::kFail);
  }
  CHECK(rig.fv.vol->status().paths[1].held_left == Approx(5));
  round_and_settle(rig);
  CHECK(rig.fv.state_of(1) == PathState::kPassive);
  CHECK(rig.fv.vol->status().paths[1].checker == "up");
  // The count started over: one more failure does not hold it.
  flap_once(rig, 1);
  CHECK(rig.fv.state_of(1) == PathState::kPassive);
}

TEST_CASE("health: a failed probe during hold-down starts the hold_down wait again", "[checker][health][flap]") {
  CheckerPolicy pol = policy();
  pol.hold_down_s = 10;
  CheckerRig rig(2, pol);
  rig.start();
  for (int i = 0; i < 3; ++i) flap_once(rig, 1);
  CHECK(rig.fv.state_of(1) == PathState::kFail);  // held; up since this round
  round_and_settle(rig);                           // up 5 s
  rig.fv.io(1).read_errno = EIO;
  round_and_settle(rig);  // down
  rig.fv.io(1).read_errno = 0;
  round_and_settle(rig);  // up again, 0 s
  round_and_settle(rig);  // 5 s
  CHECK(rig.fv.state_of(1) == PathState::kFail);
  round_and_settle(rig);  // 10 s
  CHECK(rig.fv.state_of(1) == PathState::kPassive);
}

TEST_CASE("health: restore by hand lifts a hold-down and clears the failure count", "[checker][health][flap]") {
  CheckerRig rig(2, policy());
  rig.start();
  for (int i = 0; i < 3; ++i) flap_once(rig, 1);
  REQUIRE(rig.fv.vol->status().paths[1].checker == "held");
  REQUIRE(rig.fv.vol->restore_path("p1"));
  CHECK(rig.fv.state_of(1) == PathState::kPassive);
  round_and_settle(rig);
  CHECK(rig.fv.vol->status().paths[1].checker == "up");
  flap_once(rig, 1);
  flap_once(rig, 1);
  CHECK(rig.fv.state_of(1) == PathState::kPassive);  // two since the restore: not held
}

TEST_CASE("health: failures further apart than flap_window never hold a path", "[checker][health][flap]") {
  CheckerPolicy pol = policy();
  pol.flap_window_s = 12;
  CheckerRig rig(2, pol);
  rig.start();
  for (int i = 0; i < 4; ++i) {
    flap_once(rig, 1);  // failures 15 s apart (3 rounds)
    round_and_settle(rig);
    round_and_settle(rig);
    CHECK(rig.fv.state_of(1) == PathState::kPassive);
  }
}

TEST_CASE("health: failback=N restores a path only after it answered for N seconds", "[checker][health][failback]") {
  CheckerPolicy pol = policy(Failback::kAfter);
  pol.failback_after_s = 12;
  CheckerRig rig(2, pol);
  rig.fail_by_io(1);
  rig.start();
  round_and_settle(rig);  // up since now
  round_and_settle(rig);  // 5 s
  round_and_settle(rig);  // 10 s
  CHECK(rig.fv.state_of(1) == PathState::kFail);
  CHECK(rig.fv.path(1).checker() == CheckerState::kUp);
  round_and_settle(rig);  // 15 s
  CHECK(rig.fv.state_of(1) == PathState::kPassive);
}
