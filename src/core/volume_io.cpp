// Volume: the request path — routing, alignment for O_DIRECT paths,
// failover, gmultipath's restore-all rule and no_path_retry queueing.
//
// Per request: one atomic shared_ptr load (the path set), the router's
// atomic reads, one pread/pwrite, relaxed counter updates.  No allocation,
// no lock and no log line unless a path fails.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "core/errno_class.hpp"
#include "core/volume.hpp"

namespace mpathfs {
namespace {
// Bound on retries of one request, whatever other requests restore meanwhile.
constexpr int kMaxRounds = 4 * static_cast<int>(kMaxPaths);
// A request expected to take longer than a few context switches: a large
// transfer, or any request on a path that answers slowly (a disk, a
// network).  On tmpfs or page cache a 4 KiB request takes 1-3 us.
constexpr size_t kLongIoBytes = 128 * 1024;
constexpr uint32_t kLongIoNs = 30'000;
}  // namespace

Path* Volume::choose(const PathSet& set, IoKind kind, const Attempt& a) const {
  uint64_t excluded = 0;
  if (a.ntried) {
    for (size_t i = 0; i < set.paths.size(); ++i)
      if (a.excluded(set.paths[i].get())) excluded |= 1ull << i;
  }
  RouteView v{set.paths, active_.load(std::memory_order_acquire), excluded};
  return route(mode(), v, kind);
}

ssize_t Volume::read(IoContext& ctx, size_t len, uint64_t off, const std::byte** data, const IoReply* reply,
                     RequestOrigin origin) noexcept {
  if (is_shut_down()) return -EIO;
  if (off >= size_) return 0;
  if (len > size_ - off) len = static_cast<size_t>(size_ - off);
  if (len > ctx.max_io()) len = ctx.max_io();  // a short read; FUSE never asks for more
  if (len == 0) return 0;
  Attempt a;
  a.restored = origin.restored;
  a.reply = reply;
  for (;;) {
    auto set = load_set();  // keeps the chosen path alive for this attempt
    Path* p = choose(*set, IoKind::kRead, a);
    // A FAIL path tried as a last resort is restored if it answers; any
    // other answer says nothing of a path's state (it may be a late one,
    // from before the path was failed — by the admin, too).
    bool last = false;
    if (!p && a.restored) last = (p = last_resort(*set, a)) != nullptr;
    if (!p) {
      if (int r = on_no_path(ctx, a)) return r;
      continue;
    }
    ssize_t n = attempt(*p, ctx, IoKind::kRead, len, off, nullptr, data, reply, 0, a.restored);
    if (n >= 0 && last) revive(*p);
    if (n >= 0 || n == kTakenOver) return n;
    if (!is_path_error(static_cast<int>(-n))) return n;  // the request is wrong: return it
    on_path_error(*p, static_cast<int>(-n), a);
    if (is_shut_down()) return -EIO;
  }
}

ssize_t Volume::write(IoContext& ctx, const std::byte* data, size_t len, uint64_t off, const IoReply* reply,
                      RequestOrigin origin) noexcept {
  if (is_shut_down()) return -EIO;
  if (len == 0) return 0;
  // A volume does not grow: a write reaching past the end is refused whole,
  // so a labeled volume's metadata sector can never be touched.
  if (off >= size_ || len > size_ - off) return -ENOSPC;
  if (len > ctx.max_io()) return -EINVAL;
  // Stale writes older than this one must be answered before it is issued.
  const uint64_t epoch = origin.fence_epoch == kNoEpoch ? fence_seq_.load() : origin.fence_epoch;
  if (fences_active_.load() > 0) {
    if (int r = wait_for_fences(ctx, off, len, epoch)) return r;
  }
  Attempt a;
  a.restored = origin.restored;
  a.reply = reply;
  for (;;) {
    auto set = load_set();
    Path* p = choose(*set, IoKind::kWrite, a);
    bool last = false;  // see read()
    if (!p && a.restored) last = (p = last_resort(*set, a)) != nullptr;
    if (!p) {
      if (int r = on_no_path(ctx, a)) return r;
      continue;
    }
    ssize_t n = attempt(*p, ctx, IoKind::kWrite, len, off, data, nullptr, reply, epoch, a.restored);
    if (n >= 0 && last) revive(*p);
    if (n >= 0 || n == kTakenOver) return n;
    if (!is_path_error(static_cast<int>(-n))) return n;
    on_path_error(*p, static_cast<int>(-n), a);
    if (is_shut_down()) return -EIO;
  }
}

ssize_t Volume::attempt(Path& p, IoContext& ctx, IoKind kind, size_t len, uint64_t off, const std::byte* wdata,
                        const std::byte** rdata, const IoReply* reply, uint64_t epoch, bool restored) noexcept {
  // Block locks are taken before the watched part: waiting for a lock is
  // not a path that fails to answer (a hung holder is taken over and its
  // hold released by the watchdog).
  BlockLocks::Hold hold;
  if (kind == IoKind::kWrite && rmw_possible_.load(std::memory_order_relaxed)) {
    const uint64_t al = p.io().align();
    if (al > 1 && (off % al != 0 || len % al != 0)) {
      const uint64_t a_off = off & ~(al - 1);
      const uint64_t a_end = (off + len + al - 1) & ~(al - 1);
      hold = block_locks_.acquire(
          BlockLocks::stripes_of(a_off, a_off + 1) | BlockLocks::stripes_of(a_end - 1, a_end), true,
          ctx.observer());
    } else {
      hold = block_locks_.acquire(BlockLocks::stripes_of(off, off + len), false, ctx.observer());
    }
  }
  // A request that will keep this worker for long lets another serve.
  BusyScope busy(len >= kLongIoBytes || p.recent_ns() >= kLongIoNs ? ctx.observer() : nullptr);
  InflightSlot& slot = ctx.slot();
  const uint64_t now = now_ns();
  slot.begin(this, &p, now, now + io_timeout_ns_, kind, off, len, wdata, reply, epoch, ctx.observer(), restored,
             hold.mask, hold.exclusive);
  ssize_t n = kind == IoKind::kRead ? read_on(p, ctx, len, off, rdata) : write_on(p, ctx, wdata, len, off);
  const bool answered = slot.end();
  if (slot.slow.load(std::memory_order_relaxed) && slot.slow.exchange(false)) {
    if (BlockingObserver* o = ctx.observer()) o->busy_end();
  }
  if (!answered) return abandon(ctx);  // the watchdog released the hold
  if (!hold.empty()) block_locks_.release(hold);
  return n;
}

ssize_t Volume::abandon(IoContext& ctx) noexcept {
  InflightSlot& slot = ctx.slot();
  // The watchdog copies the request, then releases the worker: brief.
  while (!slot.released.load(std::memory_order_acquire)) std::this_thread::yield();
  if (uint64_t token = slot.fence_token.load(std::memory_order_relaxed)) {
    std::lock_guard lk(fence_mu_);
    for (auto it = fences_.begin(); it != fences_.end(); ++it) {
      if (it->seq == token) {
        fences_.erase(it);
        fences_active_.fetch_sub(1);
        break;
      }
    }
    fence_cv_.notify_all();
  }
  abandoned_.fetch_sub(1, std::memory_order_relaxed);
  if (BlockingObserver* o = slot.observer.load(std::memory_order_relaxed)) o->blocking_end();
  slot.reset_after_takeover();
  return kTakenOver;
}

int Volume::wait_for_fences(IoContext& ctx, uint64_t off, size_t len, uint64_t epoch) noexcept {
  auto overlaps = [&]() REQUIRES(fence_mu_) {
    for (auto& f : fences_)
      if (f.seq <= epoch && f.off < off + len && off < f.off + f.len) return true;
    return false;
  };
  std::unique_lock lk(fence_mu_);
  if (!overlaps()) return 0;
  BlockingScope blocking(ctx.observer());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(kFenceWaitSeconds);
  while (overlaps()) {
    if (is_shut_down() || fence_cv_.wait_until(lk, deadline) == std::cv_status::timeout) {
      if (!overlaps()) break;
      spdlog::error("{}: a write at {} waited {} s for a timed-out write to the same blocks; failing it (EIO) "
                    "rather than risk the stale write landing after it",
                    name(), off, kFenceWaitSeconds);
      return -EIO;
    }
  }
  return 0;
}

Volume::TimeoutOutcome Volume::on_io_timeout(Path& p, double waited_s, bool taken_over, bool write, uint64_t off,
                                              size_t len, bool request_restored) noexcept {
  TimeoutOutcome out;
  out.restored = request_restored;
  if (taken_over) abandoned_.fetch_add(1, std::memory_order_relaxed);
  if (taken_over && write) {
    // Fence the whole blocks the stale write may rewrite (a read-modify-
    // write covers its edge blocks), at the widest alignment.
    const uint64_t f_off = off & ~(uint64_t{kMaxAlign} - 1);
    const uint64_t f_end = (off + len + kMaxAlign - 1) & ~(uint64_t{kMaxAlign} - 1);
    std::lock_guard lk(fence_mu_);
    // Publish "a fence exists" before its sequence number: a writer that
    // sees the new epoch also sees fences_active_ > 0 and looks.
    fences_active_.fetch_add(1);
    out.fence_token = fence_seq_.fetch_add(1) + 1;
    try {
      fences_.push_back({out.fence_token, f_off, static_cast<size_t>(f_end - f_off)});
    } catch (...) {
      fences_active_.fetch_sub(1);
      out.fence_token = 0;
    }
  }
  std::lock_guard lk(mu_);
  auto set = load_set();
  if (!p.failed())
    spdlog::error("{}: path {} did not answer a request in {:.1f} s (io_timeout {} s)", name(), p.name(), waited_s,
                  settings_.io_timeout);
  // "Exactly like an I/O error": the restore-all rule, once per request
  // (a request nobody else can answer waits for its path instead).
  if (on_failure_locked(*set, p, FailTrigger::kIoTimeout, ETIMEDOUT, !request_restored && taken_over))
    out.restored = true;
  p.set_last_error(ETIMEDOUT);
  return out;
}

// Reads the aligned span that covers [off, off+len) into the scratch buffer:
// an O_DIRECT path takes any request, aligned or not.
ssize_t Volume::read_on(Path& p, IoContext& ctx, size_t len, uint64_t off, const std::byte** data) noexcept {
  PathIo& io = p.io();
  const uint64_t al = io.align();
  const uint64_t a_off = off & ~(al - 1);
  const uint64_t a_end = (off + len + al - 1) & ~(al - 1);
  const uint64_t t0 = p.begin_io(now_ns());
  ssize_t n = io.pread(ctx.scratch(), static_cast<size_t>(a_end - a_off), a_off);
  const uint64_t t1 = now_ns();
  if (n < 0) {
    p.end_io(false, 0, t0, t1, true);
    return n;
  }
  const size_t head = static_cast<size_t>(off - a_off);
  size_t got = static_cast<size_t>(n) > head ? static_cast<size_t>(n) - head : 0;
  if (got > len) got = len;
  p.end_io(false, got, t0, t1, false);
  *data = ctx.scratch() + head;
  return static_cast<ssize_t>(got);
}

ssize_t Volume::write_on(Path& p, IoContext& ctx, const std::byte* data, size_t len, uint64_t off) noexcept {
  PathIo& io = p.io();
  const uint64_t al = io.align();
  const uint64_t t0 = p.begin_io(now_ns());
  ssize_t n;
  if (al == 1) {
    n = io.pwrite(data, len, off);  // buffered path: no copy
  } else if (off % al == 0 && len % al == 0 && reinterpret_cast<uintptr_t>(data) % al == 0) {
    n = io.pwrite(data, len, off);  // the FUSE layer received it aligned: no copy
  } else if (off % al == 0 && len % al == 0) {
    // A payload that is not aligned for O_DIRECT: one copy into scratch.
    std::memcpy(ctx.scratch(), data, len);
    n = io.pwrite(ctx.scratch(), len, off);
  } else {
    // Partial blocks: read-modify-write the edge blocks under their stripes.
    const uint64_t a_off = off & ~(al - 1);
    const uint64_t a_end = (off + len + al - 1) & ~(al - 1);
    // The caller holds the edge blocks exclusively (BlockLocks).
    const size_t span = static_cast<size_t>(a_end - a_off);
    const size_t head = static_cast<size_t>(off - a_off);
    std::byte* buf = ctx.scratch();
    n = 0;
    if (head != 0) {
      ssize_t r = io.pread(buf, al, a_off);
      if (r < 0) n = r;
      else if (static_cast<size_t>(r) < al) std::memset(buf + r, 0, al - r);
    }
    const bool tail_partial = (off + len) % al != 0;
    const bool tail_in_head = span == al && head != 0;
    if (n >= 0 && tail_partial && !tail_in_head) {
      ssize_t r = io.pread(buf + span - al, al, a_end - al);
      if (r < 0) n = r;
      else if (static_cast<size_t>(r) < al) std::memset(buf + span - al + r, 0, al - r);
    }
    if (n >= 0) {
      std::memcpy(buf + head, data, len);
      n = io.pwrite(buf, span, a_off);
    }
  }
  const uint64_t t1 = now_ns();
  if (n < 0) {
    p.end_io(true, 0, t0, t1, true);
    return n;
  }
  p.end_io(true, len, t0, t1, false);
  return static_cast<ssize_t>(len);
}

void Volume::on_path_error(Path& p, int err, Attempt& a) noexcept {
  if (a.ntried < a.tried.size()) a.tried[a.ntried++] = &p;
  ++a.rounds;
  if (!a.first_fail_ns) a.first_fail_ns = now_ns();
  std::lock_guard lk(mu_);
  if (on_failure_locked(*load_set(), p, FailTrigger::kIoError, err, !a.restored)) {
    // Each path gets one more try: the restored ones first, then (as a
    // last resort) the one that just failed — its error may have been an
    // answer from before it recovered, while the others fail now.
    a.restored = true;
    a.ntried = 0;
  }
}

Path* Volume::last_resort(const PathSet& set, const Attempt& a) const {
  // Not a path that timed out: it is likely still hung, and a retry would
  // cost another io_timeout (and a rescue never ends).
  for (auto& q : set.paths)
    if (q->failed() && !q->lost() && !q->admin_failed() && q->last_error() != ETIMEDOUT && !a.excluded(q.get()))
      return q.get();
  return nullptr;
}

void Volume::revive(Path& p) noexcept {
  std::lock_guard lk(mu_);
  on_return_locked(*load_set(), p, ReturnTrigger::kLastResort);
}

int Volume::on_no_path(IoContext& ctx, Attempt& a) noexcept {
  if (is_shut_down() || a.rounds > kMaxRounds) return -EIO;
  {
    // Another request restored a path this one already tried, or served a
    // request on one since this request's trouble began: paths flap, and
    // while one works no application should see an error.  A persistent
    // failure shows neither, so it still ends (FreeBSD's failloop).
    // Under mu_: a failover fails one path and restores the others in one
    // locked step, which a lock-free look could see half done.
    std::lock_guard lk(mu_);
    auto set = load_set();
    bool worth_retry = false;
    for (auto& p : set->paths) {
      if (p->good()) worth_retry = true;
      // A FAIL path can be retried only after the restore-all rule ran.
      else if (a.restored && a.first_fail_ns && !p->lost() && !p->admin_failed() &&
               p->last_ok_ns() > a.first_fail_ns)
        worth_retry = true;
    }
    if (worth_retry) {
      a.ntried = 0;
      a.first_fail_ns = now_ns();
      ++a.rounds;
      return 0;
    }
  }
  // BROKEN: queue for no_path_retry seconds (multipathd's queue_if_no_path).
  if (all_lost()) return -EIO;
  int npr = no_path_retry();
  if (npr == 0) return -EIO;
  if (queued_.fetch_add(1, std::memory_order_relaxed) >= kMaxQueued) {
    queued_.fetch_sub(1, std::memory_order_relaxed);
    return -EIO;
  }
  BlockingScope blocking(ctx.observer());
  // A queued request whose caller is killed ends at once (EINTR): dm's
  // queue_if_no_path leaves such processes unkillable.  Only a fatal
  // signal ends it — a regular file read must not fail on a SIGCHLD.
  struct Waker final : Interruption {
    Volume* v;
    std::atomic<bool> hit{false};
    explicit Waker(Volume* vol) : v(vol) {}
    void interrupted() noexcept override {
      hit.store(true);
      std::lock_guard lk(v->mu_);
      v->path_cv_.notify_all();
    }
  } waker(this);
  const ReplyHooks* hooks = a.reply ? a.reply->hooks : nullptr;
  const bool watched = hooks && hooks->watch && hooks->caller_dying;
  if (watched) hooks->watch(a.reply->ctx, &waker);  // not under mu_: the hook's lock comes first
  int result = -EIO;
  int used = 0;  // the setting the deadline was computed from
  {
    std::unique_lock lk(mu_);
    for (;;) {
      if (is_shut_down()) break;
      if (waker.hit.load() && hooks->caller_dying(a.reply->ctx)) {
        result = -EINTR;
        break;
      }
      if (any_good_locked(*load_set())) {
        result = 0;
        break;
      }
      npr = no_path_retry();
      if (npr == 0) break;  // disablequeueing: release at once
      uint64_t now = now_ns();
      if (npr != used || a.deadline == 0) {
        a.deadline = npr < 0 ? UINT64_MAX : now + static_cast<uint64_t>(npr) * 1000000000ull;
        used = npr;
      }
      if (now >= a.deadline) break;
      uint64_t left = a.deadline - now;
      // Once interrupted, look for a fatal signal often: the INTERRUPT
      // came with the first signal, which need not be the fatal one.
      const uint64_t tick = waker.hit.load() ? 100000000ull : 1000000000ull;
      path_cv_.wait_for(lk, std::chrono::nanoseconds(std::min<uint64_t>(left, tick)));
    }
  }
  if (watched) hooks->watch(a.reply->ctx, nullptr);
  queued_.fetch_sub(1, std::memory_order_relaxed);
  if (result == 0) {
    a.ntried = 0;
    a.restored = true;  // a path came back; do not restore the others again
    ++a.rounds;
  }
  return result;
}

}  // namespace mpathfs
