// FakeClock: a Clock whose time moves only when the test says so.
//
// A thread waiting on it really blocks — on its own condition variable,
// as the code under test wrote it — until the code notifies that variable
// or the test advances the time past its deadline.  For the latter the
// clock keeps a registry of waiters (condition variable, mutex, deadline);
// advance() notifies each waiter that is due while holding the waiter's
// mutex, so a waiter between "deadline not reached" and cv.wait() cannot
// miss it.  The mutex is only try-locked (the waiter holds it and then
// takes the registry's lock): advance() lets go of the registry and
// retries until it gets it, which never deadlocks.
//
// Tests synchronize on the registry, never on real time:
// wait_for_waiters(n) returns once n threads block on the clock, and
// finishes_at_once() runs code that must not wait for time at all.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <stdexcept>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

#include "core/clock.hpp"

namespace mpathfs::test {

class FakeClock final : public Clock {
 public:
  using Clock::wait_until;
  // Starts at an arbitrary non-zero time (0 means "never" in some fields).
  explicit FakeClock(uint64_t start_ns = 1'000'000'000'000) : now_(start_ns) {}

  uint64_t now_ns() const noexcept override {
    std::lock_guard lk(mu_);
    return now_;
  }

  std::cv_status wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lk,
                            uint64_t deadline_ns) override {
    std::list<Waiter>::iterator me;
    {
      std::lock_guard g(mu_);
      if (now_ >= deadline_ns) return std::cv_status::timeout;
      me = waiters_.insert(waiters_.end(), Waiter{&cv, lk.mutex(), deadline_ns});
    }
    changed_.notify_all();
    cv.wait(lk);  // lk was held since the check: advance() cannot slip in between
    std::lock_guard g(mu_);
    waiters_.erase(me);
    changed_.notify_all();
    return now_ >= deadline_ns ? std::cv_status::timeout : std::cv_status::no_timeout;
  }

  void sleep_until(uint64_t deadline_ns) override {
    std::mutex m;
    std::condition_variable cv;
    std::unique_lock lk(m);
    while (wait_until(cv, lk, deadline_ns) != std::cv_status::timeout) {
    }
  }

  // Moves the time on by `ns` and wakes every waiter whose deadline passed.
  void advance(uint64_t ns) {
    std::unique_lock g(mu_);
    now_ += ns;
    for (;;) {
      bool pending = false;
      for (auto& w : waiters_) {
        if (w.notified || w.deadline > now_) continue;
        if (w.mu->try_lock()) {
          w.cv->notify_all();
          w.mu->unlock();
          w.notified = true;
        } else {
          pending = true;  // the waiter (or the code) holds it: retry
        }
      }
      if (!pending) break;
      g.unlock();
      std::this_thread::yield();
      g.lock();
    }
    changed_.notify_all();
  }
  void advance_s(double s) { advance(seconds_to_ns(s)); }

  // Blocks until a waiter waits for exactly `deadline_ns` (a loop that
  // recomputed its deadline after a notify has re-armed it).
  bool wait_for_deadline(uint64_t deadline_ns, std::chrono::milliseconds bound = std::chrono::seconds(10)) const {
    std::unique_lock g(mu_);
    return changed_.wait_for(g, bound, [&] {
      return std::any_of(waiters_.begin(), waiters_.end(),
                         [&](const Waiter& w) { return !w.notified && w.deadline == deadline_ns; });
    });
  }

  // Threads blocked on this clock now.
  size_t waiters() const {
    std::lock_guard g(mu_);
    return waiters_.size();
  }
  // Blocks until at least n threads wait on the clock with a deadline
  // reached only by advancing (false after a generous real-time bound,
  // which only a broken test reaches).
  bool wait_for_waiters(size_t n, std::chrono::milliseconds bound = std::chrono::seconds(10)) const {
    std::unique_lock g(mu_);
    return changed_.wait_for(g, bound, [&] {
      return static_cast<size_t>(std::count_if(waiters_.begin(), waiters_.end(),
                                               [](const Waiter& w) { return !w.notified; })) >= n;
    });
  }

 private:
  struct Waiter {
    std::condition_variable* cv;
    std::mutex* mu;
    uint64_t deadline;
    bool notified = false;
  };
  mutable std::mutex mu_;  // taken after a waiter's own mutex, never before it
  mutable std::condition_variable changed_;
  uint64_t now_;
  std::list<Waiter> waiters_;
};

// Runs f on a thread and returns its result; fails the test if f does not
// finish while the fake clock stands still (it waited for time).  The real
// bound is generous: only a broken test reaches it.
// (The thread is detached so that a failing test does not hang on it.)
template <typename F>
auto finishes_at_once(F f) {
  auto task = std::make_shared<std::packaged_task<decltype(f())()>>(std::move(f));
  auto fut = task->get_future();
  std::thread([task] { (*task)(); }).detach();
  if (fut.wait_for(std::chrono::seconds(10)) != std::future_status::ready)
    throw std::runtime_error("waited for the fake clock to move");
  return fut.get();
}

}  // namespace mpathfs::test
