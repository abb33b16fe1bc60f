// Path choice per mode (src/core/modes/): SPEC "Modes", gmultipath-notes §4.
#include <catch2/catch.hpp>

#include <map>

#include "core/routing.hpp"
#include "unit/fake_path_io.hpp"

using namespace mpathfs;
using namespace mpathfs::test;

namespace {

struct Paths {
  explicit Paths(size_t n) : disk(std::make_shared<FakeDisk>(4096)) {
    FakeOptions o;
    o.size = 4096;
    for (size_t i = 0; i < n; ++i) v.push_back(make_fake_path("p" + std::to_string(i), disk, o));
  }
  RouteView view(size_t active, uint64_t excluded = 0) const {
    return RouteView{v, active < v.size() ? v[active].get() : nullptr, excluded};
  }
  size_t index(const Path* p) const {
    for (size_t i = 0; i < v.size(); ++i)
      if (v[i].get() == p) return i;
    return 99;
  }
  // Simulates a request in flight picked at time t.
  void busy(size_t i, uint64_t t, int n = 1) {
    for (int k = 0; k < n; ++k) v[i]->begin_io(t);
  }
  std::shared_ptr<FakeDisk> disk;
  std::vector<std::shared_ptr<Path>> v;
};

}  // namespace

TEST_CASE("active-passive routes to the active path", "[routing]") {
  Paths ps(3);
  CHECK(ps.index(route_active_passive(ps.view(0))) == 0);
  CHECK(ps.index(route_active_passive(ps.view(1))) == 1);
  CHECK(ps.index(route_active_passive(ps.view(2))) == 2);
  // No active path recorded: the first good path in join order.
  CHECK(ps.index(route_active_passive(ps.view(99))) == 0);
}

TEST_CASE("active-passive skips a FAIL active path to the next in join order, wrapping", "[routing]") {
  Paths ps(3);
  ps.v[1]->set_failed(true);
  CHECK(ps.index(route_active_passive(ps.view(1))) == 2);
  ps.v[2]->set_failed(true);
  CHECK(ps.index(route_active_passive(ps.view(1))) == 0);  // wraps
  CHECK(ps.index(route_active_passive(ps.view(2))) == 0);
  ps.v[0]->set_failed(true);
  CHECK(route_active_passive(ps.view(0)) == nullptr);
}

TEST_CASE("active-passive skips excluded (already tried) paths", "[routing]") {
  Paths ps(3);
  CHECK(ps.index(route_active_passive(ps.view(0, 0b001))) == 1);
  CHECK(ps.index(route_active_passive(ps.view(0, 0b011))) == 2);
  CHECK(ps.index(route_active_passive(ps.view(2, 0b100))) == 0);  // wraps past the end
  CHECK(route_active_passive(ps.view(0, 0b111)) == nullptr);
  // Excluded and FAIL together.
  ps.v[1]->set_failed(true);
  CHECK(ps.index(route_active_passive(ps.view(0, 0b001))) == 2);
}

TEST_CASE("active-active picks the path with the fewest requests in flight", "[routing]") {
  Paths ps(3);
  ps.busy(0, 10, 2);
  ps.busy(1, 20, 1);
  ps.busy(2, 30, 3);
  CHECK(ps.index(route_active_active(ps.view(0))) == 1);
  ps.busy(1, 40, 2);  // p1 now has 3
  CHECK(ps.index(route_active_active(ps.view(0))) == 0);
}

TEST_CASE("active-active skips FAIL and excluded paths", "[routing]") {
  Paths ps(3);
  ps.busy(0, 10, 5);
  ps.busy(2, 10, 1);
  ps.v[1]->set_failed(true);  // idle but FAIL
  CHECK(ps.index(route_active_active(ps.view(0))) == 2);
  CHECK(ps.index(route_active_active(ps.view(0, 0b100))) == 0);
  CHECK(route_active_active(ps.view(0, 0b101)) == nullptr);
  ps.v[0]->set_failed(true);
  ps.v[2]->set_failed(true);
  CHECK(route_active_active(ps.view(0)) == nullptr);
}

TEST_CASE("active-active breaks ties by the path idle longest", "[routing]") {
  Paths ps(3);
  ps.busy(0, 300);
  ps.busy(1, 100);
  ps.busy(2, 200);
  CHECK(ps.index(route_active_active(ps.view(0))) == 1);
}

TEST_CASE("active-active alternates between equal paths across many picks (round-robin)", "[routing]") {
  for (size_t n : {2u, 3u, 4u}) {
    Paths ps(n);
    std::vector<size_t> order;
    uint64_t t = 1000;
    for (int k = 0; k < 40; ++k) {
      Path* p = route_active_active(ps.view(0));
      REQUIRE(p != nullptr);
      size_t i = ps.index(p);
      order.push_back(i);
      uint64_t start = p->begin_io(++t);
      p->end_io(false, 512, start, t, false);  // completes at once: loads stay equal
    }
    INFO("paths: " << n);
    for (size_t k = 0; k < order.size(); ++k) CHECK(order[k] == k % n);
  }
}

TEST_CASE("active-read sends writes to the ACTIVE path and spreads reads", "[routing]") {
  Paths ps(3);
  // Writes: always the active path, whatever the loads.
  ps.busy(1, 50, 4);
  for (int k = 0; k < 10; ++k) CHECK(ps.index(route_active_read(ps.view(1), IoKind::kWrite)) == 1);
  // Reads: least loaded among ACTIVE and READ paths.
  std::map<size_t, int> hits;
  uint64_t t = 1000;
  for (int k = 0; k < 30; ++k) {
    Path* p = route_active_read(ps.view(1), IoKind::kRead);
    REQUIRE(p != nullptr);
    ++hits[ps.index(p)];
    uint64_t start = p->begin_io(++t);
    p->end_io(false, 512, start, t, false);
  }
  CHECK(hits[0] == 15);
  CHECK(hits[2] == 15);
  CHECK(hits[1] == 0);  // busy with 4 in flight
  // A FAIL active path: writes go to the next good path; reads skip it.
  ps.v[1]->set_failed(true);
  CHECK(ps.index(route_active_read(ps.view(1), IoKind::kWrite)) == 2);
  CHECK(ps.index(route(Mode::kActiveRead, ps.view(1), IoKind::kWrite)) == 2);
}

TEST_CASE("route() dispatches on the mode", "[routing]") {
  Paths ps(2);
  ps.busy(1, 5, 1);  // p1 busier; active p1
  CHECK(ps.index(route(Mode::kActivePassive, ps.view(1), IoKind::kRead)) == 1);
  CHECK(ps.index(route(Mode::kActiveActive, ps.view(1), IoKind::kRead)) == 0);
  CHECK(ps.index(route(Mode::kActiveRead, ps.view(1), IoKind::kRead)) == 0);
  CHECK(ps.index(route(Mode::kActiveRead, ps.view(1), IoKind::kWrite)) == 1);
}

TEST_CASE("active-active through a volume alternates reads and writes between two paths", "[routing][volume]") {
  FakeVolume fv(2, {}, FakeVolume::default_settings(Mode::kActiveActive));
  for (int k = 0; k < 20; ++k) REQUIRE(fv.read(0, 4096) == 4096);
  CHECK(fv.path(0).counters().reads == 10);
  CHECK(fv.path(1).counters().reads == 10);
  for (int k = 0; k < 20; ++k) REQUIRE(fv.write(4096, 512, std::byte{1}) == 512);
  CHECK(fv.path(0).counters().writes == 10);
  CHECK(fv.path(1).counters().writes == 10);
}

TEST_CASE("active-read through a volume: writes on ACTIVE only, reads on both", "[routing][volume]") {
  FakeVolume fv(2, {}, FakeVolume::default_settings(Mode::kActiveRead));
  for (int k = 0; k < 10; ++k) REQUIRE(fv.write(0, 512, std::byte{2}) == 512);
  CHECK(fv.path(0).counters().writes == 10);
  CHECK(fv.path(1).counters().writes == 0);
  for (int k = 0; k < 10; ++k) REQUIRE(fv.read(0, 512) == 512);
  CHECK(fv.path(0).counters().reads == 5);
  CHECK(fv.path(1).counters().reads == 5);
}

TEST_CASE("active-passive through a volume: everything on the ACTIVE path", "[routing][volume]") {
  FakeVolume fv(3);
  for (int k = 0; k < 10; ++k) {
    REQUIRE(fv.write(0, 512, std::byte{3}) == 512);
    REQUIRE(fv.read(0, 512) == 512);
  }
  CHECK(fv.path(0).counters().writes == 10);
  CHECK(fv.path(0).counters().reads == 10);
  CHECK(fv.path(1).counters().reads + fv.path(1).counters().writes == 0);
  CHECK(fv.path(2).counters().reads + fv.path(2).counters().writes == 0);
}
