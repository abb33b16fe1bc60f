#include "core/watchdog.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "core/io_context.hpp"
#include "core/volume.hpp"

namespace mpathfs {

Watchdog::Watchdog(size_t max_io, unsigned period_ms, Clock& clock)
    : clock_(clock), max_io_(max_io), period_ms_(period_ms) {}

Watchdog::~Watchdog() { stop(); }

void Watchdog::start() { thread_ = std::thread([this] { loop(); }); }

void Watchdog::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Watchdog::attach(InflightSlot* s) {
  std::lock_guard lk(mu_);
  slots_.push_back(s);
}

void Watchdog::detach(InflightSlot* s) {
  std::lock_guard lk(mu_);
  slots_.erase(std::remove(slots_.begin(), slots_.end(), s), slots_.end());
}

void Watchdog::loop() {
  std::unique_lock lk(mu_);
  while (!stop_) {
    // A wake-up before the period is up (stop, or a spurious one) scans
    // early; harmless, as before.
    clock_.wait_until(cv_, lk, clock_.now_ns() + uint64_t{period_ms_} * 1000000);
    if (stop_) break;
    lk.unlock();
    scan(clock_.now_ns());
    if (after_scan_) after_scan_();
    lk.lock();
  }
}

// A write whose connection was cut loose after it started (Path::
// abort_inflight on a backend that holds such writes): its answer is known,
// only the server's copy is not, so it is taken over now.  Reads and other
// backends' requests come back by themselves.
bool Watchdog::cut_loose(const InflightSlot& s, uint64_t st) noexcept {
  if (s.kind.load(std::memory_order_relaxed) != IoKind::kWrite) return false;
  const Path* p = s.path.load(std::memory_order_relaxed);
  // The same request still runs (its path stays alive while it does).
  if (!p || s.state.load(std::memory_order_acquire) != st) return false;
  const uint64_t cut = p->aborted_ns();
  return cut != 0 && cut >= s.start_ns.load(std::memory_order_relaxed);
}

void Watchdog::scan(uint64_t now) {
  std::vector<InflightSlot*> due;
  {
    std::lock_guard lk(mu_);
    for (InflightSlot* s : slots_) {
      uint64_t st = s->state.load(std::memory_order_acquire);
      if ((st & InflightSlot::kStateMask) != InflightSlot::kRunning) continue;
      // Running for a while though nobody expected it (a path that just
      // got slow or hung): let another worker serve meanwhile, long before
      // io_timeout.  busy_begin first, so the count never dips below zero.
      if (now > s->start_ns.load(std::memory_order_relaxed) + kSlowRequestNs &&
          !s->slow.load(std::memory_order_relaxed)) {
        if (BlockingObserver* o = s->observer.load(std::memory_order_relaxed)) {
          o->busy_begin();
          if (s->slow.exchange(true)) o->busy_end();
          // The worker may have ended meanwhile without seeing the flag.
          else if (s->state.load(std::memory_order_acquire) != st && s->slow.exchange(false)) o->busy_end();
        }
      }
      if (now > s->deadline_ns.load(std::memory_order_relaxed) || cut_loose(*s, st)) due.push_back(s);
    }
  }
  // Taking over happens outside mu_: a slot stays attached while its
  // worker is stuck (the worker is inside Volume::read/write).
  for (InflightSlot* s : due) take_over(*s);
}

void Watchdog::take_over(InflightSlot& s) {
  constexpr auto rx = std::memory_order_relaxed;
  uint64_t st = s.state.load(std::memory_order_acquire);
  if ((st & InflightSlot::kStateMask) != InflightSlot::kRunning) return;
  Volume* v = s.volume.load(rx);
  Path* p = s.path.load(rx);
  const uint64_t start = s.start_ns.load(rx);
  const IoKind kind = s.kind.load(rx);
  const uint64_t off = s.off.load(rx);
  const size_t len = s.len.load(rx);
  const std::byte* wdata = s.wdata.load(rx);
  IoReply reply{s.reply_ctx.load(rx), s.reply_done.load(rx), s.reply_hooks.load(rx)};
  const uint64_t epoch = s.fence_epoch.load(rx);
  BlockingObserver* obs = s.observer.load(rx);
  const bool restored = s.restored.load(rx);
  const uint64_t hold_mask = s.hold_mask.load(rx);
  const bool hold_exclusive = s.hold_exclusive.load(rx);
  const double waited = static_cast<double>(clock_.now_ns() - start) / 1e9;
  const bool cut = clock_.now_ns() <= s.deadline_ns.load(rx) && cut_loose(s, st);

  if (!reply.done) {
    // Nobody else can answer this request: fail the path so new requests
    // avoid it, and let the worker wait for its answer.
    if (!cut && !s.timeout_reported.exchange(true) && s.state.load(std::memory_order_acquire) == st)
      v->on_io_timeout(*p, waited, false, false, 0, 0, restored);
    return;
  }
  // The payload must be copied while the worker is still stuck: allocate
  // before taking over, so a failed allocation leaves the request alone.
  std::vector<std::byte> payload;
  try {
    if (kind == IoKind::kWrite) payload.assign(wdata, wdata + len);
  } catch (...) {
    return;
  }
  if (!s.state.compare_exchange_strong(st, (st & ~InflightSlot::kStateMask) | InflightSlot::kTakenOver,
                                       std::memory_order_acq_rel))
    return;  // it answered meanwhile
  const auto outcome = v->on_io_timeout(*p, waited, true, kind == IoKind::kWrite, off, len, restored, cut);
  s.fence_token.store(outcome.fence_token, rx);
  // Fenced: now the stuck write's block locks can go (see BlockLocks).
  if (hold_mask) v->release_hold(hold_mask, hold_exclusive);
  if (obs) {
    // Stuck, not slow: it no longer counts as busy, it is replaced.
    if (s.slow.exchange(false)) obs->busy_end();
    obs->blocking_begin();  // the pool replaces the stuck worker
  }
  s.released.store(true, std::memory_order_release);

  const RequestOrigin origin{epoch, outcome.restored};
  try {
    std::thread([this, v, kind, off, len, reply, origin, payload = std::move(payload)] {
      IoContext ctx(std::max(max_io_, len), nullptr, this);
      const std::byte* data = nullptr;
      const IoResult res = kind == IoKind::kRead ? v->read(ctx, len, off, &data, &reply, origin)
                                                 : v->write(ctx, payload.data(), len, off, &reply, origin);
      if (res.is_taken_over()) return;  // a nested rescue answers it
      reply.done(reply.ctx, data, res.value());
    }).detach();
  } catch (...) {
    spdlog::error("{}: cannot start a rescue thread; answering EIO", v->name());
    reply.done(reply.ctx, nullptr, -EIO);
  }
}

}  // namespace mpathfs
