// Path health end to end (issue 16): the checker finds a standby path that
// broke underneath with no application I/O, brings it back per failback,
// and failback=N waits N seconds of answers.  Real breakable paths:
// nbdkit's error filter behind nbdfuse (nbd_volume.hpp).
#include <catch2/catch.hpp>
#include <atomic>
#include <chrono>
#include <thread>

#include "e2e/fio_run.hpp"
#include "e2e/nbd_volume.hpp"

using namespace mpathfs::e2e;

namespace {

bool state_is(const NbdVolume& v, const std::string& path, const std::string& state) {
  return path_state(v.st(), path) == state;
}

}  // namespace

TEST_CASE("health: an idle PASSIVE path broken underneath is FAIL and DEGRADED within check_interval + 1 s",
          "[health][nbd]") {
  constexpr double kCheck = 1;
  NbdVolume v("active-passive", 2, options(0, kCheck, "immediate"));
  const std::string a = v.paths[0], b = v.paths[1];
  REQUIRE(state_is(v, b, "PASSIVE"));
  double t0 = now_s();
  v.path(1).fail();  // no application I/O from here on
  REQUIRE(wait_until([&] { return state_is(v, b, "FAIL"); }, kCheck + 1));
  WARN("a fresh PASSIVE path's failure was detected in " << now_s() - t0 << " s");
  CHECK(v.st()["state"] == "DEGRADED");
  CHECK(path_entry(v.st(), b)["checker"] == "down");
  CHECK(v.d->log().find("path " + b + " marked FAIL (checker EIO)") != std::string::npos);
  // Healed, failback=immediate: back, PASSIVE again; ACTIVE never moved.
  t0 = now_s();
  v.path(1).heal();
  REQUIRE(wait_until([&] { return state_is(v, b, "PASSIVE"); }, kCheck + 1));
  CHECK(state_is(v, a, "ACTIVE"));
  CHECK(v.st()["state"] == "OPTIMAL");
  // Healthy for a while its probes back off (to 4 x check_interval): a
  // failure is then found within that.
  std::this_thread::sleep_for(std::chrono::seconds(9));
  const json e = path_entry(v.st(), b);
  CHECK(e["checker"] == "up");
  CHECK(e["checked_ago"].get<double>() <= 4 * kCheck + 0.5);
  t0 = now_s();
  v.path(1).fail();
  REQUIRE(wait_until([&] { return state_is(v, b, "FAIL"); }, 4 * kCheck + 1));
  WARN("a backed-off PASSIVE path's failure was detected in " << now_s() - t0 << " s");
}

TEST_CASE("health: failback=N restores a healed path only after N seconds of answers", "[health][nbd]") {
  constexpr double kCheck = 0.5;
  constexpr double kAfter = 3;
  NbdVolume v("active-passive", 2, options(0, kCheck, "3"));
  const std::string b = v.paths[1];
  v.path(1).fail();
  REQUIRE(wait_until([&] { return state_is(v, b, "FAIL"); }, kCheck + 1));
  const double t0 = now_s();
  v.path(1).heal();
  REQUIRE(wait_until([&] { return state_is(v, b, "PASSIVE"); }, kAfter + 2 * kCheck + 1));
  const double took = now_s() - t0;
  WARN("failback=3 restored the path " << took << " s after it healed");
  CHECK(took >= kAfter);
}

// multipath-tools' "intermittent errors": a path that breaks for 0.5 s every
// 2 s while fio writes and verifies through an active-active volume.  After
// its third failure it is held down (FAIL, checker "held"): its failure
// count stops growing though it keeps flapping; once it stays healthy for
// hold_down it comes back by itself.  fio never sees an error.
TEST_CASE("soak: health: a path flapping under fio is held down after its 3rd failure, then returns",
          "[health][nbd][soak]") {
  constexpr double kCheck = 0.5, kHoldDown = 5;
  json opts = options(0, kCheck, "immediate", 5);
  opts["flap_threshold"] = 3;
  opts["flap_window"] = 60;
  opts["hold_down"] = kHoldDown;
  NbdVolume v("active-active", 2, opts);
  const std::string b = v.paths[1];
  auto failures = [&] { return path_entry(v.st(), b).value("failures", uint64_t(0)); };

  std::atomic<bool> flapping{true};
  std::atomic<int> cycles{0};
  std::thread flapper([&] {
    for (int i = 0; i < 9; ++i) {  // 18 s
      v.path(1).fail();
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      v.path(1).heal();
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      cycles.fetch_add(1);
    }
    flapping.store(false);
  });
  struct Join {
    std::thread& t;
    NbdVolume& v;
    ~Join() {
      if (t.joinable()) t.join();
      v.path(1).heal();
    }
  } join{flapper, v};

  // fio passes until the flapping ends; meanwhile watch for the hold.
  uint64_t held_at = 0;
  int passes = 0;
  double worst = 0;
  std::atomic<bool> watching{true};
  std::thread watcher([&] {
    while (watching.load()) {
      const json e = path_entry(v.st(), b);
      if (!held_at && e.value("checker", "") == "held") held_at = e.value("failures", uint64_t(0));
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  while (flapping.load()) {
    FioRun r = run_fio(v.tmp, v.vol(), kSize, 100 + passes, 120);
    INFO("fio pass " << passes << ": " << r.run.describe());
    REQUIRE(r.clean());
    worst = std::max(worst, r.worst_latency_s());
    ++passes;
  }
  watching.store(false);
  watcher.join();
  flapper.join();
  WARN("flapping: " << passes << " clean fio passes, worst latency " << worst << " s, held after " << held_at
                    << " failures, " << failures() << " at the end");
  REQUIRE(held_at >= 3);
  // Held: the failures stopped at the hold although it flapped on.
  CHECK(failures() <= held_at + 1);
  // Healthy now: back by itself after hold_down (+ the probe rounds).
  const double t0 = now_s();
  REQUIRE(wait_until([&] { return path_state(v.st(), b) == "ACTIVE"; }, kHoldDown + 4 * kCheck + 3));
  WARN("the held path returned " << now_s() - t0 << " s after the flapping stopped (hold_down " << kHoldDown << ")");
  CHECK(v.st()["state"] == "OPTIMAL");
}
