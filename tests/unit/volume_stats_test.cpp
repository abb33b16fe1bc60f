// multipathd's stats per volume and per path (status.hpp VolumeStatus):
// counted where each event happens, cumulative, in status().
#include <catch2/catch.hpp>

#include <future>

#include "unit/failover_helpers.hpp"
#include "unit/fake_clock.hpp"
#include "unit/fake_path_io.hpp"

using namespace mpathfs;
using namespace mpathfs::test;
using namespace std::chrono_literals;

TEST_CASE("stats: path failures and failovers (active path switches)", "[stats][volume]") {
  FakeVolume fv(3);
  REQUIRE(fv.write(0, 512, std::byte{1}) == 512);
  auto s = fv.vol->status();
  CHECK(s.path_failures == 0);
  CHECK(s.failovers == 0);
  CHECK(s.write_latency.count == 1);
  CHECK(s.paths[0].write_latency.count == 1);
  // An I/O error on the active path: one failure, one failover.
  fv.io(0).fail_next = 1;
  REQUIRE(fv.write(0, 512, std::byte{2}) == 512);
  s = fv.vol->status();
  CHECK(s.path_failures == 1);
  CHECK(s.failovers == 1);
  CHECK(s.paths[0].failures == 1);
  CHECK(s.paths[0].errors == 1);
  CHECK(s.paths[1].failures == 0);
  CHECK(s.write_latency.count == 2);  // the application saw two writes succeed
  // Failing a standby path is a failure but no failover; prefer is a switch.
  REQUIRE(fv.vol->fail_path("p2"));
  REQUIRE(fv.vol->restore_path("p0"));
  REQUIRE(fv.vol->prefer("p0"));
  s = fv.vol->status();
  CHECK(s.path_failures == 2);
  CHECK(s.failovers == 2);
  CHECK(s.no_path_failures == 0);
}

TEST_CASE("stats: active-active counts no failovers", "[stats][volume]") {
  FakeVolume fv(2, {}, FakeVolume::default_settings(Mode::kActiveActive));
  REQUIRE(fv.vol->fail_path("p0"));
  const auto s = fv.vol->status();
  CHECK(s.path_failures == 1);
  CHECK(s.failovers == 0);
}

TEST_CASE("stats: requests failed with no path, and time queued", "[stats][queue]") {
  FakeClock clock;
  FakeVolume fv(2, {}, FakeVolume::default_settings(), 1 << 20, clock);
  break_volume(fv);  // one write failed with no path left
  auto s = fv.vol->status();
  CHECK(s.no_path_failures == 1);
  CHECK(s.path_failures == 3);  // p0, p1, then p0 again after the restore-all rule
  CHECK(s.queued_seconds == 0);
  fv.vol->set_no_path_retry(5);
  auto fut = std::async(std::launch::async, [&] { return fv.read(0, 512); });
  REQUIRE(clock.wait_for_waiters(1));
  clock.advance_s(2);
  CHECK(fv.vol->status().queued_seconds == Approx(2.0));  // still waiting: counts up to now
  heal(fv);
  REQUIRE(fv.vol->restore_path("p1"));
  REQUIRE(fut.wait_for(10s) == std::future_status::ready);
  CHECK(fut.get() == 512);
  s = fv.vol->status();
  CHECK(s.queued_seconds == Approx(2.0));
  CHECK(s.no_path_failures == 1);  // the queued one succeeded
}

TEST_CASE("stats: io_timeouts and rescued requests, per volume and per path", "[stats][io_timeout]") {
  FakeVolume fv(2);
  // The watchdog's two reports: a request nobody else can answer (not
  // rescued), and one taken over and re-issued elsewhere (rescued).
  fv.vol->on_io_timeout(fv.path(0), 5.0, false, false, 0, 0, false);
  REQUIRE(fv.vol->restore_path("p0"));
  fv.vol->on_io_timeout(fv.path(0), 5.0, true, false, 0, 512, false);
  const auto s = fv.vol->status();
  CHECK(s.io_timeouts == 2);
  CHECK(s.rescued == 1);
  CHECK(s.paths[0].io_timeouts == 2);
  CHECK(s.paths[0].rescued == 1);
  CHECK(s.paths[0].failures == 2);
  CHECK(s.paths[1].io_timeouts == 0);
  CHECK(s.path_failures == 2);
  // A taken-over request counts as abandoned until its worker returns.
  CHECK(fv.vol->abandoned() == 1);
}
