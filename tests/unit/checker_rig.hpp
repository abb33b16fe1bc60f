// CheckerRig: a registry holding one FakeVolume and a Checker, all on one
// fake clock (checker_test.cpp, checker_health_test.cpp).
#pragma once

#include <catch2/catch.hpp>

#include "core/checker.hpp"
#include "unit/fake_clock.hpp"
#include "unit/fake_path_io.hpp"

namespace mpathfs::test {

inline constexpr double kInterval = 5;

// A registry holding one FakeVolume of n paths, all on one fake clock.
struct CheckerRig {
  explicit CheckerRig(size_t n, Failback fb = Failback::kImmediate)
      : CheckerRig(n, CheckerPolicy{.interval_s = kInterval, .failback = fb}) {}
  CheckerRig(size_t n, CheckerPolicy policy, VolumeSettings vs = default_volume_settings())
      : reg({}, clock), fv(n, {}, vs, 1 << 20, clock), checker(reg, policy, [this] { ++tree_changes; }) {
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
  // Waits until path i has no probe in flight, while another path's probe
  // may hang (quiesce() would wait for that one too).  On a fake clock a
  // probe thread not yet scheduled when the test advances the time would
  // look unanswered for io_timeout.
  bool settle(size_t i) {
    return eventually([&] { return fv.path(i).health().probe_started_ns() == 0; });
  }
  bool probing(size_t i) { return fv.path(i).checker() == CheckerState::kPending; }

  FakeClock clock;
  Registry reg;
  FakeVolume fv;
  std::atomic<int> tree_changes{0};
  Checker checker;
};

}  // namespace mpathfs::test
