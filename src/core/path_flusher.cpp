#include "core/path_flusher.hpp"

#include <thread>

namespace mpathfs {

PathFlusher::PathFlusher(std::shared_ptr<PathIo> io) : st_(std::make_shared<State>()) { st_->io = std::move(io); }

PathFlusher::~PathFlusher() {
  std::lock_guard lk(st_->mu);
  st_->stop = true;
  st_->wake.notify_all();
  // The thread is detached: it leaves at once when idle, or after its
  // (possibly hung) fdatasync returns; it owns a share of the state.
}

void PathFlusher::run(std::shared_ptr<State> st) noexcept {
  std::unique_lock lk(st->mu);
  for (;;) {
    st->wake.wait(lk, [&]() REQUIRES(st->mu) { return st->stop || st->requested > st->done; });
    if (st->stop) return;
    // Every ticket handed out so far was asked before this call starts.
    const uint64_t target = st->requested;
    st->running = true;
    lk.unlock();
    const int rc = st->io->fdatasync();
    lk.lock();
    st->running = false;
    st->done = target;
    st->rc = rc;
    st->done_cv.notify_all();
  }
}

std::optional<uint64_t> PathFlusher::request() noexcept {
  std::lock_guard lk(st_->mu);
  if (!st_->started) {
    try {
      std::thread(run, st_).detach();
    } catch (...) {
      return std::nullopt;
    }
    st_->started = true;
  }
  const uint64_t ticket = ++st_->requested;
  st_->wake.notify_one();
  return ticket;
}

std::optional<int> PathFlusher::wait(uint64_t ticket, uint64_t deadline_ns, Clock& clock) noexcept {
  std::unique_lock lk(st_->mu);
  if (!clock.wait_until(st_->done_cv, lk, deadline_ns, [&]() REQUIRES(st_->mu) { return st_->done >= ticket; })) return std::nullopt;
  return st_->rc;
}

bool PathFlusher::busy() const noexcept {
  std::lock_guard lk(st_->mu);
  return st_->running;
}

}  // namespace mpathfs
