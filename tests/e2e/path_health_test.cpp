// Path health end to end (issue 16): the checker finds a standby path that
// broke underneath with no application I/O, brings it back per failback,
// and failback=N waits N seconds of answers.  Real breakable paths:
// nbdkit's error filter behind nbdfuse (nbd_volume.hpp).
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

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
