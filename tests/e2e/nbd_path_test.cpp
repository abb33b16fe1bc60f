// The fault-injection harness on its own, without mpathfs: an NbdPath really
// fails, hangs and vanishes the way the failover tests rely on.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "e2e/harness.hpp"

using namespace mpathfs::e2e;

namespace {

// pread of 4 KiB at off through an O_DIRECT fd: bytes read or -errno.
ssize_t direct_read(int fd, AlignedBuf& buf, uint64_t off) { return pread_all(fd, buf.data(), 4096, off); }

}  // namespace

TEST_CASE("nbd path: two servers over one image are one disk", "[nbd]") {
  TempDir tmp;
  std::string img = make_pattern_file(tmp / "img", 8 * MiB, 7);
  double t0 = now_s();
  NbdPath a(tmp, img, "a");
  double t1 = now_s();
  NbdPath b(tmp, img, "b");
  INFO("NbdPath start-up: " << (t1 - t0) * 1000 << " ms");
  WARN("NbdPath start-up (nbdkit + nbdfuse): " << (t1 - t0) * 1000 << " ms");

  REQUIRE(file_size(a.file()) == 8 * MiB);
  REQUIRE(file_size(b.file()) == 8 * MiB);
  REQUIRE(read_range(b.file(), 0, 64 * KiB) == pattern(7, 0, 64 * KiB));

  Fd fa = open_fd(a.file(), O_RDWR | O_DIRECT);
  AlignedBuf buf(64 * KiB);
  fill_pattern(buf.data(), 99, 4096, 64 * KiB);
  REQUIRE(pwrite_all(fa.get(), buf.data(), 64 * KiB, 4096) == 0);
  REQUIRE(::fdatasync(fa.get()) == 0);

  // The other path, and the image itself, see it at once.
  CHECK(read_range(b.file(), 4096, 64 * KiB) == pattern(99, 4096, 64 * KiB));
  CHECK(read_range(img, 4096, 64 * KiB) == pattern(99, 4096, 64 * KiB));
}

TEST_CASE("nbd path: fail() gives a real EIO and heal() ends it", "[nbd]") {
  TempDir tmp;
  std::string img = make_pattern_file(tmp / "img", 4 * MiB, 3);
  NbdPath a(tmp, img, "a");
  Fd f = open_fd(a.file(), O_RDWR | O_DIRECT);
  AlignedBuf buf(4096);

  REQUIRE(direct_read(f.get(), buf, 0) == 4096);
  a.fail();
  CHECK(direct_read(f.get(), buf, 0) == -EIO);
  CHECK(pwrite_all(f.get(), buf.data(), 4096, 0) == EIO);
  a.heal();
  CHECK(direct_read(f.get(), buf, 8192) == 4096);
  CHECK(pwrite_all(f.get(), buf.data(), 4096, 8192) == 0);
}

TEST_CASE("nbd path: freeze() leaves requests unanswered until thaw()", "[nbd]") {
  TempDir tmp;
  std::string img = make_pattern_file(tmp / "img", 4 * MiB, 3);
  NbdPath a(tmp, img, "a");
  Fd f = open_fd(a.file(), O_RDONLY | O_DIRECT);
  AlignedBuf buf(4096);
  REQUIRE(direct_read(f.get(), buf, 0) == 4096);

  a.freeze();
  std::atomic<bool> done{false};
  std::atomic<ssize_t> result{0};
  std::thread reader([&] {
    AlignedBuf b2(4096);
    result = direct_read(f.get(), b2, 12288);
    done = true;
  });
  bool returned_early = wait_until([&] { return done.load(); }, 1.0);
  a.thaw();
  bool returned_after = wait_until([&] { return done.load(); }, 10.0);
  reader.join();
  CHECK_FALSE(returned_early);
  CHECK(returned_after);
  CHECK(result.load() == 4096);
}

TEST_CASE("nbd path: kill_server() makes the path vanish", "[nbd]") {
  TempDir tmp;
  std::string img = make_pattern_file(tmp / "img", 4 * MiB, 3);
  NbdPath a(tmp, img, "a");
  Fd f = open_fd(a.file(), O_RDWR | O_DIRECT);
  AlignedBuf buf(4096);
  REQUIRE(direct_read(f.get(), buf, 0) == 4096);

  a.kill_server();
  // Measured: ECONNABORTED for the request that finds the server gone, then
  // nbdfuse exits and everything answers ENOTCONN.
  ssize_t first = direct_read(f.get(), buf, 0);
  INFO("first read after the kill: " << errno_name(static_cast<int>(-first)));
  CHECK((first == -ECONNABORTED || first == -ENOTCONN));
  // nbdfuse exits after its server is gone: later requests answer ENOTCONN.
  bool notconn = wait_until([&] { return direct_read(f.get(), buf, 0) == -ENOTCONN; }, 5);
  CHECK(notconn);
  CHECK(pwrite_all(f.get(), buf.data(), 4096, 0) == ENOTCONN);
  Fd g;
  CHECK(try_open(a.file(), O_RDONLY, g) == ENOTCONN);
}

TEST_CASE("nbd path: a loop device on an nbd path fails with it", "[nbd]") {
  TempDir tmp;
  std::string img = make_pattern_file(tmp / "img", 4 * MiB, 5);
  NbdPath a(tmp, img, "a");
  std::string dev = a.attach_loop();
  REQUIRE(file_size(dev) == 4 * MiB);
  REQUIRE(read_range(dev, 0, 4096) == pattern(5, 0, 4096));

  Fd f = open_fd(dev, O_RDONLY | O_DIRECT);
  AlignedBuf buf(4096);
  a.fail();
  CHECK(direct_read(f.get(), buf, 65536) == -EIO);
  a.heal();
  CHECK(direct_read(f.get(), buf, 65536) == 4096);
}

TEST_CASE("nbd path: a delayed path answers late", "[nbd]") {
  TempDir tmp;
  std::string img = make_pattern_file(tmp / "img", 4 * MiB, 5);
  NbdPath::Options o;
  o.delay_read = "300ms";
  NbdPath a(tmp, img, "a", o);
  Fd f = open_fd(a.file(), O_RDONLY | O_DIRECT);
  AlignedBuf buf(4096);
  double t0 = now_s();
  REQUIRE(direct_read(f.get(), buf, 0) == 4096);
  CHECK(now_s() - t0 >= 0.25);
}
