// Volume: control operations, state words and status snapshots.
// The request path is in volume_request.cpp, failover in failover.cpp,
// queueing in volume_queue.cpp, io_timeout takeover in volume_takeover.cpp,
// fsync in volume_flush.cpp.
#include "core/volume.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/errno_class.hpp"
#include "core/word_escape.hpp"

namespace mpathfs {
namespace {
// What the checker saw, for status: a hold-down shows as "held"; a request
// that succeeded counts as a check (it is why the path was not probed).
void fill_health(PathStatus& ps, const Path& p, uint64_t now) {
  const PathHealth::View h = p.health().view(now);
  if (h.held) {
    ps.checker = "held";
    ps.held_left = static_cast<double>(h.held_left_ns) / 1e9;
  }
  const uint64_t last = std::max(h.last_probe_ns, p.last_ok_ns());
  if (last) ps.checked_ago = now > last ? static_cast<double>(now - last) / 1e9 : 0.0;
}
}  // namespace

Volume::Volume(VolumeSettings s, uint64_t path_size, uint64_t size, Clock& clock)
    : settings_(std::move(s)),
      clock_(clock),
      path_size_(path_size),
      size_(size),
      mode_(settings_.mode),
      no_path_retry_(settings_.no_path_retry),
      set_(std::make_shared<const PathSet>()),
      io_timeout_ns_(static_cast<uint64_t>(settings_.io_timeout * 1e9)),
      window_(seconds_to_ns(kLatencyIntervalSeconds), clock.now_ns()) {}

Volume::~Volume() { shut_down(); }

namespace {
// "sdb" means "/dev/sdb", as gmultipath strips and adds /dev/.
bool names_match(const std::string& have, std::string_view want) {
  if (have == want) return true;
  if (want.find('/') == std::string_view::npos && have.size() == want.size() + 5 &&
      have.compare(0, 5, "/dev/") == 0 && have.compare(5, std::string::npos, want) == 0)
    return true;
  return false;
}
}  // namespace

std::shared_ptr<Path> Volume::find_path(std::string_view name) const {
  auto set = load_set();
  for (auto& p : set->paths)
    if (names_match(p->name(), name)) return p;
  return nullptr;
}

bool Volume::has_path(std::string_view name) const { return find_path(name) != nullptr; }

std::vector<std::shared_ptr<Path>> Volume::paths() const { return load_set()->paths; }

VoidResult Volume::add_path(std::shared_ptr<Path> p) {
  PathIo& io = p->io();
  if (io.size() != path_size_)
    return err_inval("path " + p->name() + " has size " + std::to_string(io.size()) + ", volume " + name() +
                     " needs " + std::to_string(path_size_));
  // Probe: a path that opens but cannot be read joins as FAIL (the seed's
  // "added manually and marked failed until their time will come").
  int probe_err = 0;
  {
    AlignedBuffer buf(kMaxAlign, kMaxAlign);
    if (int r = io.probe(buf.data()); r < 0) probe_err = -r;
  }
  const std::string id = io.device_id();
  std::lock_guard lk(mu_);
  auto set = load_set();
  for (auto& q : set->paths) {
    if (q->name() == p->name()) return err_exist("path " + p->name() + " is already in volume " + name());
    if (auto qid = q->io().device_id(); !id.empty() && !qid.empty() && qid != id)
      return err_inval("path " + p->name() + " leads to device " + id + ", " + q->name() + " to " + qid);
    if (q->io().sector_size() != io.sector_size())
      return err_inval("path " + p->name() + " has sector size " + std::to_string(io.sector_size()) + ", " +
                       q->name() + " has " + std::to_string(q->io().sector_size()));
  }
  if (set->paths.size() >= kMaxPaths)
    return err_inval("volume " + name() + " already has " + std::to_string(kMaxPaths) + " paths");
  if (probe_err) {
    p->set_failed(true);
    p->set_last_error(probe_err);
    p->set_checker(CheckerState::kDown);
    spdlog::warn("{}: path {} added as FAIL: probe read failed ({})", name(), p->name(), errno_name(probe_err));
  }
  auto next = std::make_shared<PathSet>(*set);
  next->paths.push_back(p);
  if (io.align() > 1) rmw_possible_.store(true);
  if (io.can_submit()) async_possible_.store(true);
  set_.store(next);
  if (!active_.load() || active_.load()->failed()) move_active_after_locked(*next, nullptr);
  path_cv_.notify_all();
  spdlog::info("{}: path {} added ({}{})", name(), p->name(), io.direct() ? "O_DIRECT" : "buffered",
               p->failed() ? ", FAIL" : "");
  note_state_locked(*next);
  return {};
}

VoidResult Volume::remove_path(std::string_view pname) {
  std::lock_guard lk(mu_);
  auto set = load_set();
  auto it = std::find_if(set->paths.begin(), set->paths.end(), [&](auto& q) { return names_match(q->name(), pname); });
  if (it == set->paths.end()) return err_noent("path " + std::string(pname) + " is not in volume " + name());
  if (set->paths.size() == 1)
    return err_busy("path " + (*it)->name() + " is the last path of volume " + name() + " (use destroy)");
  auto next = std::make_shared<PathSet>();
  for (auto& q : set->paths)
    if (q != *it) next->paths.push_back(q);
  std::shared_ptr<Path> gone = *it;
  set_.store(next);
  after_remove_locked(*next, *gone, static_cast<size_t>(it - set->paths.begin()));
  spdlog::info("{}: path {} removed", name(), gone->name());
  note_state_locked(*next);
  return {};
}

VoidResult Volume::fail_path(std::string_view pname) {
  std::lock_guard lk(mu_);
  auto set = load_set();
  for (auto& q : set->paths) {
    if (!names_match(q->name(), pname)) continue;
    q->set_admin_failed(true);   // even if already FAIL: the checker must not bring it back
    if (q->failed()) return {};  // already FAIL: success, no change (gmultipath)
    on_failure_locked(*set, *q, FailTrigger::kAdminFail, 0, true);
    return {};
  }
  return err_noent("path " + std::string(pname) + " is not in volume " + name());
}

VoidResult Volume::restore_path(std::string_view pname) {
  std::lock_guard lk(mu_);
  auto set = load_set();
  for (auto& q : set->paths) {
    if (!names_match(q->name(), pname)) continue;
    on_return_locked(*set, *q, ReturnTrigger::kAdminRestore);
    return {};
  }
  return err_noent("path " + std::string(pname) + " is not in volume " + name());
}

void Volume::checker_restore(Path& p) {
  std::lock_guard lk(mu_);
  on_return_locked(*load_set(), p, ReturnTrigger::kChecker);
}

bool Volume::checker_fail(Path& p, int err) {
  std::lock_guard lk(mu_);
  auto set = load_set();
  if (p.failed() || p.lost()) return false;
  // Not the last working path: its requests find out for themselves, with
  // gmultipath's restore-all rule; a probe alone must not break the volume.
  const bool other = std::any_of(set->paths.begin(), set->paths.end(),
                                 [&](auto& q) { return q.get() != &p && q->good(); });
  if (!other) return false;
  on_failure_locked(*set, p, FailTrigger::kCheckerDown, err, false);
  return true;
}

void Volume::mark_lost(Path& p, int err) {
  std::lock_guard lk(mu_);
  if (p.lost()) return;
  on_failure_locked(*load_set(), p, FailTrigger::kGone, err, false);
}

VoidResult Volume::prefer(std::string_view pname) {
  std::lock_guard lk(mu_);
  auto set = load_set();
  for (auto& q : set->paths) {
    if (!names_match(q->name(), pname)) continue;
    if (q->failed()) return err_inval("path " + q->name() + " is FAIL and cannot be made active");
    if (active_.load() != q.get()) {
      set_active_locked(q.get());
      spdlog::info("{}: {} is now the active path (prefer)", name(), q->name());
    }
    return {};
  }
  return err_noent("path " + std::string(pname) + " is not in volume " + name());
}

VoidResult Volume::rotate() {
  std::lock_guard lk(mu_);
  auto set = load_set();
  const size_t n = set->paths.size();
  size_t cur = n;
  for (size_t i = 0; i < n; ++i)
    if (set->paths[i].get() == active_.load()) cur = i;
  for (size_t k = 1; k <= n; ++k) {
    const Path* q = set->paths[(cur == n ? k - 1 : cur + k) % n].get();
    if (q->good()) {
      if (q != active_.load()) {
        set_active_locked(q);
        spdlog::info("{}: {} is now the active path (rotate)", name(), q->name());
      }
      return {};
    }
  }
  return {};  // no good alternative: unchanged, success (gmultipath)
}

void Volume::set_mode(Mode m) {
  std::lock_guard lk(mu_);
  Mode old = mode_.exchange(m);
  if (old != m) spdlog::info("{}: mode {} -> {}", name(), mode_name(old), mode_name(m));
}

void Volume::set_no_path_retry(int seconds) {
  {
    std::lock_guard lk(mu_);
    int old = no_path_retry_.exchange(seconds);
    if (old != seconds) spdlog::info("{}: no_path_retry {} -> {}", name(), old, seconds);
  }
  path_cv_.notify_all();  // 0 releases queued requests at once (disablequeueing)
}

void Volume::shut_down() {
  {
    std::lock_guard lk(mu_);
    shut_down_.store(true, std::memory_order_release);
  }
  path_cv_.notify_all();
}

bool Volume::all_lost() const {
  auto set = load_set();
  if (set->paths.empty()) return false;
  return std::all_of(set->paths.begin(), set->paths.end(), [](auto& p) { return p->lost(); });
}

PathState Volume::state_of(const PathSet& set, const Path& p, Mode m) const {
  if (p.failed()) return PathState::kFail;
  if (m == Mode::kActiveActive) return PathState::kActive;
  if (&p == active_.load()) return PathState::kActive;
  return m == Mode::kActiveRead ? PathState::kRead : PathState::kPassive;
}

VolumeState Volume::state() const {
  auto set = load_set();
  size_t good = 0;
  for (auto& p : set->paths) good += p->good();
  if (good == 0) return VolumeState::kBroken;
  if (good < set->paths.size() || set->paths.size() == 1) return VolumeState::kDegraded;
  return VolumeState::kOptimal;
}

std::string Volume::active_paths() const {
  auto set = load_set();
  Mode m = mode();
  std::string out;
  for (auto& p : set->paths) {
    if (state_of(*set, *p, m) != PathState::kActive) continue;
    if (!out.empty()) out += ' ';
    out += escape_word(p->name());  // one word per path, whatever its bytes
  }
  return out.empty() ? "none" : out;
}

void Volume::add_stats(VolumeStatus& s) const {
  constexpr auto r = std::memory_order_relaxed;
  s.read_latency = read_lat_.snapshot();
  s.write_latency = write_lat_.snapshot();
  s.path_failures = path_failures_.load(r);
  s.failovers = failovers_.load(r);
  s.no_path_failures = no_path_failures_.load(r);
  s.io_timeouts = io_timeouts_.load(r);
  s.rescued = rescued_.load(r);
  const uint64_t now = clock_.now_ns();
  {
    std::lock_guard lk(mu_);
    // A queue that is waiting now counts up to now.
    s.queued_seconds = static_cast<double>(queued_ns_ + (queue_waiters_ ? now - queue_since_ns_ : 0)) / 1e9;
  }
  std::vector<LatencyWindow::Sample> w;
  w.reserve(s.paths.size() + 1);
  w.push_back({"", s.read_latency, s.write_latency});
  for (auto& p : s.paths) w.push_back({p.path, p.read_latency, p.write_latency});
  s.interval_s = window_.advance(now, w);
  s.read_latency_interval = w[0].read;
  s.write_latency_interval = w[0].write;
  for (size_t i = 0; i < s.paths.size(); ++i) {
    s.paths[i].read_latency_interval = w[i + 1].read;
    s.paths[i].write_latency_interval = w[i + 1].write;
  }
}

VolumeStatus Volume::status() const {
  auto set = load_set();
  VolumeStatus s;
  s.name = name();
  s.mode = mode();
  s.state = state();
  s.size = size_;
  s.path_size = path_size_;
  if (!set->paths.empty()) s.sector_size = set->paths.front()->io().sector_size();
  s.uuid = settings_.uuid;
  s.no_path_retry = no_path_retry();
  s.io_timeout = settings_.io_timeout;
  s.queued = queued_.load(std::memory_order_relaxed);
  s.open_handles = open_count();
  const uint64_t now = clock_.now_ns();
  for (auto& p : set->paths) {
    PathStatus ps;
    ps.path = p->name();
    ps.state = state_of(*set, *p, s.mode);
    ps.lost = p->lost();
    ps.checker = checker_state_name(p->checker());
    fill_health(ps, *p, now);
    ps.direct = p->io().direct();
    auto c = p->counters();
    ps.reads = c.reads;
    ps.writes = c.writes;
    ps.read_bytes = c.read_bytes;
    ps.write_bytes = c.write_bytes;
    ps.errors = c.errors;
    ps.inflight = p->inflight();
    ps.mean_latency_us = c.completed ? static_cast<double>(c.latency_ns) / c.completed / 1000.0 : 0.0;
    if (int e = p->last_error()) ps.last_error = std::string(errno_name(e));
    ps.read_latency = p->read_latency().snapshot();
    ps.write_latency = p->write_latency().snapshot();
    const auto ev = p->events();
    ps.failures = ev.failures;
    ps.io_timeouts = ev.io_timeouts;
    ps.rescued = ev.rescued;
    ps.wwid = p->io().device_id();
    s.paths.push_back(std::move(ps));
  }
  add_stats(s);
  return s;
}

}  // namespace mpathfs
