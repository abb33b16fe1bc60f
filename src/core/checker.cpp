#include "core/checker.hpp"

#include <spdlog/spdlog.h>

#include "core/aligned_buffer.hpp"
#include "core/device_departure.hpp"
#include "core/errno_class.hpp"
#include "core/label.hpp"

namespace mpathfs {

int probe_path(Path& p) noexcept {
  try {
    AlignedBuffer buf(kMaxAlign, kMaxAlign);
    // A FAIL network path reconnects first; a working one keeps its connection.
    if (p.failed()) {
      if (int e = p.io().reconnect(); e < 0) return e;
    }
    return p.io().probe(buf.data());
  } catch (...) {
    return -ENOMEM;
  }
}

VoidResult verify_identity(const Volume& v, Path& p) {
  uint64_t size = 0;
  if (int e = p.io().current_size(size); e < 0) return Error{-e, "cannot read the size of " + p.name()};
  if (size != v.path_size())
    return err_inval("path " + p.name() + " now has " + std::to_string(size) + " bytes, the volume's paths have " +
                     std::to_string(v.path_size()));
  if (std::string id = p.io().device_id(); !id.empty()) {
    for (auto& q : v.paths()) {
      if (q.get() == &p) continue;
      if (std::string qid = q->io().device_id(); !qid.empty() && qid != id)
        return err_inval("path " + p.name() + " now leads to device " + id + ", " + q->name() + " to " + qid);
    }
  }
  if (!v.uuid()) return {};
  return check_label_identity(taste_label(p.io()), p.name(), *v.uuid(), v.path_size(), p.io().sector_size());
}

namespace {

// A FAIL path answered the probe: it is back only if it is still a path of
// this volume (it may now lead to another disk).  Logs a mismatch once: its
// last_error turns EINVAL and stays so while the mismatch lasts.
bool answers_as_itself(Volume& v, Path& p) noexcept {
  try {
    auto id = verify_identity(v, p);
    if (id) return true;
    if (id.error().code != EINVAL) return false;  // the identity read failed: still down
    if (p.last_error() != EINVAL)
      spdlog::error("{}: path {} answers but is not a path of this volume, it stays FAIL: {}", v.name(), p.name(),
                    id.error().msg);
    p.set_last_error(EINVAL);
  } catch (...) {
  }
  return false;
}

// A FAIL path answered a probe as itself: back now, later, or not (held).
void maybe_return(Volume& v, Path& p, const CheckerPolicy& pol, uint64_t now) {
  const uint64_t after = pol.failback == Failback::kAfter ? seconds_to_ns(pol.failback_after_s) : 0;
  // Asked even with failback=manual: a hold lifts after hold_down all the same.
  const PathHealth::Verdict verdict = p.health().may_return(now, after);
  if (pol.failback == Failback::kManual) return;
  // A held path that answers still beats no path at all (multipath-tools
  // uses its "marginal" paths when no other path group is left).
  if (verdict == PathHealth::Verdict::kReturn ||
      (verdict == PathHealth::Verdict::kHeld && v.state() == VolumeState::kBroken))
    v.checker_restore(p);
}

}  // namespace

CheckerPolicy CheckerPolicy::from(const DaemonOptions& o) {
  CheckerPolicy p;
  p.interval_s = o.check_interval;
  p.failback = o.failback;
  p.failback_after_s = o.failback_after;
  p.flap_threshold = o.flap_threshold;
  p.flap_window_s = o.flap_window;
  p.hold_down_s = o.hold_down;
  return p;
}

Checker::Checker(Registry& reg, CheckerPolicy policy, std::function<void()> on_tree_change)
    : reg_(reg), policy_(policy), on_tree_change_(std::move(on_tree_change)) {}

Checker::Checker(Registry& reg, double interval_s, Failback failback, std::function<void()> on_tree_change)
    : Checker(reg, CheckerPolicy{.interval_s = interval_s, .failback = failback}, std::move(on_tree_change)) {}

Checker::~Checker() { stop(); }

void Checker::start() { thread_ = std::thread([this] { loop(); }); }

void Checker::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Checker::loop() {
  Clock& clock = reg_.clock();
  std::unique_lock lk(mu_);
  while (!stop_) {
    clock.wait_until(cv_, lk, clock.now_ns() + seconds_to_ns(policy_.interval_s));
    if (stop_) break;
    lk.unlock();
    run_once();
    lk.lock();
  }
}

void Checker::run_once() {
  // A loop device marked autoclear by `losetup -d` sends no event: look.
  const bool left = leave_detached_loops(reg_);
  if ((!reg_.reap_lost().empty() || left) && on_tree_change_) on_tree_change_();
  const uint64_t now = reg_.clock().now_ns();
  for (auto& e : reg_.list())
    for (auto& p : e.volume->paths()) check_path(e.volume, p, now);
}

void Checker::check_path(const std::shared_ptr<Volume>& v, const std::shared_ptr<Path>& p, uint64_t now) {
  if (p->lost()) return;
  PathHealth& h = p->health();
  if (h.update_hold(now, policy_.flap_threshold, seconds_to_ns(policy_.flap_window_s),
                    seconds_to_ns(policy_.hold_down_s)))
    spdlog::warn("{}: path {} failed {} times within {} s, held down until it answers every probe for {} s",
                 v->name(), p->name(), policy_.flap_threshold, policy_.flap_window_s, policy_.hold_down_s);
  // A probe still unanswered after io_timeout fails a working path, as a
  // request would; its thread stays parked in the hung read.
  if (const uint64_t t0 = h.probe_started_ns(); t0 && now >= t0 + seconds_to_ns(v->settings().io_timeout)) {
    if (!p->failed()) {
      p->set_checker(CheckerState::kDown);
      v->checker_fail(*p, ETIMEDOUT);
    }
    return;
  }
  if (!h.round_due()) return;
  // A path that served a request lately needs no probe: that was one.
  const uint64_t interval_ns = seconds_to_ns(policy_.interval_s);
  if (!p->failed() && p->last_ok_ns() && p->last_ok_ns() + interval_ns > now) return;
  if (!p->begin_probe()) return;
  p->set_checker(CheckerState::kPending);
  h.probe_started(now);
  std::weak_ptr<Volume> wv = v;
  const CheckerPolicy pol = policy_;
  try {
    // Detached: a probe of a hung path may never return.  It holds the
    // path, and the volume only while it acts on the result.
    std::thread([wv, p, pol] {
      const int r = probe_path(*p);
      auto vol = wv.lock();
      const bool up = r == 0 && vol && answers_as_itself(*vol, *p);
      p->set_checker(up ? CheckerState::kUp : CheckerState::kDown);
      if (vol) {
        const uint64_t t = vol->clock().now_ns();
        p->health().probe_done(t, up, !p->failed());
        // A device that is gone (or a file whose FUSE server died) never
        // comes back: the volume is destroyed when all its paths are.
        if (r < 0 && p->io().classify(-r) == FaultClass::kGone) vol->mark_lost(*p, -r);
        else if (!up && !p->failed()) vol->checker_fail(*p, r < 0 ? -r : EINVAL);
        else if (up && p->failed()) maybe_return(*vol, *p, pol, t);
      }
      p->end_probe();
    }).detach();
  } catch (...) {
    h.probe_done(now, false, !p->failed());
    p->end_probe();
  }
}

}  // namespace mpathfs
