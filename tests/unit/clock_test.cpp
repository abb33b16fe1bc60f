// Clock: the real one reads CLOCK_MONOTONIC; the FakeClock of the unit
// tests moves only when advanced and really blocks its waiters until then.
#include <catch2/catch.hpp>

#include <future>

#include "unit/fake_clock.hpp"

using namespace mpathfs;
using namespace mpathfs::test;
using namespace std::chrono_literals;

TEST_CASE("real clock: monotonic, and a deadline already passed does not wait", "[clock]") {
  Clock& c = Clock::real();
  const uint64_t a = c.now_ns();
  CHECK(c.now_ns() >= a);
  std::mutex m;
  std::condition_variable cv;
  std::unique_lock lk(m);
  CHECK(c.wait_until(cv, lk, a) == std::cv_status::timeout);
  c.sleep_until(a);  // returns at once
  CHECK(c.deadline_after_ns(UINT64_MAX) == UINT64_MAX);  // saturates
}

TEST_CASE("fake clock: time moves only when advanced", "[clock]") {
  FakeClock c;
  const uint64_t t0 = c.now_ns();
  CHECK(c.now_ns() == t0);
  c.advance(1500);
  CHECK(c.now_ns() == t0 + 1500);
  c.advance_s(2);
  CHECK(c.now_ns() == t0 + 1500 + 2'000'000'000);
}

TEST_CASE("fake clock: a waiter blocks until the time passes its deadline", "[clock]") {
  FakeClock c;
  std::mutex m;
  std::condition_variable cv;
  const uint64_t deadline = c.now_ns() + 1000;
  auto waiter = std::async(std::launch::async, [&] {
    std::unique_lock lk(m);
    return c.wait_until(cv, lk, deadline, [] { return false; });
  });
  REQUIRE(c.wait_for_waiters(1));
  c.advance(999);  // not yet: nothing to wake
  REQUIRE(c.wait_for_waiters(1));
  CHECK(waiter.wait_for(0ms) == std::future_status::timeout);
  c.advance(1);
  REQUIRE(waiter.wait_for(10s) == std::future_status::ready);
  CHECK_FALSE(waiter.get());  // the deadline passed
  CHECK(c.waiters() == 0);
}

TEST_CASE("fake clock: a notify wakes a waiter before its deadline", "[clock]") {
  FakeClock c;
  std::mutex m;
  std::condition_variable cv;
  bool flag = false;
  auto waiter = std::async(std::launch::async, [&] {
    std::unique_lock lk(m);
    return c.wait_until(cv, lk, c.now_ns() + 1'000'000'000, [&] { return flag; });
  });
  REQUIRE(c.wait_for_waiters(1));
  {
    std::lock_guard lk(m);
    flag = true;
  }
  cv.notify_all();
  REQUIRE(waiter.wait_for(10s) == std::future_status::ready);
  CHECK(waiter.get());
  // The predicate form reports a deadline reached with it false.
  std::unique_lock lk(m);
  CHECK_FALSE(c.wait_until(cv, lk, c.now_ns(), [] { return false; }));
}

TEST_CASE("fake clock: sleep_until and many waiters with different deadlines", "[clock]") {
  FakeClock c;
  const uint64_t t0 = c.now_ns();
  auto s1 = std::async(std::launch::async, [&] { c.sleep_until(t0 + 10); });
  auto s2 = std::async(std::launch::async, [&] { c.sleep_until(t0 + 20); });
  REQUIRE(c.wait_for_waiters(2));
  c.advance(15);
  REQUIRE(s1.wait_for(10s) == std::future_status::ready);
  REQUIRE(c.wait_for_waiters(1));  // the later one still sleeps
  CHECK(s2.wait_for(0ms) == std::future_status::timeout);
  c.advance(5);
  REQUIRE(s2.wait_for(10s) == std::future_status::ready);
}
