// AsyncRequest and AsyncPool: volume requests that hold no thread while a
// network path works on them.
//
// Why: a worker that sleeps until its path answers costs two context
// switches per request, and on a VM those dominate a 4 KiB request over
// NBD (bench/README.md, "Why the 4 KiB rows stay under target").  Instead
// the worker hands the request to the path (PathIo::submit) and goes back
// to /dev/fuse; the path's event loop answers the caller from the
// completion (Volume::submit, volume_async.cpp).
//
// The pool's requests are made once (buffer, in-flight slot attached to the
// watchdog, so io_timeout applies as to a worker's request) and taken and
// given back with one CAS each: no allocation and no lock per request.  When
// all are in use, the caller serves synchronously.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "core/aligned_buffer.hpp"
#include "core/inflight.hpp"
#include "core/path_io.hpp"

namespace mpathfs {

class AsyncPool;
class Path;
class Volume;
class Watchdog;

class AsyncRequest {
 public:
  AsyncRequest(AsyncPool& pool, size_t capacity);
  AsyncRequest(const AsyncRequest&) = delete;
  AsyncRequest& operator=(const AsyncRequest&) = delete;

  // ---- set by the caller before Volume::submit ----
  IoKind kind = IoKind::kRead;
  uint64_t off = 0;
  size_t len = 0;
  IoReply reply;  // answered exactly once, from whichever thread ends it
  // A write's payload is copied here; a read lands here.  Aligned to kMaxAlign.
  std::byte* buf() const { return buf_.data(); }
  size_t capacity() const { return buf_.size(); }

  // ---- the volume's, while it is in flight ----
  PathOp op;
  InflightSlot inflight;         // watched for io_timeout like a worker's
  Volume* volume = nullptr;
  Path* path = nullptr;
  std::shared_ptr<const void> keep;  // the path set it was routed in: keeps the path alive
  uint64_t t_issued = 0;         // submitted (the volume's latency and the path's start)
  uint64_t t_answered = 0;       // the path answered
  uint64_t fence_epoch = 0;      // a write's, as Request::fence_epoch

  AsyncPool& pool() const { return pool_; }
  Watchdog* watchdog() const;
  // Back to the pool; the request must not be touched after.
  void release() noexcept;

 private:
  friend class AsyncPool;
  AsyncPool& pool_;
  AlignedBuffer buf_;
  std::atomic<uint8_t> state_{0};  // AsyncPool's kFree / kTaken
  // AsyncPool::carry_on's queue for its carrier thread.
  AsyncRequest* next_carried_ = nullptr;
  void (*carry_fn_)(AsyncRequest&) noexcept = nullptr;
};

class AsyncPool {
 public:
  // `count` requests of up to `max_bytes`; their in-flight slots are watched
  // by `watchdog` (may be null in unit tests: no io_timeout then).
  AsyncPool(size_t count, size_t max_bytes, Watchdog* watchdog);
  ~AsyncPool();
  AsyncPool(const AsyncPool&) = delete;
  AsyncPool& operator=(const AsyncPool&) = delete;

  // A free request, or nullptr when all are in flight (serve synchronously).
  AsyncRequest* acquire() noexcept;
  void release(AsyncRequest& r) noexcept;
  size_t max_bytes() const { return max_bytes_; }
  Watchdog* watchdog() const { return watchdog_; }

  // Drops the path references that idle requests still keep (a request
  // answered on a path's own thread cannot drop the last reference there:
  // the path's destructor would join that thread).  Called periodically.
  void trim() noexcept;
  // Runs fn(r) off the calling thread, which must not block (a path's event
  // loop): on a thread of its own (failures are rare, and one may block for
  // long: a held write, no_path_retry), or — when no thread can be started —
  // on the pool's carrier thread, one after the other (degraded: a failure
  // that blocks holds up those behind it, which io_timeout's rescue answers).
  void carry_on(AsyncRequest& r, void (*fn)(AsyncRequest&) noexcept) noexcept;
  // carry_on's fallback: fn(r) on the carrier thread, in no set order with
  // others queued (public so that tests can reach it without exhausting
  // the machine's threads).
  void carry_on_carrier(AsyncRequest& r, void (*fn)(AsyncRequest&) noexcept) noexcept;
  // Requests in flight now.
  size_t busy() const noexcept;
  // Waits up to `seconds` until none is in flight; the number left.
  size_t wait_idle(double seconds) const noexcept;

 private:
  static constexpr uint8_t kFree = 0, kTaken = 1;
  const size_t max_bytes_;
  Watchdog* const watchdog_;
  void carrier_main() noexcept;

  std::vector<std::unique_ptr<AsyncRequest>> reqs_;
  std::atomic<size_t> hint_{0};
  std::atomic<AsyncRequest*> carried_{nullptr};  // a lock-free stack
  std::atomic<uint32_t> carrier_wake_{0};
  std::atomic<bool> stop_{false};
  std::thread carrier_;
};

}  // namespace mpathfs
