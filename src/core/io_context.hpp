// IoContext: what one I/O worker brings to a request — its aligned scratch
// buffer (made once, reused for every request: no allocation per request),
// its in-flight slot (watched for io_timeout) and a hook to tell its pool
// that it is about to block for long.
#pragma once

#include <cstddef>

#include "core/aligned_buffer.hpp"
#include "core/inflight.hpp"
#include "core/path_io.hpp"

namespace mpathfs {

class Watchdog;

// A worker pool implements this so a worker that waits for a path to come
// back (no_path_retry) or is stuck on a hung path is replaced by a fresh one,
// and the control files stay answerable.
//
// busy_begin/end bracket a request that keeps its worker for long (a large
// transfer, a slow path, or one the watchdog saw running for a while): the
// pool lets one more worker serve meanwhile.  Short requests say nothing,
// so on fast paths one worker serves alone, without waking its colleagues.
class BlockingObserver {
 public:
  virtual ~BlockingObserver() = default;
  virtual void blocking_begin() noexcept = 0;
  virtual void blocking_end() noexcept = 0;
  virtual void busy_begin() noexcept {}
  virtual void busy_end() noexcept {}
};

class IoContext {
 public:
  // max_io: the largest request this worker will hand to a volume (FUSE's
  // max_write / max_read, 1 MiB with libfuse 3.14).  watchdog: watches this
  // worker's path I/O for io_timeout (none in some unit tests).
  explicit IoContext(size_t max_io, BlockingObserver* observer = nullptr, Watchdog* watchdog = nullptr);
  ~IoContext();
  IoContext(const IoContext&) = delete;
  IoContext& operator=(const IoContext&) = delete;

  std::byte* scratch() const { return buf_.data(); }
  size_t scratch_size() const { return buf_.size(); }
  size_t max_io() const { return max_io_; }
  BlockingObserver* observer() const { return observer_; }
  InflightSlot& slot() { return slot_; }
  Watchdog* watchdog() const { return watchdog_; }

 private:
  AlignedBuffer buf_;
  size_t max_io_;
  BlockingObserver* observer_;
  Watchdog* watchdog_;
  InflightSlot slot_;
};

// RAII: tells the observer (if any) that this worker begins and ends
// something the pool must know of.
template <void (BlockingObserver::*Begin)() noexcept, void (BlockingObserver::*End)() noexcept>
class ObserverScope {
 public:
  explicit ObserverScope(BlockingObserver* o) : o_(o) {
    if (o_) (o_->*Begin)();
  }
  ~ObserverScope() {
    if (o_) (o_->*End)();
  }
  ObserverScope(const ObserverScope&) = delete;
  ObserverScope& operator=(const ObserverScope&) = delete;

 private:
  BlockingObserver* o_;
};

// This worker blocks (queued, flushing): the pool replaces it.
using BlockingScope = ObserverScope<&BlockingObserver::blocking_begin, &BlockingObserver::blocking_end>;
// This worker is busy for long: the pool lets one more serve.
using BusyScope = ObserverScope<&BlockingObserver::busy_begin, &BlockingObserver::busy_end>;

}  // namespace mpathfs
