#include "core/checker.hpp"

#include <spdlog/spdlog.h>

#include "core/aligned_buffer.hpp"
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

}  // namespace

Checker::Checker(Registry& reg, double interval_s, Failback failback, std::function<void()> on_tree_change)
    : reg_(reg), interval_s_(interval_s), failback_(failback), on_tree_change_(std::move(on_tree_change)) {}

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
    clock.wait_until(cv_, lk, clock.now_ns() + seconds_to_ns(interval_s_));
    if (stop_) break;
    lk.unlock();
    run_once();
    lk.lock();
  }
}

void Checker::run_once() {
  if (!reg_.reap_lost().empty() && on_tree_change_) on_tree_change_();
  for (auto& e : reg_.list()) {
    for (auto& p : e.volume->paths()) {
      if (!p->failed() || p->lost() || !p->begin_probe()) continue;
      p->set_checker(CheckerState::kPending);
      std::weak_ptr<Volume> wv = e.volume;
      Failback fb = failback_;
      try {
        std::thread([wv, p, fb] {
          int r = probe_path(*p);
          auto v = wv.lock();
          const bool up = r == 0 && v && answers_as_itself(*v, *p);
          p->set_checker(up ? CheckerState::kUp : CheckerState::kDown);
          if (v) {
            if (up && fb == Failback::kImmediate) v->checker_restore(*p);
            // A device that is gone (or a file whose FUSE server died) never
            // comes back: the volume is destroyed when all its paths are.
            if (r < 0 && p->io().classify(-r) == FaultClass::kGone) v->mark_lost(*p, -r);
          }
          p->end_probe();
        }).detach();
      } catch (...) {
        p->end_probe();
      }
    }
  }
}

}  // namespace mpathfs
