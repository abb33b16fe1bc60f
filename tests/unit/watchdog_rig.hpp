// What the io_timeout and asynchronous-request tests share: one fake clock
// and one watchdog on it for the whole run, and a box that collects the one
// answer of a request answered from another thread.
//
// Never destroyed: rescue threads detach their contexts from the watchdog
// after they have answered, and a thread may still be returning from
// set_value() when the test has its answer.  The watchdog's loop does not
// run: a test moves the clock past io_timeout and scans, so a takeover
// happens exactly then.
#pragma once

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "core/inflight.hpp"
#include "core/watchdog.hpp"
#include "unit/fake_clock.hpp"

namespace mpathfs::test {

inline FakeClock& io_clock() {
  static auto* clock = new FakeClock;
  return *clock;
}
inline Watchdog& watchdog() {
  static auto* wd = new Watchdog(1 << 20, 20, io_clock());
  return *wd;
}

// Collects the one answer of a request (the first, counting any other).
struct ReplyBox {
  std::promise<std::pair<ssize_t, std::vector<std::byte>>> promise;
  std::future<std::pair<ssize_t, std::vector<std::byte>>> future = promise.get_future();
  std::atomic<int> calls{0};
  IoReply reply{this, &ReplyBox::done};
  static void done(void* c, const std::byte* data, ssize_t n) {
    auto* self = static_cast<ReplyBox*>(c);
    if (self->calls.fetch_add(1) == 0)
      self->promise.set_value({n, n > 0 && data ? std::vector<std::byte>(data, data + n) : std::vector<std::byte>{}});
  }
};

// Boxes live until the end of the run.
inline ReplyBox& new_box() {
  static std::mutex mu;
  static std::vector<std::unique_ptr<ReplyBox>> boxes;
  std::lock_guard lk(mu);
  return *boxes.emplace_back(std::make_unique<ReplyBox>());
}

}  // namespace mpathfs::test
