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
// Those decisions live in core/worker_schedule.hpp (unit-tested there);
// this file runs the threads and the FUSE receive loop.
#pragma once

#include <cstddef>

#include "core/io_context.hpp"
#include "core/mutex.hpp"
#include "core/watchdog.hpp"
#include "core/worker_schedule.hpp"
#include "fuse/fs.hpp"

namespace mpathfs::fuse {

class WorkerPool final : private WorkerSchedule::Host {
 public:
  // workers: threads serving requests when none is blocked.  max_extra:
  // replacements allowed at once for blocked workers.
  WorkerPool(fuse_session* se, int workers, size_t max_io, Watchdog* watchdog, int max_extra = 256);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Starts the workers.
  void start();
  // Waits until every worker has left (the session ended: unmount).
  void wait();
  // True once every worker has left, except those stuck on hung paths.
  bool done() const;
  // Workers blocked now (queued for a path, or stuck in a hung path).
  int blocked() const;

 private:
  // WorkerSchedule::Host
  bool ended() const noexcept override;
  void start_worker() noexcept override { spawn(); }

  void spawn() noexcept;
  void worker_main() noexcept;

  fuse_session* se_;
  const size_t max_io_;
  Watchdog* const watchdog_;
  WorkerSchedule sched_;  // the workers' BlockingObserver
};

// The calling worker's I/O context (made on first use on other threads).
IoContext& worker_context();

}  // namespace mpathfs::fuse
