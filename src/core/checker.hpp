// The path checker: probes FAIL paths every check_interval seconds with a
// one-block O_DIRECT read (multipath-tools' directio checker), verifies the
// identity of those that answer (a path may now lead to another disk),
// restores them with failback=immediate, and destroys volumes whose every
// path is gone.
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

class Checker {
 public:
  // on_tree_change: called after volumes were destroyed (the FUSE layer
  // drops their entries).
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

  Registry& reg_;
  const double interval_s_;
  const Failback failback_;
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
