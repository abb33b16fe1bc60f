// Failover: what happens to a volume when a path fails or comes back.
//
//  trigger          | condition                         | path becomes        | no working path left after it
//  -----------------+-----------------------------------+---------------------+------------------------------------
//  I/O error        | a path error (EIO, ENXIO, ...)    | FAIL (+ gone for    | restore-all rule (*), once per
//                   | on a read or write                |  ENXIO/ENODEV/...)  | request; the request retries
//  io_timeout       | no answer in io_timeout           | FAIL, ETIMEDOUT     | (*) once per request, never the
//                   | (watchdog takes the request over) |                     | hung path itself; rescued elsewhere
//  flush error      | fdatasync answered a path error   | FAIL                | (*) if the volume has >1 path;
//  flush timeout    | no fdatasync answer in io_timeout | FAIL, ETIMEDOUT     | the flush is not retried
//  admin fail       | `fail PATH`                       | FAIL, held by admin | (*) — gmultipath's fault logic
//  gone             | the checker saw the device go     | FAIL + gone         | nothing: a gone path cannot serve
//  checker down     | a working path's probe failed, or | FAIL                | never happens: the checker leaves
//                   | went unanswered for io_timeout    |                     |  the last working path to its I/O
//  remove           | `remove PATH`                     | out of the volume   | every other path restored
//
//  (*) gmultipath's restore-all rule: when the last working path fails, the
//      other FAIL paths (not gone ones) are restored, so a device-caused
//      error does not take the whole volume down.  A single-path volume gets
//      that very path back after an I/O error or an admin fail.  Requests
//      apply it once each (FreeBSD PR 178473: a persistent error must not
//      loop); control operations always.  If the retry fails too, the volume
//      is BROKEN (no_path_retry then decides: queue or EIO).
//
//  Every failure but the admin's is remembered in the path's PathHealth:
//  flap_threshold of them within flap_window hold the path down (checker.cpp).
//
//  return           | condition                                    | effect
//  -----------------+----------------------------------------------+---------------------------------
//  admin restore    | `restore PATH`, any state                    | working; clears the admin hold,
//                   |                                              |  the failure count and a hold-down
//  checker          | failback=immediate or N (up N s), not held   | working
//                   | down, not gone, not admin-held               |
//  last resort      | a request (or a flush with no working path)  |
//                   | chose it after (*) and it answered;          || working
//                   | not gone, not admin-held                     |
//
//  Failing the ACTIVE path moves ACTIVE to the next working path in join
//  order (wrapping).  A return never moves a working ACTIVE path; a BROKEN
//  volume takes the returning path as ACTIVE.  Late answers of requests that
//  were in flight when their path failed change nothing, and neither does a
//  late error of a request issued before its path returned.
#include "core/failover.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/errno_class.hpp"
#include "core/volume.hpp"

namespace mpathfs {

const char* trigger_name(FailTrigger t) noexcept {
  switch (t) {
    case FailTrigger::kIoError: return "I/O error";
    case FailTrigger::kIoTimeout: return "timeout";
    case FailTrigger::kFlushError: return "flush error";
    case FailTrigger::kFlushTimeout: return "flush timeout";
    case FailTrigger::kAdminFail: return "by request";
    case FailTrigger::kGone: return "gone";
    case FailTrigger::kCheckerDown: return "checker";
  }
  return "?";
}

bool Volume::on_failure_locked(const PathSet& set, Path& p, FailTrigger t, int err, bool may_restore) {
  switch (t) {
    case FailTrigger::kIoError:
    case FailTrigger::kGone:
      if ((t == FailTrigger::kGone || p.io().classify(err) == FaultClass::kGone) && !p.lost()) {
        p.set_lost();
        spdlog::error("{}: path {} is gone ({})", name(), p.name(), errno_name(err));
      }
      break;
    case FailTrigger::kIoTimeout: break;  // on_io_timeout logs it, with the time waited
    case FailTrigger::kFlushTimeout:
      if (!p.failed())
        spdlog::error("{}: path {} did not answer a flush in {} s (io_timeout)", name(), p.name(),
                      settings_.io_timeout);
      break;
    case FailTrigger::kFlushError:
    case FailTrigger::kAdminFail:
    case FailTrigger::kCheckerDown: break;
  }
  // The admin's `fail` is intent, not flapping.
  if (!p.failed() && t != FailTrigger::kAdminFail) p.health().note_failure(clock_.now_ns());
  fail_locked(set, p, err, trigger_name(t));
  bool restored = false;
  if (!any_good_locked(set) && may_restore && t != FailTrigger::kGone && t != FailTrigger::kCheckerDown) {
    const bool single = set.paths.size() == 1;
    switch (t) {
      case FailTrigger::kIoError:
      case FailTrigger::kAdminFail:
        restore_all_except_locked(set, single ? nullptr : &p);
        restored = true;
        break;
      case FailTrigger::kIoTimeout:
        // Never the hung path itself; a single path is not retried (the
        // request counts as restored so its rescue cannot loop).
        if (!single) restore_all_except_locked(set, &p);
        restored = true;
        break;
      case FailTrigger::kFlushError:
      case FailTrigger::kFlushTimeout:
        if (!single) {
          restore_all_except_locked(set, &p);
          restored = true;
        }
        break;
      case FailTrigger::kGone:
      case FailTrigger::kCheckerDown: break;
    }
  }
  note_state_locked(set);
  return restored;
}

bool Volume::on_return_locked(const PathSet& set, Path& p, ReturnTrigger t) {
  if (t == ReturnTrigger::kAdminRestore) {
    p.set_admin_failed(false);
    p.health().clear();
  } else {
    // Only `restore` undoes the admin's `fail`; nothing brings back a gone path.
    const bool member = std::any_of(set.paths.begin(), set.paths.end(), [&](auto& q) { return q.get() == &p; });
    if (!member || p.lost() || p.admin_failed()) return false;
  }
  if (!p.failed()) return false;
  p.set_returned(clock_.now_ns());
  switch (t) {
    case ReturnTrigger::kAdminRestore: spdlog::warn("{}: path {} restored", name(), p.name()); break;
    case ReturnTrigger::kChecker:
      spdlog::warn("{}: path {} answers again, restored by the checker (failback)", name(), p.name());
      break;
    case ReturnTrigger::kLastResort:
      spdlog::warn("{}: path {} answered a last-resort retry, restored", name(), p.name());
      break;
  }
  // A BROKEN volume gets this path as its active one; otherwise the active
  // path does not move (gmultipath: restore never moves it).
  if (!active_.load() || active_.load()->failed()) move_active_after_locked(set, nullptr);
  path_cv_.notify_all();
  note_state_locked(set);
  return true;
}

void Volume::after_remove_locked(const PathSet& next, const Path& gone, size_t index) {
  if (active_.load() == &gone) {
    // The next working path after the removed one.
    const Path* pick = nullptr;
    for (size_t k = 0; k < next.paths.size() && !pick; ++k) {
      const Path* q = next.paths[(index + k) % next.paths.size()].get();
      if (q->good()) pick = q;
    }
    set_active_locked(pick);
    if (pick && mode() != Mode::kActiveActive) spdlog::warn("{}: {} is now the active path", name(), pick->name());
  }
  // gmultipath runs the fault logic on remove: restore the others.
  if (!any_good_locked(next)) restore_all_except_locked(next, nullptr);
}

// ---- a request's failover ----

void Volume::on_path_error(Path& p, int err, Request& a) noexcept {
  a.note_tried(&p);
  ++a.rounds;
  if (!a.first_fail_ns) a.first_fail_ns = clock_.now_ns();
  std::lock_guard lk(mu_);
  // Issued before the path last came back: the error tells how the path
  // was, and its return is newer evidence.  The request just retries (on
  // this path too once the others are tried: on_no_path).
  if (a.t_attempt < p.returned_ns()) return;
  if (on_failure_locked(*load_set(), p, FailTrigger::kIoError, err, !a.restored)) {
    // Each path gets one more try: the restored ones first, then (as a
    // last resort) the one that just failed — its error may have been an
    // answer from before it recovered, while the others fail now.
    a.restored = true;
    a.ntried = 0;
  }
}

Path* Volume::last_resort(const PathSet& set, const Request& a) const {
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

// ---- the machinery the table uses ----

bool Volume::any_good_locked(const PathSet& set) const {
  return std::any_of(set.paths.begin(), set.paths.end(), [](auto& p) { return p->good(); });
}

void Volume::fail_locked(const PathSet& set, Path& p, int err, const char* why) {
  if (err) p.set_last_error(err);
  if (p.failed()) return;
  p.set_failed(true);
  p.note_failure();
  path_failures_.fetch_add(1, std::memory_order_relaxed);
  if (err)
    spdlog::warn("{}: path {} marked FAIL ({} {})", name(), p.name(), why, errno_name(err));
  else
    spdlog::warn("{}: path {} marked FAIL ({})", name(), p.name(), why);
  move_active_after_locked(set, &p);
}

void Volume::restore_all_except_locked(const PathSet& set, const Path* except) {
  for (auto& q : set.paths) {
    if (q.get() == except || !q->failed() || q->lost()) continue;
    q->set_returned(clock_.now_ns());
    q->set_admin_failed(false);
    spdlog::warn("{}: all paths were marked FAIL, restore {}", name(), q->name());
  }
  if (!active_.load() || active_.load()->failed()) move_active_after_locked(set, active_.load());
  path_cv_.notify_all();
}

// The next good path after `failed` in join order (wrapping) becomes active;
// a return never calls this for a working active path, so it never moves it.
void Volume::move_active_after_locked(const PathSet& set, const Path* failed) {
  const Path* cur = active_.load();
  bool cur_ok = false;
  for (auto& q : set.paths)
    if (q.get() == cur && q->good()) cur_ok = true;
  if (cur_ok) return;
  const size_t n = set.paths.size();
  size_t start = 0;
  for (size_t i = 0; i < n; ++i)
    if (set.paths[i].get() == (failed ? failed : cur)) start = i + 1;
  for (size_t k = 0; k < n; ++k) {
    const Path* q = set.paths[(start + k) % n].get();
    if (q->good()) {
      set_active_locked(q);
      if (mode() != Mode::kActiveActive && n > 1)
        spdlog::warn("{}: {} is now the active path", name(), q->name());
      return;
    }
  }
}

// A failover, as multipathd counts them (switchgroup): the ACTIVE path
// moves from one path to another (a failure, prefer, rotate, remove).
// Active-active has no single ACTIVE path: nothing to count.
void Volume::set_active_locked(const Path* q) {
  const Path* old = active_.exchange(q);
  if (old && q && old != q && mode() != Mode::kActiveActive) failovers_.fetch_add(1, std::memory_order_relaxed);
}

void Volume::note_state_locked(const PathSet& set) {
  const bool broken = !set.paths.empty() && !any_good_locked(set);
  if (broken && !broken_logged_) spdlog::error("{}: no working path left, volume is BROKEN", name());
  if (!broken && broken_logged_) spdlog::warn("{}: a path works again, volume is no longer BROKEN", name());
  broken_logged_ = broken;
}

}  // namespace mpathfs
