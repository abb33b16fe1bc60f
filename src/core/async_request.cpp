#include "core/async_request.hpp"

#include <chrono>
#include <thread>

#include "core/watchdog.hpp"

namespace mpathfs {

AsyncRequest::AsyncRequest(AsyncPool& pool, size_t capacity) : pool_(pool), buf_(capacity, kMaxAlign) {}

Watchdog* AsyncRequest::watchdog() const { return pool_.watchdog(); }

void AsyncRequest::release() noexcept { pool_.release(*this); }

AsyncPool::AsyncPool(size_t count, size_t max_bytes, Watchdog* watchdog)
    : max_bytes_(max_bytes), watchdog_(watchdog) {
  // Virtual memory only until used: the kernel gives pages on first touch.
  reqs_.reserve(count);
  for (size_t i = 0; i < count; ++i) reqs_.push_back(std::make_unique<AsyncRequest>(*this, max_bytes));
  carrier_ = std::thread([this] { carrier_main(); });  // first: if it throws, nothing is attached yet
  if (watchdog_)
    for (auto& r : reqs_) watchdog_->attach(&r->inflight);
}

AsyncPool::~AsyncPool() {
  stop_.store(true, std::memory_order_release);
  carrier_wake_.fetch_add(1, std::memory_order_release);
  carrier_wake_.notify_one();
  if (carrier_.joinable()) carrier_.join();
  if (watchdog_)
    for (auto& r : reqs_) watchdog_->detach(&r->inflight);
}

AsyncRequest* AsyncPool::acquire() noexcept {
  const size_t n = reqs_.size();
  // Start where the last taker did: the request just given back is likely
  // free again, and its buffer warm.
  const size_t start = hint_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < n; ++i) {
    AsyncRequest& r = *reqs_[(start + i) % n];
    uint8_t expect = kFree;
    if (r.state_.load(std::memory_order_relaxed) == kFree &&
        r.state_.compare_exchange_strong(expect, kTaken, std::memory_order_acquire)) {
      if (i) hint_.store((start + i) % n, std::memory_order_relaxed);  // no shared write when it stays
      // A path reference left by a request answered on the path's thread.
      r.keep.reset();
      return &r;
    }
  }
  return nullptr;
}

void AsyncPool::release(AsyncRequest& r) noexcept { r.state_.store(kFree, std::memory_order_release); }

void AsyncPool::trim() noexcept {
  for (auto& r : reqs_) {
    uint8_t expect = kFree;
    if (!r->state_.compare_exchange_strong(expect, kTaken, std::memory_order_acquire)) continue;
    r->keep.reset();  // ours while taken
    r->state_.store(kFree, std::memory_order_release);
  }
}

void AsyncPool::carry_on(AsyncRequest& r, void (*fn)(AsyncRequest&) noexcept) noexcept {
  try {
    std::thread([&r, fn] { fn(r); }).detach();
    return;
  } catch (...) {
  }
  carry_on_carrier(r, fn);
}

void AsyncPool::carry_on_carrier(AsyncRequest& r, void (*fn)(AsyncRequest&) noexcept) noexcept {
  r.carry_fn_ = fn;
  AsyncRequest* old = carried_.load(std::memory_order_relaxed);
  do {
    r.next_carried_ = old;
  } while (!carried_.compare_exchange_weak(old, &r, std::memory_order_release, std::memory_order_relaxed));
  carrier_wake_.fetch_add(1, std::memory_order_release);
  carrier_wake_.notify_one();
}

void AsyncPool::carrier_main() noexcept {
  auto run_queued = [this] {
    for (AsyncRequest* r = carried_.exchange(nullptr, std::memory_order_acquire); r;) {
      AsyncRequest* next = r->next_carried_;  // r is released by its fn
      r->carry_fn_(*r);
      r = next;
    }
  };
  for (;;) {
    const uint32_t seen = carrier_wake_.load(std::memory_order_acquire);
    run_queued();
    if (stop_.load(std::memory_order_acquire)) return run_queued();  // one pushed meanwhile
    carrier_wake_.wait(seen, std::memory_order_acquire);
  }
}

size_t AsyncPool::busy() const noexcept {
  size_t n = 0;
  for (auto& r : reqs_) n += r->state_.load(std::memory_order_acquire) != kFree;
  return n;
}

size_t AsyncPool::wait_idle(double seconds) const noexcept {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  size_t n;
  while ((n = busy()) > 0 && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return n;
}

}  // namespace mpathfs
