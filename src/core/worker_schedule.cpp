#include "core/worker_schedule.hpp"

#include <algorithm>

namespace mpathfs {

WorkerSchedule::WorkerSchedule(Host& host, int workers, int max_extra)
    : host_(host), target_(workers < 1 ? 1 : workers), max_extra_(max_extra) {}

bool WorkerSchedule::admit() noexcept {
  {
    std::lock_guard lk(mu_);
    if (live_ >= target_ + max_extra_) return false;
    ++live_;
  }
  runnable_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void WorkerSchedule::not_started() noexcept {
  runnable_.fetch_sub(1, std::memory_order_relaxed);
  std::lock_guard lk(mu_);
  --live_;
  cv_.notify_all();
}

void WorkerSchedule::leave(bool serving, bool retired) noexcept {
  if (serving) {
    // Whoever parked because this worker served must not wait for it.
    serving_.fetch_sub(1);
    wake();
  }
  if (!retired) {
    runnable_.fetch_sub(1, std::memory_order_relaxed);
    stop_all();  // the session ended: parked workers leave too
  }
}

void WorkerSchedule::exited() noexcept {
  std::lock_guard lk(mu_);
  --live_;
  cv_.notify_all();
}

void WorkerSchedule::blocking_begin() noexcept {
  // The worker gives up its serving slot while it blocks.
  serving_.fetch_sub(1);
  blocked_.fetch_add(1, std::memory_order_acq_rel);
  // This worker will block: keep `target_` workers serving requests.
  if (runnable_.fetch_sub(1, std::memory_order_acq_rel) - 1 < target_ && !host_.ended()) host_.start_worker();
  wake();
  std::lock_guard lk(mu_);
  cv_.notify_all();
}

void WorkerSchedule::blocking_end() noexcept {
  // Back with its request: it serves it, and gives the slot back after it
  // if that makes too many (unserve_if_surplus).
  serving_.fetch_add(1);
  runnable_.fetch_add(1, std::memory_order_acq_rel);
  blocked_.fetch_sub(1, std::memory_order_acq_rel);
  std::lock_guard lk(mu_);
  cv_.notify_all();
}

void WorkerSchedule::busy_begin() noexcept {
  busy_.fetch_add(1);
  wake();
}

void WorkerSchedule::busy_end() noexcept { busy_.fetch_sub(1); }

int WorkerSchedule::allowed() const noexcept {
  const int b = busy_.load();
  return std::min(target_, 1 + std::max(0, b));
}

void WorkerSchedule::wake() noexcept {
  // Bump the word before looking for sleepers: a worker about to park
  // either sees the new value or is counted in parked_ (seq_cst both sides).
  wakeups_.fetch_add(1);
  if (parked_.load() > 0) wakeups_.notify_one();
}

void WorkerSchedule::stop_all() noexcept {
  stopping_.store(true);
  wakeups_.fetch_add(1);
  wakeups_.notify_all();
}

bool WorkerSchedule::claim() noexcept {
  for (;;) {
    const uint32_t seen = wakeups_.load();
    if (stopping_.load() || host_.ended()) return false;
    int s = serving_.load();
    while (s < allowed())
      if (serving_.compare_exchange_weak(s, s + 1)) return true;
    parked_.fetch_add(1);
    wakeups_.wait(seen);
    parked_.fetch_sub(1);
  }
}

bool WorkerSchedule::retire_if_surplus() noexcept {
  int r = runnable_.load(std::memory_order_relaxed);
  return r > target_ && runnable_.compare_exchange_strong(r, r - 1);
}

bool WorkerSchedule::unserve_if_surplus(uint32_t& last_activity) noexcept {
  if (serving_.load(std::memory_order_relaxed) <= allowed()) return false;
  const uint32_t activity = wakeups_.load(std::memory_order_relaxed);
  const bool quiet = activity == last_activity;
  last_activity = activity;
  if (quiet) serving_.fetch_sub(1);
  return quiet;
}

void WorkerSchedule::wait_all_left() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [this]() REQUIRES(mu_) { return live_ <= blocked_.load(); });
}

bool WorkerSchedule::done() const {
  std::lock_guard lk(mu_);
  return live_ <= blocked_.load();
}

int WorkerSchedule::live() const {
  std::lock_guard lk(mu_);
  return live_;
}

}  // namespace mpathfs
