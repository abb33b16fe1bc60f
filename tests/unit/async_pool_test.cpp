// AsyncPool's carrier thread: where failures are carried on when no thread
// of their own can be started (carry_on's fallback, reached directly here).
#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <future>
#include <set>
#include <thread>
#include <vector>

#include "core/async_request.hpp"
#include "unit/watchdog_rig.hpp"

using namespace mpathfs;
using namespace mpathfs::test;
using namespace std::chrono_literals;

namespace {

ssize_t thread_tag() {
  return static_cast<ssize_t>(std::hash<std::thread::id>{}(std::this_thread::get_id()) >> 2);
}

// What a carried failure does at the end: gives the request back, then
// answers (here: with the tag of the thread it ran on).
void answer_with_thread(AsyncRequest& r) noexcept {
  const IoReply rep = r.reply;
  r.release();
  rep.done(rep.ctx, nullptr, thread_tag());
}

// Says it started (the promise at op.owner), blocks until the future at
// op.backend is ready, then answers.
void block_then_answer(AsyncRequest& r) noexcept {
  static_cast<std::promise<void>*>(r.op.owner)->set_value();
  static_cast<std::shared_future<void>*>(r.op.backend)->wait();
  answer_with_thread(r);
}

}  // namespace

TEST_CASE("async pool: with no thread to spare, failures run one after another on the carrier thread",
          "[async][carrier]") {
  AsyncPool pool(9, 4096, nullptr);
  std::promise<void> unblock;
  std::shared_future<void> unblocked = unblock.get_future().share();

  // The first one blocks (a held write, no_path_retry): those behind it wait.
  AsyncRequest* first = pool.acquire();
  REQUIRE(first);
  ReplyBox& first_box = new_box();
  first->reply = first_box.reply;
  first->op.backend = &unblocked;
  std::promise<void> started;
  first->op.owner = &started;
  pool.carry_on_carrier(*first, &block_then_answer);
  REQUIRE(started.get_future().wait_for(10s) == std::future_status::ready);

  // Eight more, pushed from four threads at once.
  std::vector<ReplyBox*> boxes;
  std::vector<AsyncRequest*> reqs;
  for (int i = 0; i < 8; ++i) {
    AsyncRequest* r = pool.acquire();
    REQUIRE(r);
    boxes.push_back(&new_box());
    r->reply = boxes.back()->reply;
    reqs.push_back(r);
  }
  CHECK(pool.acquire() == nullptr);  // all nine in use
  std::set<ssize_t> pushers;
  {
    std::vector<std::future<ssize_t>> push;
    for (int t = 0; t < 4; ++t)
      push.push_back(std::async(std::launch::async, [&, t] {
        pool.carry_on_carrier(*reqs[2 * t], &answer_with_thread);
        pool.carry_on_carrier(*reqs[2 * t + 1], &answer_with_thread);
        return thread_tag();
      }));
    for (auto& p : push) pushers.insert(p.get());
  }
  pushers.insert(thread_tag());

  CHECK(first_box.future.wait_for(100ms) == std::future_status::timeout);
  for (auto* b : boxes) CHECK(b->future.wait_for(0s) == std::future_status::timeout);
  unblock.set_value();

  REQUIRE(first_box.future.wait_for(10s) == std::future_status::ready);
  const ssize_t carrier = first_box.future.get().first;
  CHECK(pushers.count(carrier) == 0);  // not on a caller's thread
  for (auto* b : boxes) {
    REQUIRE(b->future.wait_for(10s) == std::future_status::ready);
    CHECK(b->future.get().first == carrier);  // one thread, each exactly once
    CHECK(b->calls.load() == 1);
  }
  CHECK(pool.wait_idle(10) == 0);  // every request back in the pool
}

TEST_CASE("async pool: failures queued for the carrier when the pool stops are still carried on",
          "[async][carrier]") {
  std::vector<ReplyBox*> boxes;
  {
    AsyncPool pool(4, 4096, nullptr);
    for (int i = 0; i < 4; ++i) {
      AsyncRequest* r = pool.acquire();
      REQUIRE(r);
      boxes.push_back(&new_box());
      r->reply = boxes.back()->reply;
      pool.carry_on_carrier(*r, &answer_with_thread);
    }
  }  // the destructor stops the carrier: what it had queued runs first
  for (auto* b : boxes) {
    REQUIRE(b->future.wait_for(0s) == std::future_status::ready);
    CHECK(b->calls.load() == 1);
  }
}
