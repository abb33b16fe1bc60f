// PathHealth: what the checker remembers of one path between rounds — its
// probe schedule (a healthy path's probes back off), the failures that tell
// a flapping path, and the hold-down that keeps a flapping path out until
// it has answered for a while (multipath-tools' san_path_err_* and
// delay_*_checks, one mechanism).
//
// Plain bookkeeping on times the caller passes, under a mutex of its own:
// the checker loop, probe threads, the volume (a failure) and status read it;
// none of them on the I/O path.  Unit tests drive it on a fake clock.
#pragma once

#include <array>
#include <cstdint>

#include "core/mutex.hpp"

namespace mpathfs {

// Most failures remembered per path: flap_threshold's ceiling.
inline constexpr int kMaxFlapFailures = 64;
// Failures of one path closer than this count once toward flap_threshold.
inline constexpr uint64_t kFlapDebounceNs = 1'000'000'000;
// A healthy path's probes space out to at most this many check intervals.
inline constexpr int kMaxBackoffRounds = 4;

class PathHealth {
 public:
  // The path was failed (I/O error, timeout, flush, checker): remembered
  // for flapping, and its probes go back to every round.
  void note_failure(uint64_t now_ns);
  // `restore` by hand: the failures are forgotten and a hold lifted.
  void clear();

  // ---- the checker's schedule ----
  // One checker round: true if this path's probe is due (a healthy path
  // skips rounds while it backs off).
  bool round_due();
  void probe_started(uint64_t now_ns);
  // When the probe in flight began (0: none).
  uint64_t probe_started_ns() const;
  // A probe ended.  `working`: the path is not FAIL.  A working path that
  // answers again doubles its spacing (up to kMaxBackoffRounds); anything
  // else brings it back to every round.
  void probe_done(uint64_t now_ns, bool up, bool working);

  // ---- flapping ----
  // Latches the hold-down when `threshold` of the remembered failures lie
  // within `window_ns`; true when it latched just now (log it once).
  bool update_hold(uint64_t now_ns, int threshold, uint64_t window_ns, uint64_t hold_down_ns);
  // May a FAIL path that just answered a probe come back?  kHeld: held
  // down and not yet up for hold_down (the hold lifts, and the failures are
  // forgotten, once it is); kWait: not up for `after_ns` yet (failback=N).
  enum class Verdict { kHeld, kWait, kReturn };
  Verdict may_return(uint64_t now_ns, uint64_t after_ns);

  struct View {
    uint64_t last_probe_ns = 0;  // 0: never probed
    bool held = false;
    uint64_t held_left_ns = 0;   // at least this long still
  };
  View view(uint64_t now_ns) const;

 private:
  bool within_window_locked(int threshold, uint64_t window_ns) const REQUIRES(mu_);

  mutable Mutex mu_;
  std::array<uint64_t, kMaxFlapFailures> failures_ GUARDED_BY(mu_){};  // a ring, oldest overwritten
  int nfailures_ GUARDED_BY(mu_) = 0;
  int next_failure_ GUARDED_BY(mu_) = 0;
  int backoff_rounds_ GUARDED_BY(mu_) = 1;  // probe every this many rounds
  int skip_ GUARDED_BY(mu_) = 0;            // rounds still to skip
  bool last_up_ GUARDED_BY(mu_) = false;
  uint64_t up_since_ns_ GUARDED_BY(mu_) = 0;  // answering every probe since (0: not up)
  uint64_t last_probe_ns_ GUARDED_BY(mu_) = 0;
  uint64_t probe_started_ns_ GUARDED_BY(mu_) = 0;
  bool held_ GUARDED_BY(mu_) = false;
  uint64_t hold_down_ns_ GUARDED_BY(mu_) = 0;
  uint64_t held_since_ns_ GUARDED_BY(mu_) = 0;
};

}  // namespace mpathfs
