// Volume: a named set of paths to the same data, read and written as one.
//
// Concurrency:
//  - The path list is an immutable PathSet swapped in by control operations;
//    each request works on the set it loaded (atomic shared_ptr), so a path
//    removed under a hung request stays alive until that request returns.
//  - Routing reads atomics only.  State *changes* (fail, restore, active
//    path, set swap) take mu_, which the hot path touches only on an error.
//  - Lock order: Registry::map_mu_ before Volume::mu_ (map_mu_ says so with
//    ACQUIRED_BEFORE; clang -Wthread-safety-beta checks it); block_locks_
//    and fence_mu_ are taken alone.  The *_locked functions REQUIRE mu_.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/async_request.hpp"
#include "core/atomic_shared_ptr.hpp"
#include "core/block_locks.hpp"
#include "core/clock.hpp"
#include "core/failover.hpp"
#include "core/inflight.hpp"
#include "core/io_context.hpp"
#include "core/latency_histogram.hpp"
#include "core/latency_window.hpp"
#include "core/mode.hpp"
#include "core/mutex.hpp"
#include "core/path.hpp"
#include "core/request.hpp"
#include "core/result.hpp"
#include "core/routing.hpp"
#include "core/status.hpp"

namespace mpathfs {

struct VolumeSettings {
  std::string name;
  Mode mode = Mode::kActivePassive;
  std::optional<std::string> uuid;  // set for a labeled (gmultipath "automatic") volume
  int no_path_retry = 0;            // seconds while BROKEN; -1 = queue forever; 0 = fail at once
  double io_timeout = 5;            // seconds a path may take to answer a request
  uint32_t file_mode = 0600;        // of the volume file
  uint32_t uid = 0, gid = 0;
};

// Requests that may wait for a path at once (no_path_retry); more fail with EIO.
inline constexpr uint64_t kMaxQueued = 256;
// "This write has no fence epoch yet" (a new request, not a rescue).
inline constexpr uint64_t kNoEpoch = RequestOrigin::kNoEpoch;
// How long a write waits for an overlapping stale (timed-out, unanswered)
// write before it fails with EIO rather than risk being overwritten.
inline constexpr double kFenceWaitSeconds = 60;

class Volume {
  struct PathSet;  // the path list, defined below

 public:
  // path_size: the size every path must have; size: what the volume exposes
  // (path_size minus the metadata sector when labeled).  `clock` times its
  // requests, deadlines and waits (clock.hpp).
  Volume(VolumeSettings s, uint64_t path_size, uint64_t size, Clock& clock = Clock::real());
  ~Volume();
  Volume(const Volume&) = delete;
  Volume& operator=(const Volume&) = delete;

  const std::string& name() const { return settings_.name; }
  uint64_t size() const { return size_; }
  uint64_t path_size() const { return path_size_; }
  Mode mode() const { return mode_.load(std::memory_order_relaxed); }
  const std::optional<std::string>& uuid() const { return settings_.uuid; }
  const VolumeSettings& settings() const { return settings_; }
  Clock& clock() const { return clock_; }

  // ---- hot path: no allocation, no lock, no log unless a path fails ----
  // (volume_request.cpp)
  // Reads up to len bytes at off (clipped at the end); *data points into the
  // context's scratch buffer.  len <= ctx.max_io().
  // With a `reply`, a request a path leaves unanswered past io_timeout is
  // taken over by the watchdog, which answers through `reply`; the result
  // is then taken_over() and the caller must not answer.
  // `origin`: set for the rescue of a timed-out request.
  IoResult read(IoContext& ctx, size_t len, uint64_t off, const std::byte** data, const IoReply* reply = nullptr,
                RequestOrigin origin = {}) noexcept;
  // Writes len bytes at off.  A write reaching past the end is refused whole
  // with ENOSPC.
  IoResult write(IoContext& ctx, const std::byte* data, size_t len, uint64_t off, const IoReply* reply = nullptr,
                 RequestOrigin origin = {}) noexcept;
  // The same without keeping the caller, on a path that answers on its own
  // thread (volume_async.cpp): true when taken (a.reply is then called once,
  // from another thread), false when it must be served by read()/write().
  bool submit(AsyncRequest& a, const std::byte* payload = nullptr) noexcept;
  // Whether submit() can take anything: a path of the volume can.
  bool may_submit() const { return async_possible_.load(std::memory_order_relaxed); }
  // fdatasync on every working path in parallel (volume_flush.cpp); 0 if
  // at least one flushed.  A path that does not answer within io_timeout
  // is failed like a path whose I/O timed out.
  int flush() noexcept;
  // flush() in two halves, so every volume can be flushed at once (unmount).
  struct FlushTickets {
    std::shared_ptr<const PathSet> set;  // keeps the flushed paths alive
    std::array<Path*, kMaxPaths> paths{};
    std::array<uint64_t, kMaxPaths> tickets{};  // 0: no flusher thread; flushed inline
    std::array<int, kMaxPaths> inline_rc{};
    size_t n = 0;
    bool last_resort = false;  // no working path: FAIL ones asked (restore-all)
  };
  FlushTickets begin_flush() noexcept;
  // deadline_ns: on this volume's clock (flush_deadline()).
  int end_flush(const FlushTickets& t, uint64_t deadline_ns) noexcept;
  uint64_t flush_deadline() const noexcept;
  // A path's fdatasync has not returned yet (its thread is stuck).
  bool flush_hung() const noexcept;

  // ---- control: all-or-nothing, applied before return ----
  // Adds a path (already opened).  EEXIST if present, EINVAL on a size or
  // sector mismatch.  A path whose probe read fails joins as FAIL.
  VoidResult add_path(std::shared_ptr<Path> p);
  VoidResult remove_path(std::string_view name);
  VoidResult fail_path(std::string_view name);
  VoidResult restore_path(std::string_view name);
  VoidResult prefer(std::string_view name);
  VoidResult rotate();
  void set_mode(Mode m);
  void set_no_path_retry(int seconds);
  int no_path_retry() const { return no_path_retry_.load(std::memory_order_relaxed); }
  // Restores a FAIL path if the checker saw it answer (failback).
  void checker_restore(Path& p);
  // A working path failed its probe (or did not answer it): FAIL, unless it
  // is the last working path.  True if it was failed.
  bool checker_fail(Path& p, int err);
  // The path's device is gone (the checker saw ENXIO/ENODEV/ENOTCONN).
  void mark_lost(Path& p, int err);

  // gmultipath getactive: active-active: every good path; else the active one; "none".
  std::string active_paths() const;
  VolumeStatus status() const;
  VolumeState state() const;
  // Every path's device is gone: the registry destroys the volume.
  bool all_lost() const;
  bool has_path(std::string_view name) const;
  std::vector<std::shared_ptr<Path>> paths() const;
  // The path that matches a user's word ("/dev/sdb" or "sdb"), or nullptr.
  std::shared_ptr<Path> find_path(std::string_view name) const;

  // The watchdog's report: path `p` has not answered a request for
  // `waited_s` seconds.  Fails the path (as an I/O error would).  When the
  // request was taken over and is a write, fences [off, off+len) until the
  // stale write is answered and returns the fence's token (0 otherwise).
  // `request_restored`: the request already ran the restore-all rule (it
  // runs once per request, rescues included); the result says whether it
  // has now.
  struct TimeoutOutcome {
    uint64_t fence_token = 0;
    bool restored = false;
  };
  // `cut`: the request's connection was already cut loose (a held write,
  // see Watchdog::cut_loose): it is fenced and rescued, but the path has
  // been failed and aborted already, and the request did not time out.
  TimeoutOutcome on_io_timeout(Path& p, double waited_s, bool taken_over, bool write, uint64_t off, size_t len,
                               bool request_restored, bool cut = false) noexcept;
  // Releases the block locks of a request taken over (see BlockLocks).
  void release_hold(uint64_t mask, bool exclusive) noexcept { block_locks_.release({mask, exclusive}); }
  // Requests taken over whose hung call has not returned yet: destroy waits.
  int abandoned() const { return abandoned_.load(std::memory_order_relaxed); }

  // Open handles of the volume file: destroy/stop are refused while > 0.
  void open_ref() { open_.fetch_add(1, std::memory_order_relaxed); }
  void close_ref() { open_.fetch_sub(1, std::memory_order_relaxed); }
  int open_count() const { return open_.load(std::memory_order_relaxed); }

  // After this every request fails with EIO and queued ones are released.
  void shut_down();
  bool is_shut_down() const { return shut_down_.load(std::memory_order_acquire); }

 private:
  // Only so that Registry::map_mu_ can name mu_ in its ACQUIRED_BEFORE.
  friend class Registry;

  struct PathSet {
    std::vector<std::shared_ptr<Path>> paths;  // join order
  };
  // The request path (volume_request.cpp): route, align, issue, retry.
  IoResult serve(Request& r) noexcept;
  Path* choose(const PathSet& set, const Request& r) const;
  // One path I/O under the watchdog's eye.
  IoResult attempt(Path& p, Request& r) noexcept;
  ssize_t read_on(Path& p, Request& r, uint64_t now) noexcept;
  ssize_t write_on(Path& p, Request& r, uint64_t now) noexcept;

  // Timeout takeover and write fences (volume_takeover.cpp).
  // The worker side of a takeover: drop the late answer, lift the fence.
  IoResult abandon(InflightSlot& slot) noexcept;
  // An asynchronous request's answer (volume_async.cpp): on the path's
  // thread, then for a failure on a thread of its own.
  static void on_async_done(PathOp& op) noexcept;
  void async_failed(AsyncRequest& a) noexcept;
  void async_abandon(AsyncRequest& a) noexcept;
  // Waits while an older stale write overlaps [off, off+len).  0 or -EIO.
  int wait_for_fences(IoContext& ctx, uint64_t off, size_t len, uint64_t epoch) noexcept;

  // A request's failover (failover.cpp).
  // A path failed a request with a path error: FAIL it, apply gmultipath's
  // restore-all rule, move the active path.  Then the request retries.
  void on_path_error(Path& p, int err, Request& r) noexcept;
  // After the restore-all rule: a FAIL path this request has not retried.
  Path* last_resort(const PathSet& set, const Request& r) const;
  // A FAIL path answered a last-resort retry: it works, restore it.
  void revive(Path& p) noexcept;
  // No path to try (volume_queue.cpp): retry restored paths, queue
  // (no_path_retry) or give up.  0 to retry, -EIO/-EINTR to fail.
  int on_no_path(Request& r) noexcept;

  // failover.cpp: the one place that decides what a failure or a return
  // does (mu_ held).  on_failure_locked returns whether it ran gmultipath's
  // restore-all rule (only when may_restore: once per request).
  bool on_failure_locked(const PathSet& set, Path& p, FailTrigger t, int err, bool may_restore) REQUIRES(mu_);
  bool on_return_locked(const PathSet& set, Path& p, ReturnTrigger t) REQUIRES(mu_);
  void after_remove_locked(const PathSet& next, const Path& gone, size_t index) REQUIRES(mu_);
  // Every change of the ACTIVE path goes through here: it counts failovers.
  void set_active_locked(const Path* q) REQUIRES(mu_);

  // The machinery under them (mu_ held).
  void fail_locked(const PathSet& set, Path& p, int err, const char* why) REQUIRES(mu_);
  bool any_good_locked(const PathSet& set) const REQUIRES(mu_);
  void restore_all_except_locked(const PathSet& set, const Path* except) REQUIRES(mu_);
  void move_active_after_locked(const PathSet& set, const Path* failed) REQUIRES(mu_);
  PathState state_of(const PathSet& set, const Path& p, Mode m) const;
  // status(): latency and multipathd's stats of the volume, and the last
  // interval of every histogram in `s`.
  void add_stats(VolumeStatus& s) const;
  // Logs entering and leaving BROKEN, once each.
  void note_state_locked(const PathSet& set) REQUIRES(mu_);

  std::shared_ptr<const PathSet> load_set() const { return set_.load(); }

  VolumeSettings settings_;
  Clock& clock_;
  const uint64_t path_size_;
  const uint64_t size_;
  std::atomic<Mode> mode_;
  std::atomic<int> no_path_retry_;
  AtomicSharedPtr<const PathSet> set_;
  std::atomic<const Path*> active_{nullptr};
  std::atomic<int> open_{0};
  std::atomic<bool> shut_down_{false};
  std::atomic<uint64_t> queued_{0};
  std::atomic<int> abandoned_{0};
  const uint64_t io_timeout_ns_;

  // Stale writes: taken over, not yet answered by their hung path.
  struct Fence {
    uint64_t seq;
    uint64_t off;
    size_t len;
  };
  Mutex fence_mu_;
  CondVar fence_cv_;
  std::vector<Fence> fences_ GUARDED_BY(fence_mu_);
  std::atomic<int> fences_active_{0};   // checked lock-free per write
  std::atomic<uint64_t> fence_seq_{0};

  mutable Mutex mu_;               // state changes; see the lock order above
  bool broken_logged_ GUARDED_BY(mu_) = false;
  CondVar path_cv_;  // a path came back, settings changed, or shut down

  // Stats (status.hpp VolumeStatus says what each counts).  Events are
  // counted where they happen, under mu_ or with relaxed atomics; the
  // latency histograms are bumped once per request (volume_request.cpp).
  alignas(64) LatencyHistogram read_lat_;
  alignas(64) LatencyHistogram write_lat_;
  std::atomic<uint64_t> path_failures_{0}, failovers_{0}, no_path_failures_{0}, io_timeouts_{0}, rescued_{0};
  // Time with requests queued (volume_queue.cpp): from the first waiter
  // in to the last one out.
  uint32_t queue_waiters_ GUARDED_BY(mu_) = 0;
  uint64_t queue_since_ns_ GUARDED_BY(mu_) = 0;
  uint64_t queued_ns_ GUARDED_BY(mu_) = 0;
  mutable LatencyWindow window_;
  // Writes hold these while a path with O_DIRECT alignment is in the
  // volume (a read-modify-write is then possible).
  BlockLocks block_locks_;
  std::atomic<bool> rmw_possible_{false};
  std::atomic<bool> async_possible_{false};  // a path can submit()
};

}  // namespace mpathfs
