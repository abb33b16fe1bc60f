// Volume: the request path — route, align for O_DIRECT paths, issue, and
// retry on the next path when one fails (failover.cpp decides what a
// failure does; volume_queue.cpp what happens when no path is left).
//
// Per request: one atomic shared_ptr load (the path set), the router's
// atomic reads, one pread/pwrite, relaxed counter updates.  No allocation,
// no lock and no log line unless a path fails.
#include <cstring>

#include "core/errno_class.hpp"
#include "core/volume.hpp"

namespace mpathfs {
namespace {
// A request expected to take longer than a few context switches: a large
// transfer, or any request on a path that answers slowly (a disk, a
// network).  On tmpfs or page cache a 4 KiB request takes 1-3 us.
constexpr size_t kLongIoBytes = 128 * 1024;
constexpr uint32_t kLongIoNs = 30'000;
}  // namespace

IoResult Volume::read(IoContext& ctx, size_t len, uint64_t off, const std::byte** data, const IoReply* reply,
                      RequestOrigin origin) noexcept {
  if (is_shut_down()) return IoResult::error(EIO);
  if (off >= size_) return IoResult::done(0);
  if (len > size_ - off) len = static_cast<size_t>(size_ - off);
  if (len > ctx.max_io()) len = ctx.max_io();  // a short read; FUSE never asks for more
  if (len == 0) return IoResult::done(0);
  Request r(ctx, IoKind::kRead, off, len, reply, origin);
  IoResult res = serve(r);
  if (res.ok() && r.t_answered) read_lat_.record(r.t_answered - r.t_issued);
  *data = r.rdata;
  return res;
}

IoResult Volume::write(IoContext& ctx, const std::byte* data, size_t len, uint64_t off, const IoReply* reply,
                       RequestOrigin origin) noexcept {
  if (is_shut_down()) return IoResult::error(EIO);
  if (len == 0) return IoResult::done(0);
  // A volume does not grow: a write reaching past the end is refused whole,
  // so a labeled volume's metadata sector can never be touched.
  if (off >= size_ || len > size_ - off) return IoResult::error(ENOSPC);
  if (len > ctx.max_io()) return IoResult::error(EINVAL);
  Request r(ctx, IoKind::kWrite, off, len, reply, origin);
  r.wdata = data;
  // Stale writes older than this one must be answered before it is issued.
  r.fence_epoch = origin.fence_epoch == kNoEpoch ? fence_seq_.load() : origin.fence_epoch;
  if (fences_active_.load() > 0) {
    if (int e = wait_for_fences(ctx, off, len, r.fence_epoch)) return IoResult::error(-e);
  }
  IoResult res = serve(r);
  if (res.ok() && r.t_answered) write_lat_.record(r.t_answered - r.t_issued);
  return res;
}

IoResult Volume::serve(Request& r) noexcept {
  for (;;) {
    auto set = load_set();  // keeps the chosen path alive for this attempt
    Path* p = choose(*set, r);
    // A FAIL path tried as a last resort is restored if it answers; any
    // other answer says nothing of a path's state (it may be a late one,
    // from before the path was failed — by the admin, too).
    bool last = false;
    if (!p && r.restored) last = (p = last_resort(*set, r)) != nullptr;
    if (!p) {
      if (int e = on_no_path(r)) {
        if (e == -EIO && !is_shut_down()) no_path_failures_.fetch_add(1, std::memory_order_relaxed);
        return IoResult::error(-e);
      }
      continue;
    }
    const IoResult res = attempt(*p, r);
    if (res.ok() && last) revive(*p);
    if (!res.failed()) return res;  // done, or answered by the watchdog's rescue
    if (p->io().classify(res.err()) == FaultClass::kRequest) return res;  // the request is wrong: return it
    on_path_error(*p, res.err(), r);
    if (is_shut_down()) return IoResult::error(EIO);
  }
}

Path* Volume::choose(const PathSet& set, const Request& r) const {
  uint64_t excluded = 0;
  if (r.ntried) {
    for (size_t i = 0; i < set.paths.size(); ++i)
      if (r.excluded(set.paths[i].get())) excluded |= 1ull << i;
  }
  RouteView v{set.paths, active_.load(std::memory_order_acquire), excluded};
  return route(mode(), v, r.kind);
}

IoResult Volume::attempt(Path& p, Request& r) noexcept {
  IoContext& ctx = r.ctx;
  // Block locks are taken before the watched part: waiting for a lock is
  // not a path that fails to answer (a hung holder is taken over and its
  // hold released by the watchdog).
  BlockLocks::Hold hold;
  if (r.kind == IoKind::kWrite && rmw_possible_.load(std::memory_order_relaxed)) {
    const uint64_t al = p.io().align();
    if (al > 1 && (r.off % al != 0 || r.len % al != 0)) {
      const uint64_t a_off = r.off & ~(al - 1);
      const uint64_t a_end = (r.off + r.len + al - 1) & ~(al - 1);
      hold = block_locks_.acquire(
          BlockLocks::stripes_of(a_off, a_off + 1) | BlockLocks::stripes_of(a_end - 1, a_end), true,
          ctx.observer());
    } else {
      hold = block_locks_.acquire(BlockLocks::stripes_of(r.off, r.off + r.len), false, ctx.observer());
    }
  }
  // A request that will keep this worker for long lets another serve.
  BusyScope busy(r.len >= kLongIoBytes || p.recent_ns() >= kLongIoNs ? ctx.observer() : nullptr);
  InflightSlot& slot = ctx.slot();
  const uint64_t now = clock_.now_ns();
  if (!r.t_issued) r.t_issued = now;
  r.t_attempt = now;
  slot.begin(this, &p, now, now + io_timeout_ns_, r.kind, r.off, r.len, r.wdata, r.reply, r.fence_epoch,
             ctx.observer(), r.restored, hold.mask, hold.exclusive);
  const ssize_t n = r.kind == IoKind::kRead ? read_on(p, r, now) : write_on(p, r, now);
  const bool answered = slot.end();
  if (slot.slow.load(std::memory_order_relaxed) && slot.slow.exchange(false)) {
    if (BlockingObserver* o = ctx.observer()) o->busy_end();
  }
  if (!answered) return abandon(slot);  // the watchdog released the hold
  if (!hold.empty()) block_locks_.release(hold);
  return IoResult::from_path(n);
}

// Reads the aligned span that covers [off, off+len) into the scratch buffer:
// an O_DIRECT path takes any request, aligned or not.
ssize_t Volume::read_on(Path& p, Request& r, uint64_t now) noexcept {
  PathIo& io = p.io();
  const uint64_t al = io.align();
  const uint64_t a_off = r.off & ~(al - 1);
  const uint64_t a_end = (r.off + r.len + al - 1) & ~(al - 1);
  const size_t span = static_cast<size_t>(a_end - a_off);
  MPATHFS_EXPECT(span <= r.ctx.scratch_size() && a_off < path_size_);
  const uint64_t t0 = p.begin_io(now);
  const ssize_t n = io.pread(r.ctx.scratch(), span, a_off);
  MPATHFS_EXPECT(n <= static_cast<ssize_t>(span) && n >= -4095);
  const uint64_t t1 = clock_.now_ns();
  r.t_answered = t1;
  if (n < 0) {
    p.end_io(false, 0, t0, t1, true);
    return n;
  }
  const size_t head = static_cast<size_t>(r.off - a_off);
  size_t got = static_cast<size_t>(n) > head ? static_cast<size_t>(n) - head : 0;
  if (got > r.len) got = r.len;
  p.end_io(false, got, t0, t1, false);
  r.rdata = r.ctx.scratch() + head;
  return static_cast<ssize_t>(got);
}

ssize_t Volume::write_on(Path& p, Request& r, uint64_t now) noexcept {
  PathIo& io = p.io();
  const uint64_t al = io.align();
  const uint64_t off = r.off;
  const size_t len = r.len;
  const std::byte* data = r.wdata;
  std::byte* buf = r.ctx.scratch();
  MPATHFS_EXPECT(off + len <= size_);
  const uint64_t t0 = p.begin_io(now);
  ssize_t n;
  if (al == 1) {
    n = io.pwrite(data, len, off);  // buffered path: no copy
  } else if (off % al == 0 && len % al == 0 && reinterpret_cast<uintptr_t>(data) % al == 0) {
    n = io.pwrite(data, len, off);  // the FUSE layer received it aligned: no copy
  } else if (off % al == 0 && len % al == 0) {
    // A payload that is not aligned for O_DIRECT: one copy into scratch.
    std::memcpy(buf, data, len);
    n = io.pwrite(buf, len, off);
  } else {
    // Partial blocks: read-modify-write the edge blocks under their stripes
    // (the caller holds the edge blocks exclusively: BlockLocks).
    const uint64_t a_off = off & ~(al - 1);
    const uint64_t a_end = (off + len + al - 1) & ~(al - 1);
    const size_t span = static_cast<size_t>(a_end - a_off);
    const size_t head = static_cast<size_t>(off - a_off);
    MPATHFS_EXPECT(span <= r.ctx.scratch_size());
    n = 0;
    if (head != 0) {
      ssize_t got = io.pread(buf, al, a_off);
      if (got < 0) n = got;
      else if (static_cast<size_t>(got) < al) std::memset(buf + got, 0, al - got);
    }
    const bool tail_partial = (off + len) % al != 0;
    const bool tail_in_head = span == al && head != 0;
    if (n >= 0 && tail_partial && !tail_in_head) {
      ssize_t got = io.pread(buf + span - al, al, a_end - al);
      if (got < 0) n = got;
      else if (static_cast<size_t>(got) < al) std::memset(buf + span - al + got, 0, al - got);
    }
    if (n >= 0) {
      std::memcpy(buf + head, data, len);
      n = io.pwrite(buf, span, a_off);
    }
  }
  MPATHFS_EXPECT(n >= -4095);
  const uint64_t t1 = clock_.now_ns();
  r.t_answered = t1;
  if (n < 0) {
    p.end_io(true, 0, t0, t1, true);
    return n;
  }
  p.end_io(true, len, t0, t1, false);
  return static_cast<ssize_t>(len);
}

}  // namespace mpathfs
