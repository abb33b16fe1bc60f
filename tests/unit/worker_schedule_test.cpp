// WorkerSchedule: the WorkerPool's decisions — how many serve, when a
// blocked worker is replaced, when a surplus one parks or retires — driven
// here without FUSE: test threads play the workers.
#include <catch2/catch.hpp>

#include <future>

#include "core/worker_schedule.hpp"
#include "unit/fake_path_io.hpp"

using namespace mpathfs;
using namespace mpathfs::test;
using namespace std::chrono_literals;

namespace {

// The pool as the schedule sees it: counts the replacements it asks for.
struct FakeHost final : WorkerSchedule::Host {
  std::atomic<bool> session_ended{false};
  std::atomic<int> started{0};
  WorkerSchedule* sched = nullptr;
  bool ended() const noexcept override { return session_ended.load(); }
  void start_worker() noexcept override {
    if (sched->admit()) ++started;
  }
};

struct Rig {
  explicit Rig(int workers, int max_extra = 256) : sched(host, workers, max_extra) {
    host.sched = &sched;
    for (int i = 0; i < workers; ++i) REQUIRE(sched.admit());  // WorkerPool::start
  }
  // A worker thread parked in claim(); its future says what claim() returned.
  std::future<bool> parked_claim() {
    const int before = sched.parked();
    auto f = std::async(std::launch::async, [this] { return sched.claim(); });
    REQUIRE(eventually([&] { return sched.parked() == before + 1; }));
    return f;
  }
  FakeHost host;
  WorkerSchedule sched;
};

}  // namespace

TEST_CASE("worker schedule: one worker serves, each long request lets one more in, up to workers",
          "[worker_pool]") {
  Rig rig(3);
  CHECK(rig.sched.allowed() == 1);
  REQUIRE(rig.sched.claim());
  auto second = rig.parked_claim();
  CHECK(second.wait_for(0ms) == std::future_status::timeout);
  rig.sched.busy_begin();  // the first one's request is long
  REQUIRE(second.wait_for(5s) == std::future_status::ready);
  CHECK(second.get());
  CHECK(rig.sched.serving() == 2);
  for (int i = 0; i < 5; ++i) rig.sched.busy_begin();
  CHECK(rig.sched.allowed() == 3);  // never more than `workers`
  for (int i = 0; i < 6; ++i) rig.sched.busy_end();
  CHECK(rig.sched.allowed() == 1);
}

TEST_CASE("worker schedule: a surplus serving worker parks between requests unless a long one began",
          "[worker_pool]") {
  Rig rig(2);
  REQUIRE(rig.sched.claim());
  rig.sched.busy_begin();  // A's request is long: B comes in
  REQUIRE(rig.sched.claim());
  uint32_t a_seen = rig.sched.activity();
  uint32_t b_seen = a_seen;
  rig.sched.busy_end();  // A's long request ended ...
  rig.sched.busy_begin();  // ... and another began and ended meanwhile
  rig.sched.busy_end();
  CHECK(rig.sched.serving() == 2);
  CHECK(rig.sched.allowed() == 1);
  CHECK_FALSE(rig.sched.unserve_if_surplus(a_seen));  // a stream of long requests: A stays
  CHECK(rig.sched.serving() == 2);
  CHECK(rig.sched.unserve_if_surplus(a_seen));  // quiet since its last look: A parks
  CHECK(rig.sched.serving() == 1);
  CHECK_FALSE(rig.sched.unserve_if_surplus(b_seen));  // B alone is not a surplus
  CHECK(rig.sched.serving() == 1);
}

TEST_CASE("worker schedule: a worker that blocks gives up its slot and is replaced, a surplus retires",
          "[worker_pool]") {
  Rig rig(2, 4);
  REQUIRE(rig.sched.claim());
  auto parked = rig.parked_claim();
  // The serving worker is queued for a path: its slot goes to the parked
  // one, and a replacement keeps two runnable.
  rig.sched.blocking_begin();
  REQUIRE(parked.wait_for(5s) == std::future_status::ready);
  CHECK(parked.get());
  CHECK(rig.sched.blocked() == 1);
  CHECK(rig.host.started == 1);
  CHECK(rig.sched.runnable() == 2);
  CHECK(rig.sched.live() == 3);
  CHECK_FALSE(rig.sched.retire_if_surplus());
  // It comes back with its request: one worker too many, which retires.
  rig.sched.blocking_end();
  CHECK(rig.sched.blocked() == 0);
  CHECK(rig.sched.runnable() == 3);
  CHECK(rig.sched.retire_if_surplus());
  CHECK_FALSE(rig.sched.retire_if_surplus());
  CHECK(rig.sched.runnable() == 2);
}

TEST_CASE("worker schedule: replacements stop at max_extra and once the session ended", "[worker_pool]") {
  Rig rig(1, 2);
  for (int i = 0; i < 4; ++i) rig.sched.blocking_begin();  // four requests stuck in hung paths
  CHECK(rig.host.started == 2);
  CHECK(rig.sched.live() == 3);
  CHECK(rig.sched.blocked() == 4);
  for (int i = 0; i < 4; ++i) rig.sched.blocking_end();
  // The surplus retires and its threads leave.
  while (rig.sched.retire_if_surplus()) {
    rig.sched.leave(false, true);
    rig.sched.exited();
  }
  CHECK(rig.sched.live() == 1);
  CHECK(rig.sched.runnable() == 1);
  rig.host.session_ended = true;
  rig.sched.blocking_begin();
  CHECK(rig.host.started == 2);
}

TEST_CASE("worker schedule: stop_all and the session's end release parked workers", "[worker_pool]") {
  Rig rig(3);
  REQUIRE(rig.sched.claim());
  auto a = rig.parked_claim();
  auto b = rig.parked_claim();
  // The serving worker sees the session end and leaves: the others follow.
  rig.host.session_ended = true;
  rig.sched.leave(true, false);
  rig.sched.exited();
  REQUIRE(a.wait_for(5s) == std::future_status::ready);
  REQUIRE(b.wait_for(5s) == std::future_status::ready);
  CHECK_FALSE(a.get());
  CHECK_FALSE(b.get());
  CHECK_FALSE(rig.sched.claim());
}

TEST_CASE("worker schedule: done once every worker left but those stuck in hung paths", "[worker_pool]") {
  Rig rig(2);
  REQUIRE(rig.sched.claim());
  rig.sched.blocking_begin();  // stuck in a hung path; a replacement starts
  REQUIRE(rig.host.started == 1);
  CHECK_FALSE(rig.sched.done());
  rig.sched.stop_all();
  // The two runnable workers leave (not serving: they were parked).
  for (int i = 0; i < 2; ++i) {
    rig.sched.leave(false, false);
    rig.sched.exited();
  }
  CHECK(rig.sched.done());
  rig.sched.wait_all_left();  // returns at once: only the stuck one is alive
  CHECK(rig.sched.blocked() == 1);
}
