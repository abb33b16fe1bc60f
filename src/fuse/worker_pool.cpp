#include "fuse/worker_pool.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <thread>
#include <unistd.h>

#include "fuse/receive_buffer.hpp"

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
  // The worker gives up its serving slot while it blocks.
  serving_.fetch_sub(1);
  blocked_.fetch_add(1, std::memory_order_acq_rel);
  // This worker will block: keep `target_` workers serving requests.
  if (runnable_.fetch_sub(1, std::memory_order_acq_rel) - 1 < target_ && !fuse_session_exited(se_)) spawn();
  wake();
  std::lock_guard lk(mu_);
  cv_.notify_all();
}

void WorkerPool::blocking_end() noexcept {
  // Back with its request: it serves it, and gives the slot back after it
  // if that makes too many (see worker_main).
  serving_.fetch_add(1);
  runnable_.fetch_add(1, std::memory_order_acq_rel);
  blocked_.fetch_sub(1, std::memory_order_acq_rel);
  std::lock_guard lk(mu_);
  cv_.notify_all();
}

void WorkerPool::busy_begin() noexcept {
  busy_.fetch_add(1);
  wake();
}

void WorkerPool::busy_end() noexcept { busy_.fetch_sub(1); }

int WorkerPool::allowed() const noexcept {
  const int b = busy_.load();
  return std::min(target_, 1 + std::max(0, b));
}

void WorkerPool::wake() noexcept {
  // Bump the word before looking for sleepers: a worker about to park
  // either sees the new value or is counted in parked_ (seq_cst both sides).
  wakeups_.fetch_add(1);
  if (parked_.load() > 0) wakeups_.notify_one();
}

void WorkerPool::stop_all() noexcept {
  stopping_.store(true);
  wakeups_.fetch_add(1);
  wakeups_.notify_all();
}

bool WorkerPool::claim() noexcept {
  for (;;) {
    const uint32_t seen = wakeups_.load();
    if (stopping_.load() || fuse_session_exited(se_)) return false;
    int s = serving_.load();
    while (s < allowed())
      if (serving_.compare_exchange_weak(s, s + 1)) return true;
    parked_.fetch_add(1);
    wakeups_.wait(seen);
    parked_.fetch_sub(1);
  }
}

int WorkerPool::blocked() const { return blocked_.load(std::memory_order_acquire); }

void WorkerPool::worker_main() noexcept {
  try {
    tl_ctx = std::make_unique<IoContext>(max_io_, this, watchdog_);
  } catch (...) {
    // A worker without its context would be invisible to the pool (it
    // could not give up its slot when it blocks): it leaves instead.
    spdlog::error("cannot allocate an I/O buffer for a worker; it does not start");
    runnable_.fetch_sub(1);
    {
      std::lock_guard lk(mu_);
      --live_;
      cv_.notify_all();
    }
    wake();
    return;
  }
  // libfuse reads at most 256 pages of payload plus one page of headers.
  std::unique_ptr<ReceiveBuffer> rb;
  try {
    rb = std::make_unique<ReceiveBuffer>(256 * static_cast<size_t>(sysconf(_SC_PAGESIZE)) + 4096);
  } catch (...) {
    spdlog::warn("cannot allocate an aligned receive buffer; writes to O_DIRECT paths will be copied");
  }
  fuse_buf buf{};
  bool serving = false;
  bool retired = false;
  uint32_t last_activity = wakeups_.load();
  while (!fuse_session_exited(se_)) {
    // A surplus worker (its blocked colleague came back) retires.
    int r = runnable_.load(std::memory_order_relaxed);
    if (r > target_ && runnable_.compare_exchange_strong(r, r - 1)) {
      retired = true;
      break;
    }
    // More serve than are needed now (a long request ended, a blocked
    // worker came back): this one parks — unless a long request began
    // while it served its last one.  Under a stream of large transfers
    // the count dips between requests; parking then would cost a futex
    // wake per request.
    if (serving && serving_.load(std::memory_order_relaxed) > allowed()) {
      const uint32_t activity = wakeups_.load(std::memory_order_relaxed);
      if (activity == last_activity) {
        serving_.fetch_sub(1);
        serving = false;
      }
      last_activity = activity;
    }
    if (!serving) {
      if (!claim()) break;
      serving = true;
    }
    if (rb) {
      buf.mem = rb->mem();
      buf.size = rb->capacity();
      buf.flags = static_cast<fuse_buf_flags>(0);
    }
    int res = fuse_session_receive_buf(se_, &buf);
    if (res == -EINTR) continue;
    if (res <= 0) {
      if (res < 0) fuse_session_exit(se_);
      break;
    }
    fuse_session_process_buf(se_, &buf);
  }
  if (serving) {
    // Whoever parked because this worker served must not wait for it.
    serving_.fetch_sub(1);
    wake();
  }
  if (!retired) {
    runnable_.fetch_sub(1, std::memory_order_relaxed);
    stop_all();  // the session ended: parked workers leave too
  }
  if (!rb) std::free(buf.mem);  // libfuse's own malloc
  tl_ctx.reset();
  std::lock_guard lk(mu_);
  --live_;
  cv_.notify_all();
}

void WorkerPool::wait() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [this]() REQUIRES(mu_) { return live_ <= blocked_.load(); });
}

bool WorkerPool::done() const {
  std::lock_guard lk(mu_);
  return live_ <= blocked_.load();
}

}  // namespace mpathfs::fuse
