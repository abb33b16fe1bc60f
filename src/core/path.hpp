// Path: one way to reach a volume's storage, with its state and counters.
//
// Two kinds of state live here, apart, as in multipath-tools' struct path:
//  - routing state (`failed`, `lost`): what the I/O path obeys; changed only
//    by the owning Volume under its state mutex, read lock-free per request.
//  - checker state: what the path checker last saw; it never moves I/O by
//    itself (failback=immediate asks the Volume to restore).
//
// Counters are relaxed atomics on the path's own cache lines: the hot path
// bumps them without a lock, status reads them without stopping I/O.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/latency_histogram.hpp"
#include "core/path_flusher.hpp"
#include "core/path_health.hpp"
#include "core/path_io.hpp"

namespace mpathfs {

// What the checker last saw of a path.
//  kUnknown  not probed yet (a path serving I/O is not probed: its I/O is the probe)
//  kUp       the last probe read answered
//  kDown     the last probe failed or timed out
//  kPending  a probe is in flight (a hung path stays here: probes never block I/O)
enum class CheckerState : uint8_t { kUnknown, kUp, kDown, kPending };
const char* checker_state_name(CheckerState s);

class Path {
 public:
  Path(std::string name, std::unique_ptr<PathIo> io);
  Path(const Path&) = delete;
  Path& operator=(const Path&) = delete;

  const std::string& name() const { return name_; }
  PathIo& io() { return *io_; }
  const PathIo& io() const { return *io_; }
  // Runs this path's fdatasync for Volume::flush (a thread of its own).
  PathFlusher& flusher() { return flusher_; }
  const PathFlusher& flusher() const { return flusher_; }

  // Routing state (written by Volume under its state mutex).
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  bool lost() const { return lost_.load(std::memory_order_acquire); }
  bool good() const { return !failed(); }
  void set_failed(bool f) { failed_.store(f, std::memory_order_release); }
  // Back to work at `now_ns` (the volume's clock): an error answered to a
  // request issued before then is stale evidence (failover.cpp).
  void set_returned(uint64_t now_ns) {
    returned_ns_.store(now_ns, std::memory_order_relaxed);
    failed_.store(false, std::memory_order_release);
  }
  uint64_t returned_ns() const { return returned_ns_.load(std::memory_order_acquire); }
  void set_lost() { lost_.store(true, std::memory_order_release); }

  // Failed by the admin (`fail`): the checker reports it but never
  // restores it; only `restore` does.
  bool admin_failed() const { return admin_failed_.load(std::memory_order_relaxed); }
  void set_admin_failed(bool f) { admin_failed_.store(f, std::memory_order_relaxed); }

  CheckerState checker() const { return checker_.load(std::memory_order_relaxed); }
  void set_checker(CheckerState s) { checker_.store(s, std::memory_order_relaxed); }
  // Claims the right to run one probe; false if one is already in flight.
  bool begin_probe() { return !probing_.exchange(true, std::memory_order_acq_rel); }
  void end_probe() { probing_.store(false, std::memory_order_release); }

  // The checker's memory of this path: schedule, failures, hold-down.
  PathHealth& health() { return health_; }
  const PathHealth& health() const { return health_; }

  // Cuts loose whatever is in flight (io_timeout, flush timeout) and
  // remembers when, for a backend that holds cut writes (the watchdog takes
  // over the writes that started before).
  void abort_inflight(uint64_t now_ns) {
    io_->abort_inflight();
    if (io_->holds_writes_after_abort()) aborted_ns_.store(now_ns, std::memory_order_release);
  }
  uint64_t aborted_ns() const { return aborted_ns_.load(std::memory_order_acquire); }

  int last_error() const { return last_error_.load(std::memory_order_relaxed); }
  void set_last_error(int e) { last_error_.store(e, std::memory_order_relaxed); }

  // Hot-path accounting.  begin() returns the start time for end().
  uint64_t begin_io(uint64_t now_ns) {
    hot_.inflight.fetch_add(1, std::memory_order_relaxed);
    hot_.last_pick_ns.store(now_ns, std::memory_order_relaxed);
    return now_ns;
  }
  void end_io(bool write, uint64_t bytes, uint64_t start_ns, uint64_t end_ns, bool error);
  // A begin_io whose I/O was never issued.
  void cancel_io() { hot_.inflight.fetch_sub(1, std::memory_order_relaxed); }

  int inflight() const { return hot_.inflight.load(std::memory_order_relaxed); }
  // How long a request took on this path lately (a moving average of the
  // last few, ns): tells a fast path (page cache, tmpfs) from a slow one.
  uint32_t recent_ns() const { return hot_.recent_ns.load(std::memory_order_relaxed); }
  // When a request last succeeded on this path (its volume's clock, ns): evidence that
  // a path works now, whatever its state says.
  uint64_t last_ok_ns() const { return hot_.last_ok_ns.load(std::memory_order_relaxed); }
  uint64_t last_pick_ns() const { return hot_.last_pick_ns.load(std::memory_order_relaxed); }

  struct Counters {
    uint64_t reads, writes, read_bytes, write_bytes, errors, latency_ns, completed;
  };
  Counters counters() const;

  // Latency of successful requests on this path, by direction.
  const LatencyHistogram& read_latency() const { return read_lat_; }
  const LatencyHistogram& write_latency() const { return write_lat_; }

  // Events multipathd counts per path (cumulative; bumped off the hot
  // path, where the event happens: failover.cpp, volume_takeover.cpp).
  struct Events {
    uint64_t failures;     // times this path went from working to FAIL
    uint64_t io_timeouts;  // requests it left unanswered past io_timeout
    uint64_t rescued;      // of those, requests taken over and re-issued elsewhere
  };
  Events events() const;
  void note_failure() { failures_.fetch_add(1, std::memory_order_relaxed); }
  void note_io_timeout(bool rescued) {
    io_timeouts_.fetch_add(1, std::memory_order_relaxed);
    if (rescued) note_rescued();
  }
  void note_rescued() { rescued_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::string name_;
  std::shared_ptr<PathIo> io_;  // shared with the flusher, which may outlive a hung path
  PathFlusher flusher_;
  std::atomic<bool> failed_{false};
  std::atomic<bool> lost_{false};
  std::atomic<bool> probing_{false};
  std::atomic<bool> admin_failed_{false};
  std::atomic<CheckerState> checker_{CheckerState::kUnknown};
  std::atomic<int> last_error_{0};
  std::atomic<uint64_t> aborted_ns_{0}, returned_ns_{0};
  PathHealth health_;
  std::atomic<uint64_t> failures_{0}, io_timeouts_{0}, rescued_{0};

  // Written per request: kept on their own cache lines so paths do not
  // false-share with each other or with the read-mostly fields above.
  struct alignas(64) Hot {
    std::atomic<int> inflight{0};
    std::atomic<uint64_t> last_pick_ns{0};  // for "idle longest" tie-breaks
    std::atomic<uint64_t> last_ok_ns{0};
    std::atomic<uint64_t> reads{0}, writes{0}, read_bytes{0}, write_bytes{0};
    std::atomic<uint64_t> errors{0}, latency_ns{0}, completed{0};
    std::atomic<uint32_t> recent_ns{0};  // moving average of service times
  } hot_;
  // Bumped per request too; each spans its own cache lines.
  alignas(64) LatencyHistogram read_lat_;
  alignas(64) LatencyHistogram write_lat_;
};

}  // namespace mpathfs
