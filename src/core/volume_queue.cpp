// Volume: what a request does when no path is left to try — retry a path
// that shows it works again (paths flap), else queue while BROKEN for
// no_path_retry seconds (multipathd's queue_if_no_path), killable.
#include <algorithm>

#include "core/volume.hpp"

namespace mpathfs {
namespace {
// Bound on retries of one request, whatever other requests restore meanwhile.
constexpr int kMaxRounds = 4 * static_cast<int>(kMaxPaths);
}  // namespace

int Volume::on_no_path(Request& a) noexcept {
  if (is_shut_down() || a.rounds > kMaxRounds) return -EIO;
  {
    // Another request restored a path this one already tried, or served a
    // request on one since this request's trouble began: paths flap, and
    // while one works no application should see an error.  A persistent
    // failure shows neither, so it still ends (FreeBSD's failloop).
    // Under mu_: a failover fails one path and restores the others in one
    // locked step, which a lock-free look could see half done.
    std::lock_guard lk(mu_);
    auto set = load_set();
    bool worth_retry = false;
    for (auto& p : set->paths) {
      if (p->good()) worth_retry = true;
      // A FAIL path can be retried only after the restore-all rule ran.
      else if (a.restored && a.first_fail_ns && !p->lost() && !p->admin_failed() &&
               p->last_ok_ns() > a.first_fail_ns)
        worth_retry = true;
    }
    if (worth_retry) {
      a.ntried = 0;
      a.first_fail_ns = clock_.now_ns();
      ++a.rounds;
      return 0;
    }
  }
  // BROKEN: queue for no_path_retry seconds (multipathd's queue_if_no_path).
  if (all_lost()) return -EIO;
  int npr = no_path_retry();
  if (npr == 0) return -EIO;
  if (queued_.fetch_add(1, std::memory_order_relaxed) >= kMaxQueued) {
    queued_.fetch_sub(1, std::memory_order_relaxed);
    return -EIO;
  }
  BlockingScope blocking(a.ctx.observer());
  // A queued request whose caller is killed ends at once (EINTR): dm's
  // queue_if_no_path leaves such processes unkillable.  Only a fatal
  // signal ends it — a regular file read must not fail on a SIGCHLD.
  struct Waker final : Interruption {
    Volume* v;
    std::atomic<bool> hit{false};
    explicit Waker(Volume* vol) : v(vol) {}
    void interrupted() noexcept override {
      hit.store(true);
      std::lock_guard lk(v->mu_);
      v->path_cv_.notify_all();
    }
  } waker(this);
  const ReplyHooks* hooks = a.reply ? a.reply->hooks : nullptr;
  const bool watched = hooks && hooks->watch && hooks->caller_dying;
  if (watched) hooks->watch(a.reply->ctx, &waker);  // not under mu_: the hook's lock comes first
  int result = -EIO;
  int used = 0;  // the setting the deadline was computed from
  {
    std::unique_lock lk(mu_);
    if (queue_waiters_++ == 0) queue_since_ns_ = clock_.now_ns();
    for (;;) {
      if (is_shut_down()) break;
      if (waker.hit.load() && hooks->caller_dying(a.reply->ctx)) {
        result = -EINTR;
        break;
      }
      if (any_good_locked(*load_set())) {
        result = 0;
        break;
      }
      npr = no_path_retry();
      if (npr == 0) break;  // disablequeueing: release at once
      uint64_t now = clock_.now_ns();
      if (npr != used || a.deadline == 0) {
        a.deadline = npr < 0 ? UINT64_MAX : clock_.deadline_after_ns(static_cast<uint64_t>(npr) * 1000000000ull);
        used = npr;
      }
      if (now >= a.deadline) break;
      uint64_t left = a.deadline - now;
      // Once interrupted, look for a fatal signal often: the INTERRUPT
      // came with the first signal, which need not be the fatal one.
      const uint64_t tick = waker.hit.load() ? 100000000ull : 1000000000ull;
      clock_.wait_until(path_cv_, lk, now + std::min<uint64_t>(left, tick));
    }
    if (--queue_waiters_ == 0) queued_ns_ += clock_.now_ns() - queue_since_ns_;
  }
  if (watched) hooks->watch(a.reply->ctx, nullptr);
  queued_.fetch_sub(1, std::memory_order_relaxed);
  if (result == 0) {
    a.ntried = 0;
    a.restored = true;  // a path came back; do not restore the others again
    ++a.rounds;
  }
  return result;
}

}  // namespace mpathfs
