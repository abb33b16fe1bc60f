// Watchdog: enforces io_timeout.  Every 50 ms (of its clock) it looks at each worker's
// in-flight slot; a request that a path has not answered by its deadline
// fails that path (like an I/O error) and is taken over: a rescue thread
// re-issues it on the next working path and answers it, while the stuck
// worker is replaced in its pool.  When the hung call finally returns, the
// worker drops the late answer.
//
// A timed-out write may still land on the disk later (every path leads to
// the same disk).  Until it has been answered, it is fenced: a newer write
// overlapping it waits (Volume's write fence), so it can never be
// overwritten by the stale one.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/inflight.hpp"
#include "core/mutex.hpp"

namespace mpathfs {

class Watchdog {
 public:
  // A request running longer than this is "slow": its worker's pool lets
  // another worker serve (BlockingObserver::busy_begin).
  static constexpr uint64_t kSlowRequestNs = 20'000'000;

  // `clock` must be the one of the volumes it watches (their deadlines).
  explicit Watchdog(size_t max_io = 1 << 20, unsigned period_ms = 50, Clock& clock = Clock::real());
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void start();
  void stop();
  // Runs `task` after every scan, on the watchdog's thread (housekeeping
  // that must stay off the threads it would block).  Set before start().
  void after_scan(std::function<void()> task) { after_scan_ = std::move(task); }

  void attach(InflightSlot* s);
  void detach(InflightSlot* s);

  // One scan at `now_ns` (the loop, and tests).
  void scan(uint64_t now_ns);

 private:
  void loop();
  void take_over(InflightSlot& s);
  static bool cut_loose(const InflightSlot& s, uint64_t state) noexcept;

  Clock& clock_;
  const size_t max_io_;
  const unsigned period_ms_;
  Mutex mu_;  // guards slots_ and stop_
  CondVar cv_;
  std::vector<InflightSlot*> slots_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  std::function<void()> after_scan_;
  std::thread thread_;
};

}  // namespace mpathfs
