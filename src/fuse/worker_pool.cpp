#include "fuse/worker_pool.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <memory>
#include <thread>

namespace mpathfs::fuse {
namespace {
thread_local std::unique_ptr<IoContext> tl_ctx;
// 1 MiB: libfuse 3.14's receive buffer caps a request at 256 pages.
constexpr size_t kDefaultMaxIo = 1 << 20;
}  // namespace

IoContext& worker_context() {
  if (!tl_ctx) tl_ctx = std::make_unique<IoContext>(kDefaultMaxIo);
  return *tl_ctx;
}

WorkerPool::WorkerPool(fuse_session* se, int workers, size_t max_io, Watchdog* watchdog, int max_extra)
    : se_(se), target_(workers < 1 ? 1 : workers), max_io_(max_io), watchdog_(watchdog), max_extra_(max_extra) {}

WorkerPool::~WorkerPool() = default;

void WorkerPool::start() {
  for (int i = 0; i < target_; ++i) spawn();
}

void WorkerPool::spawn() noexcept {
  {
    std::lock_guard lk(mu_);
    if (live_ >= target_ + max_extra_) return;
    ++live_;
  }
  runnable_.fetch_add(1, std::memory_order_relaxed);
  try {
    std::thread([this] { worker_main(); }).detach();
  } catch (...) {
    runnable_.fetch_sub(1, std::memory_order_relaxed);
    std::lock_guard lk(mu_);
    --live_;
    cv_.notify_all();
    spdlog::error("cannot start an I/O worker thread");
  }
}

void WorkerPool::blocking_begin() noexcept {
  blocked_.fetch_add(1, std::memory_order_acq_rel);
  // This worker will block: keep `target_` workers serving requests.
  if (runnable_.fetch_sub(1, std::memory_order_acq_rel) - 1 < target_ && !fuse_session_exited(se_)) spawn();
  std::lock_guard lk(mu_);
  cv_.notify_all();
}

void WorkerPool::blocking_end() noexcept {
  runnable_.fetch_add(1, std::memory_order_acq_rel);
  blocked_.fetch_sub(1, std::memory_order_acq_rel);
  std::lock_guard lk(mu_);
  cv_.notify_all();
}

int WorkerPool::blocked() const { return blocked_.load(std::memory_order_acquire); }

void WorkerPool::worker_main() noexcept {
  try {
    tl_ctx = std::make_unique<IoContext>(max_io_, this, watchdog_);
  } catch (...) {
    spdlog::error("cannot allocate an I/O buffer for a worker");
  }
  fuse_buf buf{};
  while (!fuse_session_exited(se_)) {
    // A surplus worker (its blocked colleague came back) retires.
    int r = runnable_.load(std::memory_order_relaxed);
    if (r > target_ && runnable_.compare_exchange_strong(r, r - 1)) goto retired;
    {
      int res = fuse_session_receive_buf(se_, &buf);
      if (res == -EINTR) continue;
      if (res <= 0) {
        if (res < 0) fuse_session_exit(se_);
        break;
      }
      fuse_session_process_buf(se_, &buf);
    }
  }
  runnable_.fetch_sub(1, std::memory_order_relaxed);
retired:
  std::free(buf.mem);
  tl_ctx.reset();
  std::lock_guard lk(mu_);
  --live_;
  cv_.notify_all();
}

void WorkerPool::wait() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [this] { return live_ <= blocked_.load(); });
}

bool WorkerPool::done() const {
  std::lock_guard lk(mu_);
  return live_ <= blocked_.load();
}

}  // namespace mpathfs::fuse
