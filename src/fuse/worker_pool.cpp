#include "fuse/worker_pool.hpp"

#include <spdlog/spdlog.h>

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
    : se_(se), max_io_(max_io), watchdog_(watchdog), sched_(*this, workers, max_extra) {}

WorkerPool::~WorkerPool() = default;

bool WorkerPool::ended() const noexcept { return fuse_session_exited(se_); }

void WorkerPool::start() {
  for (int i = 0; i < sched_.target(); ++i) spawn();
}

void WorkerPool::spawn() noexcept {
  if (!sched_.admit()) return;
  try {
    std::thread([this] { worker_main(); }).detach();
  } catch (...) {
    sched_.not_started();
    spdlog::error("cannot start an I/O worker thread");
  }
}

int WorkerPool::blocked() const { return sched_.blocked(); }

void WorkerPool::worker_main() noexcept {
  try {
    tl_ctx = std::make_unique<IoContext>(max_io_, &sched_, watchdog_);
  } catch (...) {
    // A worker without its context would be invisible to the pool (it
    // could not give up its slot when it blocks): it leaves instead.
    spdlog::error("cannot allocate an I/O buffer for a worker; it does not start");
    sched_.not_started();
    sched_.wake();
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
  uint32_t last_activity = sched_.activity();
  while (!fuse_session_exited(se_)) {
    // A surplus worker (its blocked colleague came back) retires.
    if (sched_.retire_if_surplus()) {
      retired = true;
      break;
    }
    // More serve than are needed now (a long request ended, a blocked
    // worker came back): this one parks (see unserve_if_surplus).
    if (serving && sched_.unserve_if_surplus(last_activity)) serving = false;
    if (!serving) {
      if (!sched_.claim()) break;
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
  sched_.leave(serving, retired);
  if (!rb) std::free(buf.mem);  // libfuse's own malloc
  tl_ctx.reset();
  sched_.exited();
}

void WorkerPool::wait() { sched_.wait_all_left(); }

bool WorkerPool::done() const { return sched_.done(); }

}  // namespace mpathfs::fuse
