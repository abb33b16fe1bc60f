#include "core/clock.hpp"

#include <time.h>

#include <chrono>
#include <thread>

namespace mpathfs {

uint64_t monotonic_now_ns() noexcept {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

namespace {

// steady_clock is CLOCK_MONOTONIC on Linux (libstdc++), and its
// condition_variable waits use pthread_cond_clockwait on that clock: the
// deadlines below are the same instants monotonic_now_ns() reads.
std::chrono::steady_clock::time_point to_steady(uint64_t ns) {
  // A far deadline ("queue forever") must not overflow the time_point.
  constexpr uint64_t kFar = uint64_t{1} << 62;
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(ns > kFar ? kFar : ns));
}

class RealClock final : public Clock {
 public:
  using Clock::wait_until;
  uint64_t now_ns() const noexcept override { return monotonic_now_ns(); }
  std::cv_status wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lk,
                            uint64_t deadline_ns) override {
    return cv.wait_until(lk, to_steady(deadline_ns));
  }
  void sleep_until(uint64_t deadline_ns) override { std::this_thread::sleep_until(to_steady(deadline_ns)); }
};

}  // namespace

Clock& Clock::real() noexcept {
  static RealClock clock;
  return clock;
}

}  // namespace mpathfs
