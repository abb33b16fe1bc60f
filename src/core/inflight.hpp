// InflightSlot: what one worker is doing to one path right now, so the
// watchdog can see a request that a path has not answered in io_timeout.
//
// A worker owns its slot and fills it before each path I/O; the watchdog
// only reads it and, for a request past its deadline, takes it over with one
// CAS on `state` (kRunning -> kTakenOver, same sequence number).  From then
// on the watchdog's rescue answers the request on another path and the
// worker, whenever its hung call returns, drops the late answer: exactly one
// of them replies.  `state` carries a sequence number so a CAS can never
// take over the worker's *next* request by mistake.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/routing.hpp"

namespace mpathfs {

class Volume;
class BlockingObserver;

// Told when the caller of a request is interrupted (a signal).
class Interruption {
 public:
  virtual void interrupted() noexcept = 0;

 protected:
  ~Interruption() = default;
};

// What a transport offers beyond the answer, for a request that waits long
// (queued while a volume has no path): FUSE sends an INTERRUPT when the
// caller gets a signal, and a caller that is being killed should not wait
// for a path to come back.
struct ReplyHooks {
  // Calls w->interrupted() when the caller is interrupted (at once if it
  // already was).  watch(ctx, nullptr) stops it: no call after it returns.
  void (*watch)(void* ctx, Interruption* w) = nullptr;
  // True when the caller has a fatal signal pending (it is being killed):
  // an answer is no longer awaited by anyone.
  bool (*caller_dying)(void* ctx) = nullptr;
};

// How a request is answered; `done` is called exactly once per request.
// For reads `data` holds `result` bytes; result < 0 is -errno.
struct IoReply {
  void* ctx = nullptr;
  void (*done)(void* ctx, const std::byte* data, ssize_t result) = nullptr;
  const ReplyHooks* hooks = nullptr;  // optional
};

// Where a request comes from: a new one, or the rescue of a timed-out one,
// which carries on the original's failover state.
struct RequestOrigin {
  static constexpr uint64_t kNoEpoch = ~0ull;
  uint64_t fence_epoch = kNoEpoch;  // the original write's fence epoch
  bool restored = false;            // the original already ran the restore-all rule
};

struct InflightSlot {
  static constexpr uint64_t kIdle = 0, kRunning = 1, kTakenOver = 2, kStateMask = 3;

  // (sequence << 2) | state.
  std::atomic<uint64_t> state{kIdle};
  // Set by the watchdog once it has copied what it needs from the request
  // (a write's payload lives in the worker's receive buffer).
  std::atomic<bool> released{false};
  std::atomic<bool> timeout_reported{false};
  // Set by the watchdog for a request running for long (it called the
  // observer's busy_begin); the worker calls busy_end when it sees it.
  std::atomic<bool> slow{false};

  // The request; written by the worker before `state` becomes kRunning.
  // Relaxed atomics: the state's release/acquire orders them.
  std::atomic<Volume*> volume{nullptr};
  std::atomic<Path*> path{nullptr};
  std::atomic<uint64_t> start_ns{0}, deadline_ns{0};
  std::atomic<IoKind> kind{IoKind::kRead};
  std::atomic<uint64_t> off{0};
  std::atomic<size_t> len{0};
  std::atomic<const std::byte*> wdata{nullptr};
  std::atomic<void*> reply_ctx{nullptr};
  std::atomic<void (*)(void*, const std::byte*, ssize_t)> reply_done{nullptr};
  std::atomic<const ReplyHooks*> reply_hooks{nullptr};
  std::atomic<uint64_t> fence_epoch{0};   // writes: fences older than this are waited for
  std::atomic<uint64_t> fence_token{0};   // set by the watchdog: the fence of this stale write
  std::atomic<BlockingObserver*> observer{nullptr};
  std::atomic<bool> restored{false};      // the request already ran gmultipath's restore-all rule
  std::atomic<uint64_t> hold_mask{0};     // BlockLocks stripes the request holds
  std::atomic<bool> hold_exclusive{false};

  void begin(Volume* v, Path* p, uint64_t now, uint64_t deadline, IoKind k, uint64_t o, size_t l,
             const std::byte* w, const IoReply* r, uint64_t epoch, BlockingObserver* obs, bool was_restored,
             uint64_t hmask, bool hexcl) noexcept {
    constexpr auto rx = std::memory_order_relaxed;
    restored.store(was_restored, rx);
    hold_mask.store(hmask, rx);
    hold_exclusive.store(hexcl, rx);
    volume.store(v, rx);
    path.store(p, rx);
    start_ns.store(now, rx);
    deadline_ns.store(deadline, rx);
    kind.store(k, rx);
    off.store(o, rx);
    len.store(l, rx);
    wdata.store(w, rx);
    reply_ctx.store(r ? r->ctx : nullptr, rx);
    reply_done.store(r ? r->done : nullptr, rx);
    reply_hooks.store(r ? r->hooks : nullptr, rx);
    fence_epoch.store(epoch, rx);
    fence_token.store(0, rx);
    observer.store(obs, rx);
    timeout_reported.store(false, rx);
    seq_ += 1;
    state.store((seq_ << 2) | kRunning, std::memory_order_release);
  }
  // False if the watchdog took the request over.
  bool end() noexcept {
    uint64_t expect = (seq_ << 2) | kRunning;
    return state.compare_exchange_strong(expect, (seq_ << 2) | kIdle, std::memory_order_acq_rel);
  }
  void reset_after_takeover() noexcept {
    released.store(false, std::memory_order_relaxed);
    state.store((seq_ << 2) | kIdle, std::memory_order_release);
  }

 private:
  uint64_t seq_ = 0;  // the worker's own counter
};

}  // namespace mpathfs
