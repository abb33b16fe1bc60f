// Control operations of a Volume (src/core/volume.cpp): add, remove, fail,
// restore, prefer, rotate, mode; state words and status snapshots.
// SPEC "Words", "The mounted tree"; gmultipath-notes §5, §8.
#include <catch2/catch.hpp>

#include "unit/fake_path_io.hpp"

using namespace mpathfs;
using namespace mpathfs::test;

namespace {

std::vector<PathState> states(const Volume& v) {
  std::vector<PathState> out;
  for (auto& p : v.status().paths) out.push_back(p.state);
  return out;
}

constexpr auto A = PathState::kActive;
constexpr auto P = PathState::kPassive;
constexpr auto R = PathState::kRead;
constexpr auto F = PathState::kFail;

}  // namespace

// ---------------------------------------------------------------- add

TEST_CASE("add: the first path becomes ACTIVE, later ones PASSIVE, in join order", "[volume][add]") {
  FakeVolume fv(3);
  CHECK(states(*fv.vol) == std::vector{A, P, P});
  auto st = fv.vol->status();
  CHECK(st.paths[0].path == "p0");
  CHECK(st.paths[1].path == "p1");
  CHECK(st.paths[2].path == "p2");
  CHECK(fv.vol->has_path("p1"));
  CHECK_FALSE(fv.vol->has_path("p9"));
  CHECK(fv.vol->paths().size() == 3);
}

TEST_CASE("add: a path of another size is refused with EINVAL", "[volume][add]") {
  FakeVolume fv(1);
  FakeOptions o = fv.opts;
  o.size = fv.opts.size + 4096;
  auto disk = std::make_shared<FakeDisk>(o.size);
  auto s = fv.vol->add_path(make_fake_path("big", disk, o));
  REQUIRE_FALSE(s);
  CHECK(s.error().code == EINVAL);
  CHECK(s.error().msg.find("big") != std::string::npos);
  o.size = fv.opts.size - 512;
  s = fv.vol->add_path(make_fake_path("small", disk, o));
  REQUIRE_FALSE(s);
  CHECK(s.error().code == EINVAL);
  CHECK(fv.vol->paths().size() == 1);
}

TEST_CASE("add: a path of another sector size is refused with EINVAL", "[volume][add]") {
  FakeVolume fv(1);
  FakeOptions o = fv.opts;
  o.sector = 4096;
  auto s = fv.vol->add_path(make_fake_path("p4k", fv.disk, o));
  REQUIRE_FALSE(s);
  CHECK(s.error().code == EINVAL);
}

TEST_CASE("add: the same path name twice is refused with EEXIST", "[volume][add]") {
  FakeVolume fv(2);
  auto s = fv.add("p1");
  REQUIRE_FALSE(s);
  CHECK(s.error().code == EEXIST);
  CHECK(fv.vol->paths().size() == 2);
  CHECK(states(*fv.vol) == std::vector{A, P});
}

TEST_CASE("add: two names for one disk are two paths (multipath by design)", "[volume][add]") {
  // Paths are told apart by name: two mounts of one image, or two device
  // nodes of one LUN, are what a multipath volume is made of.
  FakeVolume fv(1);
  auto s = fv.vol->add_path(make_fake_path("/dev/alias-of-p0", fv.disk, fv.opts));
  CHECK(s);
  CHECK(fv.vol->paths().size() == 2);
  // The same name again is refused.
  auto again = fv.vol->add_path(make_fake_path("/dev/alias-of-p0", fv.disk, fv.opts));
  REQUIRE_FALSE(again);
  CHECK(again.error().code == EEXIST);
}

TEST_CASE("add: a path whose probe read fails joins as FAIL", "[volume][add]") {
  FakeVolume fv(1);
  FakePathIo* io = nullptr;
  auto p = make_fake_path("bad", fv.disk, fv.opts, &io);
  io->read_errno = EIO;
  REQUIRE(fv.vol->add_path(p));
  CHECK(fv.vol->paths().size() == 2);
  CHECK(states(*fv.vol) == std::vector{A, F});
  CHECK(fv.vol->state() == VolumeState::kDegraded);
  auto st = fv.vol->status();
  REQUIRE(st.paths[1].last_error);
  CHECK(*st.paths[1].last_error == "EIO");
  CHECK(st.paths[1].checker == "down");
  // It comes back with restore.
  io->read_errno = 0;
  REQUIRE(fv.vol->restore_path("bad"));
  CHECK(states(*fv.vol) == std::vector{A, P});
}

TEST_CASE("add: a good path added to a BROKEN volume becomes ACTIVE", "[volume][add]") {
  FakeVolume fv(1);
  FakePathIo* io = nullptr;
  fv.io(0).write_errno = EIO;
  REQUIRE(fv.write(0, 512, std::byte{1}) == -EIO);
  REQUIRE(fv.vol->state() == VolumeState::kBroken);
  REQUIRE(fv.vol->add_path(make_fake_path("p1", fv.disk, fv.opts, &io)));
  CHECK(fv.active() == "p1");
  CHECK(fv.write(0, 512, std::byte{1}) == 512);
}

TEST_CASE("add: at most kMaxPaths paths", "[volume][add]") {
  FakeVolume fv(kMaxPaths);
  auto s = fv.add("one-too-many");
  REQUIRE_FALSE(s);
  CHECK(s.error().code == EINVAL);
  CHECK(fv.vol->paths().size() == kMaxPaths);
}

// ---------------------------------------------------------------- remove

TEST_CASE("remove: unknown path ENOENT, last path EBUSY", "[volume][remove]") {
  FakeVolume fv(2);
  auto s = fv.vol->remove_path("nope");
  REQUIRE_FALSE(s);
  CHECK(s.error().code == ENOENT);
  REQUIRE(fv.vol->remove_path("p1"));
  CHECK(fv.vol->paths().size() == 1);
  s = fv.vol->remove_path("p0");
  REQUIRE_FALSE(s);
  CHECK(s.error().code == EBUSY);
  CHECK(fv.vol->paths().size() == 1);
  CHECK(fv.active() == "p0");
}

TEST_CASE("remove: removing the ACTIVE path makes the next working path ACTIVE", "[volume][remove]") {
  FakeVolume fv(3);
  REQUIRE(fv.vol->remove_path("p0"));
  CHECK(fv.active() == "p1");
  REQUIRE(fv.vol->prefer("p2"));
  REQUIRE(fv.add("p3"));
  REQUIRE(fv.vol->fail_path("p3"));
  // Order is p1 p2 p3(FAIL): after p2 comes p3 (FAIL), then p1.
  REQUIRE(fv.vol->remove_path("p2"));
  CHECK(fv.active() == "p1");
  auto st = fv.vol->status();
  REQUIRE(st.paths.size() == 2);
  CHECK(st.paths[0].path == "p1");
  CHECK(st.paths[1].path == "p3");
  // I/O goes to the new active path.
  CHECK(fv.write(0, 512, std::byte{1}) == 512);
  CHECK(fv.path(1).counters().writes == 1);
}

TEST_CASE("remove: removing a PASSIVE path keeps the ACTIVE one", "[volume][remove]") {
  FakeVolume fv(3);
  REQUIRE(fv.vol->remove_path("p1"));
  CHECK(fv.active() == "p0");
  CHECK(states(*fv.vol) == std::vector{A, P});
}

TEST_CASE("remove: removing the only working path restores the others (fault logic)", "[volume][remove]") {
  FakeVolume fv(3);
  REQUIRE(fv.vol->fail_path("p1"));
  REQUIRE(fv.vol->fail_path("p2"));
  REQUIRE(fv.vol->remove_path("p0"));
  CHECK(fv.vol->state() != VolumeState::kBroken);
  CHECK(fv.active() != "none");
}

TEST_CASE("remove: /dev/ prefix may be left out (gmultipath provider names)", "[volume][remove]") {
  FakeVolume fv(1);
  REQUIRE(fv.add("/dev/sdx"));
  CHECK(fv.vol->has_path("sdx"));
  CHECK(fv.vol->find_path("sdx") == fv.paths[1]);
  REQUIRE(fv.vol->remove_path("sdx"));
  CHECK(fv.vol->paths().size() == 1);
}

// ---------------------------------------------------------------- fail / restore

TEST_CASE("fail and restore are idempotent", "[volume][fail]") {
  FakeVolume fv(2);
  REQUIRE(fv.vol->fail_path("p1"));
  REQUIRE(fv.vol->fail_path("p1"));
  CHECK(states(*fv.vol) == std::vector{A, F});
  REQUIRE(fv.vol->restore_path("p1"));
  REQUIRE(fv.vol->restore_path("p1"));
  CHECK(states(*fv.vol) == std::vector{A, P});
  REQUIRE(fv.vol->restore_path("p0"));  // restoring a good path: no-op
  CHECK(states(*fv.vol) == std::vector{A, P});
}

TEST_CASE("fail/restore of an unknown path: ENOENT", "[volume][fail]") {
  FakeVolume fv(2);
  auto s = fv.vol->fail_path("zz");
  REQUIRE_FALSE(s);
  CHECK(s.error().code == ENOENT);
  s = fv.vol->restore_path("zz");
  REQUIRE_FALSE(s);
  CHECK(s.error().code == ENOENT);
}

TEST_CASE("failing the ACTIVE path moves it to the next in join order", "[volume][fail]") {
  FakeVolume fv(3);
  REQUIRE(fv.vol->fail_path("p0"));
  CHECK(states(*fv.vol) == std::vector{F, A, P});
  REQUIRE(fv.vol->prefer("p2"));
  REQUIRE(fv.vol->fail_path("p2"));
  CHECK(states(*fv.vol) == std::vector{F, A, F});  // wraps past p0 (FAIL) to p1
}

TEST_CASE("restore does not move the ACTIVE path", "[volume][restore]") {
  FakeVolume fv(3);
  REQUIRE(fv.vol->fail_path("p0"));
  REQUIRE(fv.active() == "p1");
  REQUIRE(fv.vol->restore_path("p0"));
  CHECK(fv.active() == "p1");
  CHECK(states(*fv.vol) == std::vector{P, A, P});
}

TEST_CASE("fail of the last good path restores the others (gmultipath fault logic)", "[volume][fail][gmultipath]") {
  LogCapture log;
  FakeVolume fv(3);
  REQUIRE(fv.vol->fail_path("p0"));
  REQUIRE(fv.vol->fail_path("p1"));
  REQUIRE(fv.vol->fail_path("p2"));
  CHECK(states(*fv.vol) == std::vector{A, P, F});
  CHECK(fv.vol->state() == VolumeState::kDegraded);
  CHECK(log.count("all paths were marked FAIL") == 2);
}

TEST_CASE("fail of a single-path volume's path gives that path back", "[volume][fail][gmultipath]") {
  FakeVolume fv(1);
  REQUIRE(fv.vol->fail_path("p0"));
  CHECK(states(*fv.vol) == std::vector{A});
  CHECK(fv.vol->state() == VolumeState::kDegraded);
}

TEST_CASE("a path failed by hand is not restored by the checker", "[volume][fail][checker]") {
  FakeVolume fv(2);
  REQUIRE(fv.vol->fail_path("p1"));
  fv.vol->checker_restore(fv.path(1));
  CHECK(fv.state_of(1) == PathState::kFail);
  REQUIRE(fv.vol->restore_path("p1"));
  CHECK(fv.state_of(1) == PathState::kPassive);
}

TEST_CASE("a path failed by I/O is restored by the checker", "[volume][checker]") {
  FakeVolume fv(2);
  fv.io(0).fail_next = 1;
  REQUIRE(fv.write(0, 512, std::byte{1}) == 512);
  REQUIRE(fv.state_of(0) == PathState::kFail);
  fv.vol->checker_restore(fv.path(0));
  CHECK(fv.state_of(0) == PathState::kPassive);
  CHECK(fv.active() == "p1");  // failback restores, it does not move ACTIVE
}

TEST_CASE("`fail` by hand of a path already failed by I/O keeps it failed against the checker",
          "[volume][fail][checker]") {
  // path.hpp: a path failed by the admin is never restored by the checker.
  // fail_path() returns early for an already-FAIL path without recording
  // the admin's intent, so failback=immediate undoes the admin's `fail`.
  FakeVolume fv(2);
  fv.io(0).fail_next = 1;
  REQUIRE(fv.write(0, 512, std::byte{1}) == 512);
  REQUIRE(fv.state_of(0) == PathState::kFail);
  REQUIRE(fv.vol->fail_path("p0"));
  fv.vol->checker_restore(fv.path(0));
  CHECK(fv.state_of(0) == PathState::kFail);
}

// ---------------------------------------------------------------- prefer / rotate

TEST_CASE("prefer makes a path ACTIVE, FAIL path EINVAL, unknown ENOENT", "[volume][prefer]") {
  FakeVolume fv(3);
  REQUIRE(fv.vol->prefer("p2"));
  CHECK(states(*fv.vol) == std::vector{P, P, A});
  REQUIRE(fv.vol->prefer("p2"));  // already: fine
  CHECK(fv.active() == "p2");
  REQUIRE(fv.vol->fail_path("p1"));
  auto s = fv.vol->prefer("p1");
  REQUIRE_FALSE(s);
  CHECK(s.error().code == EINVAL);
  s = fv.vol->prefer("nope");
  REQUIRE_FALSE(s);
  CHECK(s.error().code == ENOENT);
  CHECK(fv.active() == "p2");
  CHECK(fv.write(0, 512, std::byte{1}) == 512);
  CHECK(fv.path(2).counters().writes == 1);
}

TEST_CASE("rotate: the next working path in join order becomes ACTIVE, wrapping", "[volume][rotate]") {
  FakeVolume fv(3);
  REQUIRE(fv.vol->rotate());
  CHECK(fv.active() == "p1");
  REQUIRE(fv.vol->rotate());
  CHECK(fv.active() == "p2");
  REQUIRE(fv.vol->rotate());
  CHECK(fv.active() == "p0");
  // FAIL paths are skipped.
  REQUIRE(fv.vol->fail_path("p1"));
  REQUIRE(fv.vol->rotate());
  CHECK(fv.active() == "p2");
  REQUIRE(fv.vol->rotate());
  CHECK(fv.active() == "p0");
}

TEST_CASE("rotate with no working alternative: unchanged, success", "[volume][rotate]") {
  FakeVolume one(1);
  REQUIRE(one.vol->rotate());
  CHECK(one.active() == "p0");
  FakeVolume fv(3);
  REQUIRE(fv.vol->fail_path("p1"));
  REQUIRE(fv.vol->fail_path("p2"));
  REQUIRE(fv.vol->rotate());
  CHECK(fv.active() == "p0");
}

// ---------------------------------------------------------------- mode and state words

TEST_CASE("set_mode changes the path state words", "[volume][mode]") {
  FakeVolume fv(3);
  REQUIRE(fv.vol->fail_path("p2"));
  CHECK(states(*fv.vol) == std::vector{A, P, F});
  CHECK(fv.active() == "p0");
  fv.vol->set_mode(Mode::kActiveActive);
  CHECK(fv.vol->mode() == Mode::kActiveActive);
  CHECK(states(*fv.vol) == std::vector{A, A, F});
  CHECK(fv.active() == "p0 p1");  // getactive: every good path
  fv.vol->set_mode(Mode::kActiveRead);
  CHECK(states(*fv.vol) == std::vector{A, R, F});
  CHECK(fv.active() == "p0");
  fv.vol->set_mode(Mode::kActivePassive);
  CHECK(states(*fv.vol) == std::vector{A, P, F});
  CHECK(fv.vol->status().mode == Mode::kActivePassive);
}

TEST_CASE("volume state: OPTIMAL, DEGRADED (incl. a single path), BROKEN", "[volume][state]") {
  FakeVolume two(2);
  CHECK(two.vol->state() == VolumeState::kOptimal);
  REQUIRE(two.vol->fail_path("p0"));
  CHECK(two.vol->state() == VolumeState::kDegraded);
  REQUIRE(two.vol->restore_path("p0"));
  CHECK(two.vol->state() == VolumeState::kOptimal);
  FakeVolume one(1);
  CHECK(one.vol->state() == VolumeState::kDegraded);  // gmultipath: no redundancy
  for (auto* io : two.ios) io->write_errno = EIO;
  REQUIRE(two.write(0, 512, std::byte{1}) == -EIO);
  CHECK(two.vol->state() == VolumeState::kBroken);
  CHECK(two.vol->status().state == VolumeState::kBroken);
  CHECK(two.active() == "none");
}

TEST_CASE("status() reports the volume and every path", "[volume][status]") {
  auto s = FakeVolume::default_settings(Mode::kActiveRead);
  s.name = "data1";
  s.no_path_retry = 7;
  s.io_timeout = 2.5;
  FakeVolume fv(2, {}, s);
  REQUIRE(fv.write(0, 1000, std::byte{1}) == 1000);
  REQUIRE(fv.read(0, 300) == 300);
  REQUIRE(fv.read(0, 200) == 200);
  fv.vol->open_ref();
  auto st = fv.vol->status();
  CHECK(st.name == "data1");
  CHECK(st.mode == Mode::kActiveRead);
  CHECK(st.state == VolumeState::kOptimal);
  CHECK(st.size == fv.opts.size);
  CHECK_FALSE(st.uuid);
  CHECK(st.no_path_retry == 7);
  CHECK(st.io_timeout == 2.5);
  CHECK(st.queued == 0);
  CHECK(st.open_handles == 1);
  REQUIRE(st.paths.size() == 2);
  CHECK(st.paths[0].path == "p0");
  CHECK(st.paths[0].state == PathState::kActive);
  CHECK(st.paths[1].state == PathState::kRead);
  CHECK(st.paths[0].writes == 1);
  CHECK(st.paths[0].write_bytes == 1000);
  CHECK(st.paths[0].reads + st.paths[1].reads == 2);
  CHECK(st.paths[0].read_bytes + st.paths[1].read_bytes == 500);
  CHECK_FALSE(st.paths[0].last_error);
  CHECK(st.paths[0].checker == "unknown");
  CHECK_FALSE(st.paths[0].lost);
  CHECK_FALSE(st.paths[0].direct);
  fv.vol->close_ref();
  CHECK(fv.vol->open_count() == 0);
}

TEST_CASE("status() of a labeled volume carries its UUID", "[volume][status]") {
  auto s = FakeVolume::default_settings();
  s.uuid = "0b5e6a1e-7d0c-4c39-9b6a-2f7a0c1d2e3f";
  FakeVolume fv(1, {}, s);
  CHECK(fv.vol->status().uuid == s.uuid);
  CHECK(fv.vol->uuid() == s.uuid);
}

TEST_CASE("set_no_path_retry is visible in no_path_retry() and status", "[volume][queue]") {
  FakeVolume fv(1);
  CHECK(fv.vol->no_path_retry() == 0);
  fv.vol->set_no_path_retry(-1);
  CHECK(fv.vol->no_path_retry() == -1);
  fv.vol->set_no_path_retry(30);
  CHECK(fv.vol->status().no_path_retry == 30);
}
