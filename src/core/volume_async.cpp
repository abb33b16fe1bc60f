// Volume: the asynchronous request path (see async_request.hpp).
//
// It takes what the synchronous path would serve in one attempt with
// nothing to wait for: a request within the volume, on a routed path that
// can submit(), aligned for it, and for a write no fence to wait behind and
// no read-modify-write possible.  Everything else — and every failure — is
// the synchronous path's: a failed request is carried on by a thread of its
// own exactly where the worker's loop in serve() would carry it on.
//
// On success, per request: one routing decision, one submit, and on the
// path's thread one clock read, the counters and the reply.  No allocation,
// no lock, no log line.
#include <cstring>

#include "core/volume.hpp"

namespace mpathfs {

bool Volume::submit(AsyncRequest& a, const std::byte* payload) noexcept {
  if (is_shut_down()) return false;
  const bool write = a.kind == IoKind::kWrite;
  if (a.len == 0 || a.len > a.capacity() || a.off >= size_ || a.len > size_ - a.off) return false;
  // As write(): the epoch first, then whether a fence exists.
  const uint64_t epoch = write ? fence_seq_.load() : 0;
  if (write && (fences_active_.load() > 0 || rmw_possible_.load(std::memory_order_relaxed))) return false;
  auto set = load_set();
  Path* p = route(mode(), RouteView{set->paths, active_.load(std::memory_order_acquire), 0}, a.kind);
  if (!p || !p->io().can_submit()) return false;
  if (const uint64_t al = p->io().align(); (a.off | a.len) & (al - 1)) return false;

  // The worker's receive buffer serves its next request: the payload moves
  // into the request's own buffer.
  if (write) std::memcpy(a.buf(), payload, a.len);
  const uint64_t now = clock_.now_ns();
  a.volume = this;
  a.path = p;
  a.t_issued = now;
  a.t_answered = 0;
  a.fence_epoch = epoch;
  // The request keeps the path alive until it is released; `set` keeps it
  // until this call returns — the request may be answered, released and
  // reused (its `keep` dropped) before submit() below returns.
  a.keep = set;
  a.op.write = write;
  a.op.buf = a.buf();
  a.op.len = a.len;
  a.op.off = a.off;
  a.op.result = 0;
  a.op.done = &Volume::on_async_done;
  a.op.owner = &a;
  a.op.backend = nullptr;
  p->begin_io(now);
  a.inflight.begin(this, p, now, now + io_timeout_ns_, a.kind, a.off, a.len, write ? a.buf() : nullptr, &a.reply,
                   epoch, nullptr, false, 0, false);
  if (p->io().submit(a.op)) return true;  // from here `a` may be answered and reused already
  p->cancel_io();
  if (a.inflight.end()) return false;  // not issued: served synchronously
  async_abandon(a);  // the watchdog took it over meanwhile: its rescue answers
  return true;
}

void Volume::on_async_done(PathOp& op) noexcept {
  AsyncRequest& a = *static_cast<AsyncRequest*>(op.owner);
  Volume& v = *a.volume;
  a.t_answered = v.clock_.now_ns();
  if (op.result < 0) {
    // A failure may block (a write held until its connection settles,
    // failover, no_path_retry): never on the path's thread.
    a.pool().carry_on(a, [](AsyncRequest& r) noexcept { r.volume->async_failed(r); });
    return;
  }
  Path& p = *a.path;
  p.io().finish(op);
  const size_t n = op.write ? a.len : static_cast<size_t>(op.result);
  p.end_io(op.write, n, a.t_issued, a.t_answered, false);
  if (!a.inflight.end()) return v.async_abandon(a);
  (op.write ? v.write_lat_ : v.read_lat_).record(a.t_answered - a.t_issued);
  a.reply.done(a.reply.ctx, a.buf(), static_cast<ssize_t>(n));
  // The path reference stays (dropping the last one here would destroy the
  // path on its own thread): AsyncPool::acquire or trim drops it.
  a.release();
}

// Where serve() would be after attempt() returned the path's error.
void Volume::async_failed(AsyncRequest& a) noexcept {
  Path& p = *a.path;
  const bool write = a.op.write;
  // A failed write is held until the server can no longer apply it; a
  // backend may also retry on the path here, and succeed.
  p.io().finish(a.op);
  const ssize_t n = a.op.result;
  p.end_io(write, n < 0 ? 0 : a.len, a.t_issued, clock_.now_ns(), n < 0);
  if (!a.inflight.end()) return async_abandon(a);
  const int err = n < 0 ? static_cast<int>(-n) : 0;
  if (n >= 0) {
    (write ? write_lat_ : read_lat_).record(clock_.now_ns() - a.t_issued);
    a.reply.done(a.reply.ctx, a.buf(), write ? static_cast<ssize_t>(a.len) : n);
  } else if (p.io().classify(err) == FaultClass::kRequest || is_shut_down()) {
    a.reply.done(a.reply.ctx, nullptr, is_shut_down() ? -EIO : -err);
  } else {
    try {
      IoContext ctx(a.len, nullptr, a.watchdog());
      Request r(ctx, a.kind, a.off, a.len, &a.reply, RequestOrigin{});
      r.wdata = a.buf();
      r.fence_epoch = a.fence_epoch;
      r.t_issued = a.t_issued;
      r.t_attempt = a.t_issued;
      on_path_error(p, err, r);
      const IoResult res = is_shut_down() ? IoResult::error(EIO) : serve(r);
      if (res.ok() && r.t_answered) (write ? write_lat_ : read_lat_).record(r.t_answered - r.t_issued);
      if (!res.is_taken_over()) a.reply.done(a.reply.ctx, r.rdata, res.value());
    } catch (...) {
      a.reply.done(a.reply.ctx, nullptr, -EIO);  // no memory for the retry's buffer
    }
  }
  a.keep.reset();
  a.release();
}

void Volume::async_abandon(AsyncRequest& a) noexcept {
  abandon(a.inflight);  // waits until the watchdog has copied the request
  a.release();
}

}  // namespace mpathfs
