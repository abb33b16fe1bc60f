// The request path of a Volume (src/core/volume_request.cpp): round trips,
// O_DIRECT alignment (read-modify-write), end of volume, counters.
#include <catch2/catch.hpp>

#include <thread>

#include "unit/fake_path_io.hpp"

using namespace mpathfs;
using namespace mpathfs::test;

namespace {

FakeOptions direct4k(uint64_t size = 1 << 20) {
  FakeOptions o;
  o.size = size;
  o.direct = true;
  o.align = 4096;
  o.kind = PathKind::kBlockDevice;
  return o;
}

// Writes `data` at off through the volume, then checks the disk holds it
// there and that the bytes around it are unchanged.
void check_write_lands(FakeVolume& fv, uint64_t off, const std::vector<std::byte>& data) {
  const uint64_t lo = off >= 8192 ? off - 8192 : 0;
  const uint64_t hi = std::min<uint64_t>(fv.vol->size(), off + data.size() + 8192);
  auto before = fv.disk->get(lo, hi - lo);
  REQUIRE(fv.write(off, data) == static_cast<ssize_t>(data.size()));
  auto after = fv.disk->get(lo, hi - lo);
  auto expect = before;
  std::copy(data.begin(), data.end(), expect.begin() + static_cast<ptrdiff_t>(off - lo));
  CHECK(after == expect);
  // And reads back through the volume, byte for byte.
  std::vector<std::byte> got;
  REQUIRE(fv.read(off, data.size(), &got) == static_cast<ssize_t>(data.size()));
  CHECK(got == data);
}

}  // namespace

TEST_CASE("write then read round trip through the volume", "[volume_io]") {
  FakeVolume fv(2);
  auto data = pattern(64 * 1024, 1);
  REQUIRE(fv.write(8192, data) == static_cast<ssize_t>(data.size()));
  std::vector<std::byte> got;
  REQUIRE(fv.read(8192, data.size(), &got) == static_cast<ssize_t>(data.size()));
  CHECK(got == data);
  CHECK(fv.disk->get(8192, data.size()) == data);
  // Another path to the same disk sees it too.
  REQUIRE(fv.vol->prefer("p1"));
  REQUIRE(fv.read(8192, data.size(), &got) == static_cast<ssize_t>(data.size()));
  CHECK(got == data);
  CHECK(fv.path(1).counters().reads == 1);
}

TEST_CASE("zero-length read and write do nothing", "[volume_io]") {
  FakeVolume fv(1);
  CHECK(fv.read(0, 0) == 0);
  CHECK(fv.write(0, std::vector<std::byte>{}) == 0);
  CHECK(fv.io(0).writes == 0);
}

TEST_CASE("the fake enforces O_DIRECT alignment like the kernel", "[volume_io][fake]") {
  auto disk = std::make_shared<FakeDisk>(1 << 20);
  FakePathIo io(disk, direct4k());
  AlignedBuffer buf(8192, 4096);
  CHECK(io.pread(buf.data(), 4096, 0) == 4096);
  CHECK(io.pread(buf.data(), 4096, 1000) == -EINVAL);
  CHECK(io.pread(buf.data(), 1000, 0) == -EINVAL);
  CHECK(io.pread(buf.data() + 1, 4096, 0) == -EINVAL);
  CHECK(io.pwrite(buf.data(), 512, 0) == -EINVAL);
  CHECK(io.unaligned == 4);
}

TEST_CASE("unaligned requests on an O_DIRECT path are aligned by the volume", "[volume_io][rmw]") {
  FakeVolume fv(2, direct4k(2 << 20));
  // Known background so a read-modify-write that loses bytes shows.
  auto bg = pattern(2 << 20, 7);
  {
    std::lock_guard lk(fv.disk->mu);
    std::copy(bg.begin(), bg.end(), fv.disk->bytes.begin());
  }
  SECTION("off=1000 len=3000 (inside one block)") { check_write_lands(fv, 1000, pattern(3000, 11)); }
  SECTION("off=4095 len=2 (straddles two blocks)") { check_write_lands(fv, 4095, pattern(2, 12)); }
  SECTION("off=0 len=1 and off=4095 len=1 (edges of a block)") {
    check_write_lands(fv, 0, pattern(1, 13));
    check_write_lands(fv, 4095, pattern(1, 14));
  }
  SECTION("off=4096 len=100 (aligned start, partial tail)") { check_write_lands(fv, 4096, pattern(100, 15)); }
  SECTION("off=5000 len=3192 (partial head, aligned end)") { check_write_lands(fv, 5000, pattern(3192, 16)); }
  SECTION("off=12345 len=100000 (many blocks, both edges partial)") {
    check_write_lands(fv, 12345, pattern(100000, 17));
  }
  SECTION("aligned request is passed through") { check_write_lands(fv, 8192, pattern(8192, 18)); }
  SECTION("the last bytes of the volume") { check_write_lands(fv, fv.vol->size() - 10, pattern(10, 19)); }
  SECTION("max_io bytes at an unaligned offset (aligned span = max_io + 2 blocks)") {
    check_write_lands(fv, 4097, pattern(fv.ctx.max_io(), 20));
    check_write_lands(fv, fv.vol->size() - fv.ctx.max_io() - 1, pattern(fv.ctx.max_io(), 21));
    check_write_lands(fv, 0, pattern(fv.ctx.max_io(), 22));
  }
  // No request ever reached a path unaligned.
  for (auto* io : fv.ios) CHECK(io->unaligned == 0);
}

TEST_CASE("unaligned reads at any offset return exactly the bytes asked", "[volume_io][rmw]") {
  FakeVolume fv(1, direct4k());
  auto bg = pattern(1 << 20, 3);
  {
    std::lock_guard lk(fv.disk->mu);
    std::copy(bg.begin(), bg.end(), fv.disk->bytes.begin());
  }
  const std::pair<uint64_t, size_t> cases[] = {
      {1000, 3000}, {4095, 2}, {0, 1}, {1, 4096}, {4096 * 3 + 7, 65536}, {(1 << 20) - 1, 1}, {777, 1 << 19}};
  for (auto [off, len] : cases) {
    INFO("off=" << off << " len=" << len);
    std::vector<std::byte> got;
    REQUIRE(fv.read(off, len, &got) == static_cast<ssize_t>(len));
    CHECK(std::equal(got.begin(), got.end(), bg.begin() + static_cast<ptrdiff_t>(off)));
  }
  CHECK(fv.io(0).unaligned == 0);
}

TEST_CASE("requests larger than max_io: read is short, write is refused with EINVAL", "[volume_io]") {
  // Documented in volume.hpp: len <= ctx.max_io(); read clips, write refuses.
  FakeVolume fv(1, direct4k(4 << 20));
  const size_t too_big = (1 << 20) + 513;
  std::vector<std::byte> got;
  CHECK(fv.read(1000, too_big, &got) == static_cast<ssize_t>(fv.ctx.max_io()));
  CHECK(fv.write(1000, pattern(too_big, 4)) == -EINVAL);
  CHECK(fv.write(0, pattern(too_big, 4)) == -EINVAL);
  CHECK(fv.io(0).writes == 0);
  CHECK(fv.disk->get(0, 8192) == std::vector<std::byte>(8192));
}

TEST_CASE("concurrent unaligned writes into one 4 KiB block all land", "[volume_io][rmw][threads]") {
  for (Mode m : {Mode::kActivePassive, Mode::kActiveActive}) {
    FakeVolume fv(2, direct4k(), FakeVolume::default_settings(m));
    constexpr int kThreads = 8;
    constexpr int kRounds = 200;
    // Thread t owns bytes [t*512, t*512+100) of block 1 (offset 4096) and
    // byte 4096*2 - 1 - t; each round writes a new value there.
    std::atomic<int> failed_writes{0};  // Catch assertions are not thread-safe
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t) {
      ts.emplace_back([&, t] {
        IoContext ctx(1 << 20);
        for (int r = 1; r <= kRounds; ++r) {
          std::vector<std::byte> d(100, static_cast<std::byte>(r));
          ssize_t n = fv.vol->write(ctx, d.data(), d.size(), 4096 + t * 512).value();
          std::byte one{static_cast<unsigned char>(r + t)};
          ssize_t n2 = fv.vol->write(ctx, &one, 1, 8191 - t).value();
          if (n != 100 || n2 != 1) ++failed_writes;
        }
      });
    }
    for (auto& t : ts) t.join();
    CHECK(failed_writes == 0);
    auto blk = fv.disk->get(4096, 4096);
    for (int t = 0; t < kThreads; ++t) {
      INFO("mode " << mode_name(m) << " thread " << t);
      for (int i = 0; i < 100; ++i) CHECK(blk[t * 512 + i] == static_cast<std::byte>(kRounds));
      CHECK(blk[4095 - t] == static_cast<std::byte>(kRounds + t));
    }
  }
}

TEST_CASE("an aligned write racing a read-modify-write of the same block is not undone",
          "[volume_io][rmw][threads]") {
  // Serial outcomes: RMW then aligned -> the whole block is the aligned
  // data; aligned then RMW -> aligned data with the RMW's byte.  Either way
  // every byte outside the RMW's range is the aligned write's.  Here the
  // RMW is held between its read and its write-back while the aligned
  // full-block write runs: if the aligned write does not wait for the RMW
  // stripe, the RMW writes back the stale block and the aligned write is
  // lost (volume_io.cpp write_on: only the unaligned branch takes
  // rmw_locks_).
  FakeVolume fv(1, direct4k());
  std::atomic<bool> hold_write_back{true};
  std::atomic<bool> in_write_back{false};
  std::mutex m;
  std::condition_variable cv;
  bool go = false;
  fv.io(0).hook = [&](FakePathIo::Op op, uint64_t off, size_t len) {
    // The RMW's write-back of block 1: its read of the block is done.
    if (op == FakePathIo::Op::kWrite && off == 4096 && hold_write_back.exchange(false)) {
      in_write_back = true;
      std::unique_lock lk(m);
      cv.wait_for(lk, std::chrono::seconds(5), [&] { return go; });
    }
  };
  std::atomic<ssize_t> rmw_result{0}, aligned_result{0};
  std::thread rmw([&] {
    IoContext ctx(1 << 20);
    std::byte b{0xAA};
    rmw_result = fv.vol->write(ctx, &b, 1, 4096 + 100).value();
  });
  REQUIRE(eventually([&] { return in_write_back.load(); }));
  std::atomic<bool> aligned_done{false};
  std::thread aligned([&] {
    IoContext ctx(1 << 20);
    auto d = std::vector<std::byte>(4096, std::byte{0x55});
    aligned_result = fv.vol->write(ctx, d.data(), d.size(), 4096).value();
    aligned_done = true;
    {
      std::lock_guard lk(m);
      go = true;
    }
    cv.notify_all();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  {
    std::lock_guard lk(m);
    go = true;
  }
  cv.notify_all();
  rmw.join();
  aligned.join();
  CHECK(rmw_result == 1);
  CHECK(aligned_result == 4096);
  auto blk = fv.disk->get(4096, 4096);
  size_t wrong = 0;
  for (size_t i = 0; i < 4096; ++i)
    if (i != 100 && blk[i] != std::byte{0x55}) ++wrong;
  INFO("bytes of the aligned write undone by the read-modify-write: " << wrong);
  CHECK(wrong == 0);
}

TEST_CASE("read past the end is short, at or after the end returns 0", "[volume_io]") {
  FakeVolume fv(1);
  const uint64_t size = fv.vol->size();
  std::vector<std::byte> got;
  CHECK(fv.read(size - 100, 4096, &got) == 100);
  CHECK(got.size() == 100);
  CHECK(fv.read(size, 4096) == 0);
  CHECK(fv.read(size + 12345, 4096) == 0);
  FakeVolume fd(1, direct4k());
  CHECK(fd.read(fd.vol->size() - 1000, 4096) == 1000);
}

TEST_CASE("write past or spanning the end fails with ENOSPC and writes nothing", "[volume_io]") {
  FakeVolume fv(2, direct4k());
  const uint64_t size = fv.vol->size();
  CHECK(fv.write(size, 512, std::byte{1}) == -ENOSPC);
  CHECK(fv.write(size + 4096, 4096, std::byte{1}) == -ENOSPC);
  CHECK(fv.write(size - 100, 200, std::byte{1}) == -ENOSPC);
  CHECK(fv.write(size - 4096, 8192, std::byte{1}) == -ENOSPC);
  CHECK(fv.write(UINT64_MAX - 10, 100, std::byte{1}) == -ENOSPC);
  CHECK(fv.io(0).writes == 0);
  CHECK(fv.io(1).writes == 0);
  CHECK(fv.disk->get(size - 8192, 8192) == std::vector<std::byte>(8192));
  // ENOSPC is the request's fault: no path failed.
  CHECK(fv.vol->state() == VolumeState::kOptimal);
  // Up to the very end is fine.
  CHECK(fv.write(size - 100, 100, std::byte{1}) == 100);
}

TEST_CASE("per-path counters add up", "[volume_io][counters]") {
  FakeVolume fv(2, {}, FakeVolume::default_settings(Mode::kActiveActive));
  uint64_t rbytes = 0, wbytes = 0;
  for (int k = 0; k < 10; ++k) {
    size_t len = 512 * (k + 1);
    REQUIRE(fv.write(4096 * k, len, std::byte{9}) == static_cast<ssize_t>(len));
    wbytes += len;
    REQUIRE(fv.read(4096 * k, len + 7) == static_cast<ssize_t>(len + 7));
    rbytes += len + 7;
  }
  // A short read at the end counts what was read.
  REQUIRE(fv.read(fv.vol->size() - 10, 100) == 10);
  rbytes += 10;
  auto st = fv.vol->status();
  REQUIRE(st.paths.size() == 2);
  uint64_t r = 0, w = 0, rb = 0, wb = 0, e = 0;
  for (auto& p : st.paths) {
    r += p.reads;
    w += p.writes;
    rb += p.read_bytes;
    wb += p.write_bytes;
    e += p.errors;
    CHECK(p.inflight == 0);
    CHECK(p.reads + p.writes > 0);  // requests are spread over both paths
  }
  CHECK(r == 11);
  CHECK(w == 10);
  CHECK(rb == rbytes);
  CHECK(wb == wbytes);
  CHECK(e == 0);
}

TEST_CASE("counters on an O_DIRECT path count the caller's bytes, not the aligned span", "[volume_io][counters]") {
  FakeVolume fv(1, direct4k());
  REQUIRE(fv.write(1000, 3000, std::byte{1}) == 3000);
  REQUIRE(fv.read(4095, 2) == 2);
  auto c = fv.path(0).counters();
  CHECK(c.writes == 1);
  CHECK(c.write_bytes == 3000);
  CHECK(c.reads == 1);
  CHECK(c.read_bytes == 2);
}

TEST_CASE("a shut-down volume fails every request with EIO", "[volume_io]") {
  FakeVolume fv(2);
  fv.vol->shut_down();
  CHECK(fv.vol->is_shut_down());
  CHECK(fv.read(0, 512) == -EIO);
  CHECK(fv.write(0, 512, std::byte{1}) == -EIO);
}
