// Volume: io_timeout takeover and write fences.
//
// The watchdog (watchdog.cpp) takes over a request a path has not answered
// in io_timeout: on_io_timeout fails the path (failover.cpp's table) and,
// for a write, fences its blocks — the stale write may still land, so a newer
// overlapping write waits (wait_for_fences) until the hung call returns and
// its worker lifts the fence (abandon), dropping the late answer.
#include <spdlog/spdlog.h>

#include <thread>

#include "core/volume.hpp"

namespace mpathfs {

IoResult Volume::abandon(InflightSlot& slot) noexcept {
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
  return IoResult::taken_over();
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
  const uint64_t deadline = clock_.deadline_after_ns(seconds_to_ns(kFenceWaitSeconds));
  while (overlaps()) {
    if (is_shut_down() || clock_.wait_until(fence_cv_, lk, deadline) == std::cv_status::timeout) {
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
                                              size_t len, bool request_restored, bool cut) noexcept {
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
  if (cut) {
    rescued_.fetch_add(1, std::memory_order_relaxed);
    p.note_rescued();
    return out;
  }
  io_timeouts_.fetch_add(1, std::memory_order_relaxed);
  if (taken_over) rescued_.fetch_add(1, std::memory_order_relaxed);
  p.note_io_timeout(taken_over);
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
  // A network path shuts its connection: whatever else is stuck on it comes
  // back with ENOTCONN and fails over, instead of waiting for TCP (minutes).
  p.abort_inflight(clock_.now_ns());
  return out;
}

}  // namespace mpathfs
