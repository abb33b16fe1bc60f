// Volume: fsync — fdatasync on every working path, in parallel, bounded by
// io_timeout.  All paths lead to one disk, but each path has its own cache
// to flush; a path that errs or does not answer in time is failed (as its
// I/O would be) and the flush succeeds if any path flushed.  A hung
// fdatasync keeps only its path's flusher thread (PathFlusher), so a frozen
// path costs a database commit io_timeout once, not the length of the hang.
#include "core/errno_class.hpp"
#include "core/volume.hpp"

#include <algorithm>

namespace mpathfs {

uint64_t Volume::flush_deadline() const noexcept { return clock_.deadline_after_ns(io_timeout_ns_); }

Volume::FlushTickets Volume::begin_flush() noexcept {
  FlushTickets t;
  t.set = load_set();
  // gmultipath's restore-all rule, for a flush: with no working path, every
  // FAIL path that may come back (not gone, not failed by the admin) is
  // asked, and one that flushes is restored — as a request would retry them.
  t.last_resort = std::none_of(t.set->paths.begin(), t.set->paths.end(), [](auto& p) { return p->good(); });
  for (auto& p : t.set->paths) {
    const bool usable = t.last_resort ? !p->lost() && !p->admin_failed() : p->good();
    if (!usable || t.n == t.paths.size()) continue;
    t.paths[t.n] = p.get();
    if (auto ticket = p->flusher().request()) {
      t.tickets[t.n] = *ticket;
    } else {
      t.tickets[t.n] = 0;  // no thread to be had: flush here, unbounded
      t.inline_rc[t.n] = p->io().fdatasync();
    }
    ++t.n;
  }
  return t;
}

int Volume::end_flush(const FlushTickets& t, uint64_t deadline) noexcept {
  if (t.n == 0) return -EIO;
  int ok = 0;
  for (size_t i = 0; i < t.n; ++i) {
    Path& p = *t.paths[i];
    // One deadline for all: the paths flush in parallel.
    std::optional<int> rc = t.tickets[i] ? p.flusher().wait(t.tickets[i], deadline, clock_) : t.inline_rc[i];
    if (rc && *rc == 0) {
      ++ok;
      if (t.last_resort) revive(p);
      continue;
    }
    if (t.last_resort) continue;  // already FAIL: nothing more to fail
    const int err = rc ? -*rc : ETIMEDOUT;
    if (rc && p.io().classify(err) == FaultClass::kRequest) continue;  // an answer about the request, not the path
    std::lock_guard lk(mu_);
    on_failure_locked(*t.set, p, rc ? FailTrigger::kFlushError : FailTrigger::kFlushTimeout, err, true);
    if (!rc) p.abort_inflight(clock_.now_ns());  // a network path drops its stuck connection
  }
  return ok ? 0 : -EIO;
}

int Volume::flush() noexcept {
  const auto deadline = flush_deadline();
  return end_flush(begin_flush(), deadline);
}

bool Volume::flush_hung() const noexcept {
  for (auto& p : load_set()->paths)
    if (p->flusher().busy()) return true;
  return false;
}

}  // namespace mpathfs
