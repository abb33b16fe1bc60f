// mpathfs::Mutex: std::mutex with clang's capability annotations, and a
// condition variable that waits on it.
//
// The code keeps writing std::lock_guard / std::unique_lock: this header
// specializes both for Mutex (the standard allows specializations for
// program-defined types) as scoped capabilities, so
//   std::lock_guard lk(mu_);
// tells clang that mu_ is held until the end of the scope.  Everything is
// inline over std::mutex / std::condition_variable: no extra atomics, no
// extra state on the hot path (a unique_lock carries one more pointer).
//
// CondVar is std::condition_variable for std::unique_lock<Mutex>.  A wait
// predicate that reads guarded fields is a lambda, which clang analyses as
// a function of its own: write it `[&]() REQUIRES(mu_) { ... }`.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <utility>

#include "core/thread_annotations.hpp"

namespace mpathfs {

class CondVar;

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // Tells the analysis the caller holds it (no run-time check): for code
  // the analysis cannot follow.  Say why next to each use.
  void assert_held() const ASSERT_CAPABILITY(this) {}

 private:
  friend class std::unique_lock<Mutex>;
  std::mutex mu_;
};

}  // namespace mpathfs

namespace std {

template <>
class SCOPED_CAPABILITY lock_guard<mpathfs::Mutex> {
 public:
  using mutex_type = mpathfs::Mutex;
  explicit lock_guard(mutex_type& m) ACQUIRE(m) : m_(m) { m.lock(); }
  lock_guard(mutex_type& m, adopt_lock_t) REQUIRES(m) : m_(m) {}
  ~lock_guard() RELEASE() { m_.unlock(); }
  lock_guard(const lock_guard&) = delete;
  lock_guard& operator=(const lock_guard&) = delete;

 private:
  mutex_type& m_;
};

// The wrapped std::unique_lock<std::mutex> is what CondVar hands to
// std::condition_variable.  Moving a lock is not modelled by the analysis;
// the code never moves one.
template <>
class SCOPED_CAPABILITY unique_lock<mpathfs::Mutex> {
 public:
  using mutex_type = mpathfs::Mutex;
  unique_lock() noexcept = default;
  explicit unique_lock(mutex_type& m) ACQUIRE(m) : m_(&m) {
    m.lock();
    lk_ = std::unique_lock<std::mutex>(m.mu_, std::adopt_lock);
  }
  unique_lock(mutex_type& m, defer_lock_t) noexcept EXCLUDES(m) : m_(&m), lk_(m.mu_, std::defer_lock) {}
  unique_lock(mutex_type& m, adopt_lock_t) REQUIRES(m) : m_(&m), lk_(m.mu_, std::adopt_lock) {}
  // Analysed as "not held" (a try in a constructor cannot be annotated).
  unique_lock(mutex_type& m, try_to_lock_t) : m_(&m), lk_(m.mu_, std::try_to_lock) {}
  // The body of a scoped capability's destructor releases whatever it
  // still holds, which the analysis cannot express.
  ~unique_lock() RELEASE() NO_THREAD_SAFETY_ANALYSIS = default;
  unique_lock(const unique_lock&) = delete;
  unique_lock& operator=(const unique_lock&) = delete;
  unique_lock(unique_lock&& o) noexcept : m_(std::exchange(o.m_, nullptr)), lk_(std::move(o.lk_)) {}
  unique_lock& operator=(unique_lock&& o) noexcept {
    m_ = std::exchange(o.m_, nullptr);
    lk_ = std::move(o.lk_);
    return *this;
  }

  void lock() ACQUIRE() { lk_.lock(); }
  void unlock() RELEASE() { lk_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return lk_.try_lock(); }
  mutex_type* release() noexcept {
    lk_.release();
    return std::exchange(m_, nullptr);
  }
  void swap(unique_lock& o) noexcept {
    std::swap(m_, o.m_);
    lk_.swap(o.lk_);
  }
  bool owns_lock() const noexcept { return lk_.owns_lock(); }
  explicit operator bool() const noexcept { return owns_lock(); }
  mutex_type* mutex() const noexcept { return m_; }

 private:
  friend class mpathfs::CondVar;
  mutex_type* m_ = nullptr;
  std::unique_lock<std::mutex> lk_;
};

}  // namespace std

namespace mpathfs {

// std::condition_variable over std::unique_lock<Mutex>; the same calls.
class CondVar {
 public:
  using Lock = std::unique_lock<Mutex>;
  void notify_one() noexcept { cv_.notify_one(); }
  void notify_all() noexcept { cv_.notify_all(); }
  void wait(Lock& lk) { cv_.wait(lk.lk_); }
  template <class Pred>
  void wait(Lock& lk, Pred pred) {
    cv_.wait(lk.lk_, std::move(pred));
  }
  template <class Rep, class Period>
  std::cv_status wait_for(Lock& lk, const std::chrono::duration<Rep, Period>& d) {
    return cv_.wait_for(lk.lk_, d);
  }
  template <class Rep, class Period, class Pred>
  bool wait_for(Lock& lk, const std::chrono::duration<Rep, Period>& d, Pred pred) {
    return cv_.wait_for(lk.lk_, d, std::move(pred));
  }
  template <class Clock, class Duration>
  std::cv_status wait_until(Lock& lk, const std::chrono::time_point<Clock, Duration>& t) {
    return cv_.wait_until(lk.lk_, t);
  }
  template <class Clock, class Duration, class Pred>
  bool wait_until(Lock& lk, const std::chrono::time_point<Clock, Duration>& t, Pred pred) {
    return cv_.wait_until(lk.lk_, t, std::move(pred));
  }

  // For Clock::wait_until (core/clock.hpp), which waits on the real or a
  // fake clock: the wrapped pieces.
  std::condition_variable& native() noexcept { return cv_; }
  static std::unique_lock<std::mutex>& native(Lock& lk) noexcept { return lk.lk_; }

 private:
  std::condition_variable cv_;
};

}  // namespace mpathfs
