// The path checker: every check_interval seconds it probes each path that
// served no request successfully during the last interval — ACTIVE,
// PASSIVE, READ and FAIL alike — with a one-block O_DIRECT read
// (multipath-tools' directio checker), and verifies the identity of those
// that answer (a path may now lead to another disk).
//  - A working path whose probe fails, or goes unanswered for io_timeout,
//    is failed like a path whose I/O failed (FailTrigger::kCheckerDown), so
//    lost redundancy shows before a failover needs it.
//  - A healthy path's probes back off to every 2nd, then 4th round while it
//    stays up (multipathd's max_polling_interval); any change resets that.
//  - A FAIL path that answers returns per failback (manual, immediate, N s),
//    unless it is held down for flapping (PathHealth).
//  - Volumes whose every path is gone are destroyed.
//
// Probes run in their own threads: a probe of a hung path never blocks I/O,
// the checker loop, or the probes of other paths (checker I/O can hang
// forever — multipath-tools' checkers.h says the same).
//
// Its interval runs on the registry's clock (clock.hpp): the one its
// volumes stamp their paths' I/O with, so unit tests drive rounds on a
// fake clock.
#pragma once

#include <functional>
#include <thread>

#include "core/config.hpp"
#include "core/mutex.hpp"
#include "core/registry.hpp"

namespace mpathfs {

// The daemon's options that steer the checker.
struct CheckerPolicy {
  double interval_s = 5;
  Failback failback = Failback::kManual;
  double failback_after_s = 0;  // Failback::kAfter
  int flap_threshold = 3;
  double flap_window_s = 60;
  double hold_down_s = 60;
  static CheckerPolicy from(const DaemonOptions& o);
};

class Checker {
 public:
  // on_tree_change: called after volumes were destroyed (the FUSE layer
  // drops their entries).
  Checker(Registry& reg, CheckerPolicy policy, std::function<void()> on_tree_change = {});
  Checker(Registry& reg, double interval_s, Failback failback, std::function<void()> on_tree_change = {});
  ~Checker();
  Checker(const Checker&) = delete;
  Checker& operator=(const Checker&) = delete;

  void start();
  void stop();
  // One round now (tests, and the loop itself).
  void run_once();

 private:
  void loop();
  void check_path(const std::shared_ptr<Volume>& v, const std::shared_ptr<Path>& p, uint64_t now);

  Registry& reg_;
  const CheckerPolicy policy_;
  std::function<void()> on_tree_change_;
  Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// One probe: a read of the first aligned block.  0 or -errno.
int probe_path(Path& p) noexcept;
// Whether a path that answers again still is a path of `v`: the size it
// joined with, and the volume's label when labeled.  EINVAL naming what
// differs; another errno when the identity could not be read.
VoidResult verify_identity(const Volume& v, Path& p);

}  // namespace mpathfs
