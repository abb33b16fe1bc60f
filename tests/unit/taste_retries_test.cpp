// TasteRetries: the schedule on which a device that was busy or empty at
// its uevent is tasted again (time passed in: no sleeping).
#include <catch2/catch.hpp>
#include <chrono>

#include "core/taste_retries.hpp"

using namespace mpathfs;
using namespace std::chrono_literals;

TEST_CASE("taste retries: due after 50 ms, doubling, dropped after the last try", "[scan][retries]") {
  TasteRetries q;
  const auto t0 = TasteRetries::Clock::time_point{} + 1h;
  CHECK_FALSE(q.next_in(t0));
  q.add("/dev/loop3", t0);
  q.add("/dev/loop3", t0 + 10ms);  // queued already: not twice, schedule kept
  REQUIRE(q.size() == 1);
  CHECK(*q.next_in(t0) == 50ms);
  CHECK(q.take_due(t0 + 49ms).empty());

  auto now = t0 + 50ms;
  std::chrono::milliseconds total{50};
  int tastes = 0;
  for (;;) {
    auto due = q.take_due(now);
    REQUIRE(due.size() == 1);
    CHECK(due[0].dev == "/dev/loop3");
    CHECK(q.size() == 0);
    ++tastes;
    if (!q.again(due[0], now)) break;
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(*q.next_in(now));
    CHECK(wait == 50ms * (1 << tastes));
    CHECK(q.take_due(now + wait - 1ms).empty());
    now += wait;
    total += wait;
  }
  CHECK(tastes == TasteRetries::kMaxTries);
  CHECK(total == 50ms * ((1 << TasteRetries::kMaxTries) - 1));  // 6.35 s in all
  CHECK(q.size() == 0);
  CHECK_FALSE(q.next_in(now));
}

TEST_CASE("taste retries: devices keep their own schedules, an overdue one is due at once", "[scan][retries]") {
  TasteRetries q;
  const auto t0 = TasteRetries::Clock::time_point{} + 1h;
  q.add("a", t0);
  q.add("b", t0 + 30ms);
  CHECK(*q.next_in(t0 + 200ms) == TasteRetries::Clock::duration::zero());
  auto due = q.take_due(t0 + 60ms);
  REQUIRE(due.size() == 1);
  CHECK(due[0].dev == "a");
  // A new uevent queued "a" meanwhile: again() does not queue it twice.
  q.add("a", t0 + 61ms);
  CHECK(q.again(due[0], t0 + 62ms));
  CHECK(q.size() == 2);
  due = q.take_due(t0 + 120ms);
  CHECK(due.size() == 2);
}
