#include "core/checker.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "core/aligned_buffer.hpp"
#include "core/errno_class.hpp"

namespace mpathfs {

int probe_path(Path& p) noexcept {
  try {
    AlignedBuffer buf(kMaxAlign, kMaxAlign);
    PathIo& io = p.io();
    size_t len = std::max<size_t>(io.align(), 512);
    if (len > io.size()) len = static_cast<size_t>(io.size());
    ssize_t n = io.pread(buf.data(), len, 0);
    return n < 0 ? static_cast<int>(n) : 0;
  } catch (...) {
    return -ENOMEM;
  }
}

Checker::Checker(Registry& reg, double interval_s, Failback failback, std::function<void()> on_tree_change)
    : reg_(reg), interval_s_(interval_s), failback_(failback), on_tree_change_(std::move(on_tree_change)) {}

Checker::~Checker() { stop(); }

void Checker::start() { thread_ = std::thread([this] { loop(); }); }

void Checker::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Checker::loop() {
  std::unique_lock lk(mu_);
  while (!stop_) {
    cv_.wait_for(lk, std::chrono::duration<double>(interval_s_));
    if (stop_) break;
    lk.unlock();
    run_once();
    lk.lock();
  }
}

void Checker::run_once() {
  if (!reg_.reap_lost().empty() && on_tree_change_) on_tree_change_();
  for (auto& e : reg_.list()) {
    for (auto& p : e.volume->paths()) {
      if (!p->failed() || p->lost() || !p->begin_probe()) continue;
      p->set_checker(CheckerState::kPending);
      std::weak_ptr<Volume> wv = e.volume;
      Failback fb = failback_;
      try {
        std::thread([wv, p, fb] {
          int r = probe_path(*p);
          p->set_checker(r == 0 ? CheckerState::kUp : CheckerState::kDown);
          if (auto v = wv.lock()) {
            if (r == 0 && fb == Failback::kImmediate) v->checker_restore(*p);
            // A device that is gone (or a file whose FUSE server died) never
            // comes back: the volume is destroyed when all its paths are.
            if (r < 0 && is_gone_error(-r)) v->mark_lost(*p, -r);
          }
          p->end_probe();
        }).detach();
      } catch (...) {
        p->end_probe();
      }
    }
  }
}

}  // namespace mpathfs
