// Clock: where the core reads time and waits for it (the time half of
// leveldb's Env, as PathIo is the I/O half).  Every *time decision* — a
// request's io_timeout deadline, the watchdog's scan period, the checker's
// interval, no_path_retry queueing, the write-fence wait, the flush
// deadline — goes through the Clock its owner was handed, so unit tests
// run those schedules on a fake clock (tests/unit/fake_clock.hpp) in
// microseconds instead of real-time windows.
//
// Times are monotonic nanoseconds.  The production clock is CLOCK_MONOTONIC
// (a vDSO read, no syscall); the hot path reaches it through a reference
// its Volume already holds: one virtual call per read, no lock, no
// allocation.  Nothing holds a global clock: Registry, Volume, Watchdog
// and Checker are each handed one (the real clock by default).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "core/mutex.hpp"
#include "core/thread_annotations.hpp"

namespace mpathfs {

class Clock {
 public:
  virtual ~Clock() = default;

  // Monotonic nanoseconds.
  virtual uint64_t now_ns() const noexcept = 0;
  // As condition_variable::wait_until: blocks on `cv` (lk held on entry and
  // return) until notified or this clock reaches `deadline_ns`.  Wakes
  // spuriously, as a condition variable does: callers re-check.
  virtual std::cv_status wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lk,
                                    uint64_t deadline_ns) = 0;
  // Blocks the calling thread until this clock reaches `deadline_ns`.
  virtual void sleep_until(uint64_t deadline_ns) = 0;

  // Waits until pred() holds (true) or the deadline passed with it false.
  template <typename Pred>
  bool wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lk, uint64_t deadline_ns, Pred pred) {
    while (!pred())
      if (wait_until(cv, lk, deadline_ns) == std::cv_status::timeout) return pred();
    return true;
  }
  // The same on the annotated mutex and condition variable (core/mutex.hpp).
  std::cv_status wait_until(CondVar& cv, std::unique_lock<Mutex>& lk, uint64_t deadline_ns) {
    return wait_until(cv.native(), CondVar::native(lk), deadline_ns);
  }
  // pred runs with lk held, as the caller's lock; the analysis cannot see a
  // lock handed in by reference.
  template <typename Pred>
  bool wait_until(CondVar& cv, std::unique_lock<Mutex>& lk, uint64_t deadline_ns, Pred pred)
      NO_THREAD_SAFETY_ANALYSIS {
    while (!pred())
      if (wait_until(cv, lk, deadline_ns) == std::cv_status::timeout) return pred();
    return true;
  }
  // now + seconds, saturating (no_path_retry may be a year; -1 is "never").
  uint64_t deadline_after_ns(uint64_t ns) const noexcept {
    const uint64_t now = now_ns();
    return ns > UINT64_MAX - now ? UINT64_MAX : now + ns;
  }

  // The process's monotonic clock (stateless: one shared instance is no
  // global state).
  static Clock& real() noexcept;
};

// CLOCK_MONOTONIC in nanoseconds (vDSO, no syscall): what the real clock
// reads.  Time decisions use a Clock, not this.
uint64_t monotonic_now_ns() noexcept;

// Seconds as clock nanoseconds (settings are given in seconds).
inline uint64_t seconds_to_ns(double s) noexcept {
  return s <= 0 ? 0 : s >= 1e10 ? UINT64_MAX / 2 : static_cast<uint64_t>(s * 1e9);
}

}  // namespace mpathfs
