// WorkerSchedule: how many of a pool's workers may serve at once, and when
// a worker must be replaced — the pool's decisions without its threads or
// its FUSE session (fuse/worker_pool.cpp runs the threads; unit tests drive
// this directly).
//
// Why a pool of our own and not fuse_session_loop_mt(): see worker_pool.hpp.
// The rules:
//  - One worker serves; each request that keeps its worker for long
//    (busy_begin: a large transfer, a slow path, or one the watchdog finds
//    running for a while) lets one more in, up to `workers`.  The others
//    park on a futex (claim()).
//  - A worker that blocks for long (blocking_begin: queued while a volume
//    has no path, stuck in a hung path) gives up its serving slot, and a
//    replacement starts while fewer than `workers` are runnable, up to
//    `max_extra` threads beyond `workers`.  When it comes back, a surplus
//    worker retires (retire_if_surplus()).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "core/mutex.hpp"
#include "core/thread_annotations.hpp"

#include "core/io_context.hpp"

namespace mpathfs {

class WorkerSchedule final : public BlockingObserver {
 public:
  // What the schedule asks of the pool that owns the threads.
  class Host {
   public:
    // The session ended: nobody is to serve any more.
    virtual bool ended() const noexcept = 0;
    // Start one more worker thread (which calls admit() first).
    virtual void start_worker() noexcept = 0;

   protected:
    ~Host() = default;
  };

  // workers: threads serving requests when none is blocked.  max_extra:
  // replacements allowed at once for blocked workers.
  WorkerSchedule(Host& host, int workers, int max_extra);

  int target() const noexcept { return target_; }

  // ---- thread lifetime ----
  // A thread may start: false when `workers + max_extra` are alive.  On
  // true it counts as alive and runnable until leave() or not_started().
  bool admit() noexcept;
  // An admitted thread could not start (or cannot work): it never was.
  void not_started() noexcept;
  // A worker leaves: gives back its serving slot (if `serving`), and
  // unless it `retired` as a surplus, stops every parked worker (the
  // session ended).  Then it lets go of what it holds and calls exited(),
  // its last touch of the schedule.
  void leave(bool serving, bool retired) noexcept;
  void exited() noexcept;

  // ---- serving ----
  // Workers allowed to serve now: one, plus one per long request.
  int allowed() const noexcept;
  // Takes a serving slot, parking until one is free; false once the
  // session ended or stop_all() was called.
  bool claim() noexcept;
  // A surplus worker (a blocked colleague came back): true if this one is
  // to retire now (it is no longer counted runnable).
  bool retire_if_surplus() noexcept;
  // Called by a serving worker between requests: true if it gave up its
  // slot because more serve than are needed now — unless a long request
  // began since its last look (`last_activity`): under a stream of large
  // transfers the count dips between requests, and parking then would
  // cost a futex wake per request.
  bool unserve_if_surplus(uint32_t& last_activity) noexcept;
  uint32_t activity() const noexcept { return wakeups_.load(std::memory_order_relaxed); }
  // Something changed that may let a parked worker serve.
  void wake() noexcept;
  // Every parked worker leaves claim() with false.
  void stop_all() noexcept;

  // ---- BlockingObserver (what a worker says about its request) ----
  void blocking_begin() noexcept override;
  void blocking_end() noexcept override;
  void busy_begin() noexcept override;
  void busy_end() noexcept override;

  // ---- the pool's view ----
  // Waits until every worker has left, except those blocked.
  void wait_all_left();
  // True once every worker has left, except those stuck on hung paths.
  bool done() const;
  // Workers blocked now (queued for a path, or stuck in a hung path).
  int blocked() const noexcept { return blocked_.load(std::memory_order_acquire); }
  int serving() const noexcept { return serving_.load(); }
  int runnable() const noexcept { return runnable_.load(); }
  int parked() const noexcept { return parked_.load(); }
  int live() const;

 private:
  Host& host_;
  const int target_;
  const int max_extra_;
  std::atomic<int> runnable_{0};  // workers not blocked
  std::atomic<int> blocked_{0};   // workers inside a BlockingScope
  std::atomic<int> serving_{0};   // workers holding a serving slot (not blocked)
  std::atomic<int> busy_{0};      // long requests being served
  std::atomic<int> parked_{0};
  std::atomic<uint32_t> wakeups_{0};  // futex word the parked wait on
  std::atomic<bool> stopping_{false};
  mutable Mutex mu_;
  CondVar cv_;
  int live_ GUARDED_BY(mu_) = 0;  // threads alive
};

}  // namespace mpathfs
