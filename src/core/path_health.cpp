#include "core/path_health.hpp"

#include <algorithm>

namespace mpathfs {

void PathHealth::note_failure(uint64_t now_ns) {
  std::lock_guard lk(mu_);
  // Failures closer than kFlapDebounceNs are one event: the restore-all rule
  // can fail a path again within milliseconds (requests still in flight on a
  // dead connection), and that is one break, not a flapping path.
  const uint64_t last = nfailures_ ? failures_[(next_failure_ + kMaxFlapFailures - 1) % kMaxFlapFailures] : 0;
  const bool counted = !nfailures_ || now_ns >= last + kFlapDebounceNs;
  if (counted) {
    failures_[next_failure_] = now_ns;
    next_failure_ = (next_failure_ + 1) % kMaxFlapFailures;
    nfailures_ = std::min(nfailures_ + 1, kMaxFlapFailures);
  }
  backoff_rounds_ = 1;
  skip_ = 0;
  up_since_ns_ = 0;  // the answers a hold-down counts start again
  last_up_ = false;
}

void PathHealth::clear() {
  std::lock_guard lk(mu_);
  nfailures_ = 0;
  next_failure_ = 0;
  held_ = false;
  backoff_rounds_ = 1;
  skip_ = 0;
}

bool PathHealth::round_due() {
  std::lock_guard lk(mu_);
  if (skip_ > 0) {
    --skip_;
    return false;
  }
  return true;
}

void PathHealth::probe_started(uint64_t now_ns) {
  std::lock_guard lk(mu_);
  probe_started_ns_ = now_ns;
}

uint64_t PathHealth::probe_started_ns() const {
  std::lock_guard lk(mu_);
  return probe_started_ns_;
}

void PathHealth::probe_done(uint64_t now_ns, bool up, bool working) {
  std::lock_guard lk(mu_);
  probe_started_ns_ = 0;
  last_probe_ns_ = now_ns;
  if (up && !up_since_ns_) up_since_ns_ = now_ns;
  if (!up) up_since_ns_ = 0;
  // multipathd's max_polling_interval: a path that stays up is asked less
  // often; any change (down, failed, restored) asks every round again.
  if (up && working && last_up_) backoff_rounds_ = std::min(backoff_rounds_ * 2, kMaxBackoffRounds);
  else backoff_rounds_ = 1;
  skip_ = backoff_rounds_ - 1;
  last_up_ = up && working;
}

bool PathHealth::within_window_locked(int threshold, uint64_t window_ns) const {
  if (threshold < 1 || nfailures_ < threshold) return false;
  // The remembered failures in time order; any `threshold` in a row
  // within the window make the path a flapper.
  std::array<uint64_t, kMaxFlapFailures> t{};
  for (int i = 0; i < nfailures_; ++i)
    t[i] = failures_[(next_failure_ - nfailures_ + i + kMaxFlapFailures) % kMaxFlapFailures];
  for (int i = 0; i + threshold - 1 < nfailures_; ++i)
    if (t[i + threshold - 1] - t[i] <= window_ns) return true;
  return false;
}

bool PathHealth::update_hold(uint64_t now_ns, int threshold, uint64_t window_ns, uint64_t hold_down_ns) {
  std::lock_guard lk(mu_);
  if (held_) return false;
  const bool latch = within_window_locked(threshold, window_ns);
  if (latch) {
    held_ = true;
    hold_down_ns_ = hold_down_ns;
    held_since_ns_ = now_ns;
  }
  // Failures older than the window can no longer make one with new ones.
  int keep = 0;
  std::array<uint64_t, kMaxFlapFailures> t{};
  for (int i = 0; i < nfailures_; ++i) {
    const uint64_t f = failures_[(next_failure_ - nfailures_ + i + kMaxFlapFailures) % kMaxFlapFailures];
    if (latch || f + window_ns >= now_ns) t[keep++] = f;
  }
  failures_ = t;
  nfailures_ = keep;
  next_failure_ = keep % kMaxFlapFailures;
  return latch;
}

PathHealth::Verdict PathHealth::may_return(uint64_t now_ns, uint64_t after_ns) {
  std::lock_guard lk(mu_);
  const uint64_t up_for = up_since_ns_ && now_ns >= up_since_ns_ ? now_ns - up_since_ns_ : 0;
  if (held_) {
    if (!up_since_ns_ || up_for < hold_down_ns_) return Verdict::kHeld;
    held_ = false;  // answered every probe for hold_down: the count starts over
    nfailures_ = 0;
    next_failure_ = 0;
  }
  return up_since_ns_ && up_for >= after_ns ? Verdict::kReturn : Verdict::kWait;
}

PathHealth::View PathHealth::view(uint64_t now_ns) const {
  std::lock_guard lk(mu_);
  View v;
  v.last_probe_ns = last_probe_ns_;
  v.held = held_;
  if (held_) {
    const uint64_t from = up_since_ns_ ? up_since_ns_ : now_ns;
    const uint64_t until = from + hold_down_ns_;
    v.held_left_ns = until > now_ns ? until - now_ns : 0;
  }
  return v;
}

}  // namespace mpathfs
