// The asynchronous request path (Volume::submit, AsyncPool): answered from
// the path's thread on success; a failure carried on as the synchronous
// path would (failover, request errors returned); io_timeout applies; what
// only the synchronous path serves is declined.
#include <catch2/catch.hpp>

#include <future>
#include <thread>

#include "core/async_request.hpp"
#include "unit/failover_helpers.hpp"
#include "unit/fake_clock.hpp"
#include "unit/fake_path_io.hpp"
#include "unit/watchdog_rig.hpp"

using namespace mpathfs;
using namespace mpathfs::test;
using namespace std::chrono_literals;

namespace {

FakeOptions async_paths() {
  FakeOptions o;
  o.async = true;
  return o;
}
VolumeSettings timed(double io_timeout) {
  auto s = FakeVolume::default_settings();
  s.io_timeout = io_timeout;
  return s;
}

struct Rig {
  explicit Rig(size_t npaths, FakeOptions o = async_paths())
      : fv(npaths, o, timed(0.2), 1 << 20, io_clock()), pool(4, 64 * 1024, &watchdog()) {}
  ~Rig() { CHECK(pool.wait_idle(10) == 0); }

  // Submits; nullptr when the volume declined (the request is back in the pool).
  ReplyBox* submit(IoKind kind, uint64_t off, size_t len, const std::byte* payload = nullptr) {
    AsyncRequest* a = pool.acquire();
    REQUIRE(a);
    ReplyBox& ans = new_box();
    a->kind = kind;
    a->off = off;
    a->len = len;
    a->reply = ans.reply;
    if (fv.vol->submit(*a, payload)) return &ans;
    a->release();
    return nullptr;
  }
  static std::pair<ssize_t, std::vector<std::byte>> wait(ReplyBox* a) {
    REQUIRE(a);
    REQUIRE(a->future.wait_for(10s) == std::future_status::ready);
    return a->future.get();
  }

  FakeVolume fv;
  AsyncPool pool;
};

}  // namespace

TEST_CASE("async: reads and writes are answered from the path's thread, and the request goes back to the pool",
          "[async]") {
  Rig r(2);
  const auto data = pattern(4096, 5);
  auto [wn, wgot] = Rig::wait(r.submit(IoKind::kWrite, 8192, data.size(), data.data()));
  CHECK(wn == 4096);
  CHECK(r.fv.disk->get(8192, 4096) == data);
  auto [rn, rgot] = Rig::wait(r.submit(IoKind::kRead, 8192, 4096));
  CHECK(rn == 4096);
  CHECK(rgot == data);
  CHECK(r.fv.io(0).submits == 2);   // active-passive: both on p0
  CHECK(r.fv.io(0).finishes == 2);
  CHECK(r.pool.wait_idle(10) == 0);
  const auto st = r.fv.vol->status();
  CHECK(st.paths[0].reads == 1);
  CHECK(st.paths[0].writes == 1);
  CHECK(st.paths[0].inflight == 0);
}

TEST_CASE("async: a path error fails the path and the request is answered from the next path", "[async]") {
  Rig r(2);
  r.fv.io(0).write_errno = EIO;
  const auto data = pattern(4096, 6);
  auto [n, got] = Rig::wait(r.submit(IoKind::kWrite, 0, data.size(), data.data()));
  CHECK(n == 4096);
  CHECK(r.fv.disk->get(0, 4096) == data);
  CHECK(r.fv.state_of(0) == PathState::kFail);
  CHECK(r.fv.active() == "p1");
  CHECK(r.fv.io(0).finishes == 1);  // the failed op was finished before the retry
  CHECK(r.fv.io(1).writes == 1);
}

TEST_CASE("async: an error about the request itself is returned and the path stays", "[async]") {
  Rig r(2);
  r.fv.io(0).read_errno = EINVAL;
  const uint64_t p1_reads = r.fv.io(1).reads;  // add_path's probe
  auto [n, got] = Rig::wait(r.submit(IoKind::kRead, 0, 4096));
  CHECK(n == -EINVAL);
  CHECK(r.fv.state_of(0) == PathState::kActive);
  CHECK(r.fv.io(1).reads == p1_reads);
}

TEST_CASE("async: a request a hung path does not answer is taken over at io_timeout, and the late answer is dropped",
          "[async][io_timeout]") {
  Rig r(2);
  const auto data = pattern(4096, 7);
  REQUIRE(r.fv.write(0, data) == 4096);
  r.fv.io(0).set_hang();
  ReplyBox* a = r.submit(IoKind::kRead, 0, 4096);
  REQUIRE(r.fv.io(0).wait_hung(1));
  watchdog().scan(io_clock().now_ns());  // before io_timeout: nothing
  CHECK(r.fv.state_of(0) == PathState::kActive);
  CHECK(r.pool.busy() == 1);
  io_clock().advance(250'000'000);
  watchdog().scan(io_clock().now_ns());
  auto [n, got] = Rig::wait(a);
  CHECK(n == 4096);
  CHECK(got == data);
  CHECK(r.fv.state_of(0) == PathState::kFail);
  CHECK(r.pool.busy() == 1);  // still on the hung path
  r.fv.io(0).release();
  CHECK(r.pool.wait_idle(10) == 0);
  CHECK(a->calls == 1);
  CHECK(r.fv.vol->abandoned() == 0);
}

TEST_CASE("async: what only the synchronous path serves is declined", "[async]") {
  SECTION("a path that cannot submit") {
    Rig r(1, FakeOptions{});
    CHECK_FALSE(r.fv.vol->may_submit());
    CHECK(r.submit(IoKind::kRead, 0, 4096) == nullptr);
  }
  SECTION("larger than the pool's requests, or past the end") {
    Rig r(1);
    CHECK(r.fv.vol->may_submit());
    CHECK(r.submit(IoKind::kRead, 0, 128 * 1024) == nullptr);
    CHECK(r.submit(IoKind::kRead, r.fv.vol->size() - 512, 4096) == nullptr);
    CHECK(r.submit(IoKind::kRead, r.fv.vol->size(), 512) == nullptr);
  }
  SECTION("a write where a read-modify-write is possible (an O_DIRECT path in the volume)") {
    Rig r(1);
    FakeOptions direct;
    direct.direct = true;
    direct.align = 4096;
    r.fv.opts = direct;
    REQUIRE(r.fv.add("p1"));
    const auto data = pattern(4096, 8);
    CHECK(r.submit(IoKind::kWrite, 0, data.size(), data.data()) == nullptr);
    CHECK(Rig::wait(r.submit(IoKind::kRead, 0, 4096)).first == 4096);  // reads still go
  }
  SECTION("every request of the pool in flight") {
    Rig r(1);
    r.fv.io(0).set_hang();
    std::vector<ReplyBox*> taken;
    for (int i = 0; i < 4; ++i) taken.push_back(r.submit(IoKind::kRead, 0, 512));
    CHECK(r.pool.acquire() == nullptr);
    r.fv.io(0).release();
    for (ReplyBox* a : taken) CHECK(Rig::wait(a).first == 512);
  }
}
