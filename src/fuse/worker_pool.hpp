// WorkerPool: the threads that serve /dev/fuse, each with its own aligned
// I/O buffer (IoContext).
//
// Why not fuse_session_loop_mt(): a worker that blocks for long — queued
// while a volume has no path (no_path_retry), or stuck in a hung path — must
// be replaced at once, or a few such requests starve everything, the control
// files included (`echo 0 > no_path_retry` must still get through).  Here a
// worker announces that it blocks (BlockingObserver) and the pool starts a
// replacement; when it comes back, a surplus worker retires.  The loop is
// libfuse's public receive/process pair, without the shared mutex of the
// libfuse 3.14 mt loop.
//
// How many serve at once: on a fast path (tmpfs, page cache) a request
// costs less than waking a thread, and one worker that never sleeps beats
// several that take turns (measured: 4 KiB I/O, +30% with 1 worker vs 2 on
// 2 cores).  Large transfers and slow paths need several.  So one worker
// serves; each request that keeps its worker for long (busy_begin: a large
// transfer, a slow path, or one the watchdog finds running for a while)
// lets one more in, up to `workers`.  The others wait parked on a futex.
#pragma once

#include <atomic>
#include <cstddef>

#include "core/io_context.hpp"
#include "core/mutex.hpp"
#include "core/watchdog.hpp"
#include "fuse/fs.hpp"

namespace mpathfs::fuse {

class WorkerPool final : public BlockingObserver {
 public:
  // workers: threads serving requests when none is blocked.  max_extra:
  // replacements allowed at once for blocked workers.
  WorkerPool(fuse_session* se, int workers, size_t max_io, Watchdog* watchdog, int max_extra = 256);
  ~WorkerPool() override;

  // Starts the workers.
  void start();
  // Waits until every worker has left (the session ended: unmount).
  void wait();
  // True once every worker has left, except those stuck on hung paths.
  bool done() const;
  // Workers blocked now (queued for a path, or stuck in a hung path).
  int blocked() const;

  void blocking_begin() noexcept override;
  void blocking_end() noexcept override;
  void busy_begin() noexcept override;
  void busy_end() noexcept override;

 private:
  void spawn() noexcept;
  void worker_main() noexcept;
  // Workers allowed to serve now: one, plus one per long request.
  int allowed() const noexcept;
  // Takes a serving slot, parking until one is free; false when the
  // session ends.
  bool claim() noexcept;
  // Something changed that may let a parked worker serve.
  void wake() noexcept;
  void stop_all() noexcept;

  fuse_session* se_;
  const int target_;
  const size_t max_io_;
  Watchdog* const watchdog_;
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

// The calling worker's I/O context (made on first use on other threads).
IoContext& worker_context();

}  // namespace mpathfs::fuse
