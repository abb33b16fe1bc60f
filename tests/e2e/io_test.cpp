// Data through the volume file (SPEC.md "Data semantics"): what is written
// reads back identical through the volume and through every path, aligned or
// not, O_DIRECT or buffered; the end of the volume is a hard end.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "e2e/harness.hpp"

using namespace mpathfs::e2e;

namespace {

// Paths that share one image, so every path shows what any path wrote:
//  "loop"  two loop devices (--direct-io=on) over one image: block devices
//  "nbd"   two nbdkit+nbdfuse servers over one image: regular files on FUSE
//  "file"  the image itself as a one-path volume: a regular file on ext4
struct SharedPaths {
  std::string image;
  std::vector<std::unique_ptr<LoopDevice>> loops;
  std::vector<std::unique_ptr<NbdPath>> nbds;
  std::vector<std::string> paths;
};

std::unique_ptr<SharedPaths> make_shared_paths(const TempDir& tmp, const std::string& kind, uint64_t size,
                                               uint64_t seed) {
  auto s = std::make_unique<SharedPaths>();
  s->image = make_pattern_file(tmp / "image", size, seed);
  if (kind == "loop") {
    for (int i = 0; i < 2; ++i) {
      s->loops.push_back(std::make_unique<LoopDevice>(s->image));
      s->paths.push_back(s->loops.back()->dev());
    }
  } else if (kind == "nbd") {
    for (const char* n : {"a", "b"}) {
      s->nbds.push_back(std::make_unique<NbdPath>(tmp, s->image, n));
      s->paths.push_back(s->nbds.back()->file());
    }
  } else {
    s->paths.push_back(s->image);
  }
  return s;
}

std::string one_volume_config(const TempDir& tmp, const std::vector<std::string>& paths,
                              const std::string& mode = "active-passive") {
  return write_config(tmp, quiet_options(), json::array({volume_spec("vol0", paths, mode)}));
}

struct Io {
  uint64_t off;
  size_t len;
};

// Offsets and lengths an application may use: sector-aligned, unaligned,
// tiny, straddling a 4 KiB page, more than FUSE's 1 MiB request, at the end.
std::vector<Io> io_cases(uint64_t size) {
  return {{0, 4096},
          {1000, 3000},
          {4095, 2},
          {511, 1},
          {8192 + 512, 1 * MiB + 513},
          {3 * MiB + 7, 64 * KiB + 1},
          {5 * MiB, 2 * MiB},
          {size - 4096, 4096},
          {size - 100, 100}};
}

void apply(Bytes& model, uint64_t off, const Bytes& data) { std::copy(data.begin(), data.end(), model.begin() + off); }

}  // namespace

TEST_CASE("io: writes at any offset read back identical through the volume and every path", "[io]") {
  const std::string kind = GENERATE(as<std::string>{}, "file", "loop", "nbd");
  const std::string mode = GENERATE(as<std::string>{}, "active-passive", "active-active");
  if (kind == "file" && mode == "active-active") return;  // one path: the mode changes nothing
  CAPTURE(kind, mode);
  constexpr uint64_t kSize = 8 * MiB;

  TempDir tmp;
  auto sp = make_shared_paths(tmp, kind, kSize, 1);
  Daemon d(tmp, one_volume_config(tmp, sp->paths, mode));
  const std::string vol = d.vol("vol0");
  REQUIRE(file_size(vol) == kSize);

  Bytes model = pattern(1, 0, kSize);
  {
    Fd buffered = open_fd(vol, O_RDWR);
    Fd direct = open_fd(vol, O_RDWR | O_DIRECT);
    int i = 0;
    for (auto [off, len] : io_cases(kSize)) {
      Bytes data = pattern(100 + i, off, len);
      // Alternate: buffered, then O_DIRECT from an unaligned user buffer.
      bool use_direct = (i % 2) == 1;
      CAPTURE(off, len, use_direct);
      if (use_direct) {
        Bytes unaligned(len + 1);
        std::copy(data.begin(), data.end(), unaligned.begin() + 1);
        REQUIRE(pwrite_all(direct.get(), unaligned.data() + 1, len, off) == 0);
      } else {
        REQUIRE(pwrite_all(buffered.get(), data.data(), len, off) == 0);
      }
      apply(model, off, data);
      ++i;
    }
    REQUIRE(::fsync(buffered.get()) == 0);
    REQUIRE(::fdatasync(direct.get()) == 0);

    // Read back every case through both fds, at its own (unaligned) offset.
    i = 0;
    for (auto [off, len] : io_cases(kSize)) {
      CAPTURE(off, len);
      Bytes want(model.begin() + off, model.begin() + off + len);
      Bytes got(len);
      REQUIRE(pread_all(buffered.get(), got.data(), len, off) == static_cast<ssize_t>(len));
      CHECK(first_difference(got, want, off) == "");
      Bytes got2(len + 3);
      REQUIRE(pread_all(direct.get(), got2.data() + 3, len, off) == static_cast<ssize_t>(len));
      got2.erase(got2.begin(), got2.begin() + 3);
      CHECK(first_difference(got2, want, off) == "");
      ++i;
    }
  }
  // The whole volume, and each path on its own, hold exactly the model.
  CHECK(first_difference(read_range(vol, 0, kSize, true), model) == "");
  CHECK(first_difference(read_range(vol, 0, kSize, false), model) == "");
  for (auto& p : sp->paths) {
    CAPTURE(p);
    CHECK(first_difference(read_range(p, 0, kSize, true), model) == "");
  }
  // No path was failed by any of it (an alignment EINVAL is our bug, never a path failure).
  json st = d.status("vol0");
  for (auto& p : st.at("paths")) {
    CAPTURE(p.dump());
    CHECK(p.at("state") != "FAIL");
    CHECK(p.at("errors") == 0);
  }
}

TEST_CASE("io: the end of the volume is a hard end", "[io]") {
  constexpr uint64_t kSize = 4 * MiB;
  TempDir tmp;
  auto paths = make_path_files(tmp, 2, kSize, 9);
  Daemon d(tmp, one_volume_config(tmp, paths));
  const std::string vol = d.vol("vol0");
  Fd buffered = open_fd(vol, O_RDWR);
  Fd direct = open_fd(vol, O_RDWR | O_DIRECT);

  SECTION("reads past the end are short") {
    Bytes buf(8192);
    CHECK(pread_all(buffered.get(), buf.data(), 100, kSize - 10) == 10);
    CHECK(pread_all(buffered.get(), buf.data(), 100, kSize) == 0);
    CHECK(pread_all(buffered.get(), buf.data(), 100, kSize + 5000) == 0);
    AlignedBuf ab(8192);
    CHECK(pread_all(direct.get(), ab.data(), 8192, kSize - 4096) == 4096);
    CHECK(pread_all(direct.get(), ab.data(), 4096, kSize) == 0);
    CHECK(Bytes(ab.data(), ab.data() + 4096) == pattern(9, kSize - 4096, 4096));
  }
  SECTION("writes past the end fail with ENOSPC and fail no path") {
    Bytes data = pattern(5, 0, 4096);
    errno = 0;
    CHECK(::pwrite(buffered.get(), data.data(), 100, kSize) == -1);
    CHECK(errno_name(errno) == "ENOSPC");
    AlignedBuf ab(4096);
    errno = 0;
    CHECK(::pwrite(direct.get(), ab.data(), 4096, kSize) == -1);
    CHECK(errno_name(errno) == "ENOSPC");
    errno = 0;
    CHECK(::pwrite(direct.get(), ab.data(), 4096, kSize + 1 * MiB) == -1);
    CHECK(errno_name(errno) == "ENOSPC");
    // Straddling the end: the part inside may be written (a short write, as
    // a block device does) or the whole write refused; nothing grows.
    errno = 0;
    ssize_t n = ::pwrite(buffered.get(), data.data(), 100, kSize - 10);
    CAPTURE(n, errno_name(errno));
    CHECK((n == 10 || (n == -1 && errno == ENOSPC)));
    CHECK(file_size(vol) == kSize);
    json st = d.status("vol0");
    CHECK(st.at("state") == "OPTIMAL");
    CHECK(path_states(st) == std::vector<std::string>{"ACTIVE", "PASSIVE"});
    for (auto& p : paths) CHECK(file_size(p) == kSize);
  }
  SECTION("truncate is refused with EPERM, or ignored when equal to the size") {
    errno = 0;
    CHECK(::ftruncate(buffered.get(), kSize + 4096) == -1);
    CHECK(errno_name(errno) == "EPERM");
    errno = 0;
    CHECK(::truncate(vol.c_str(), 4096) == -1);
    CHECK(errno_name(errno) == "EPERM");
    errno = 0;
    CHECK(::ftruncate(direct.get(), 0) == -1);
    CHECK(errno_name(errno) == "EPERM");
    CHECK(::ftruncate(buffered.get(), kSize) == 0);
    CHECK(file_size(vol) == kSize);
    CHECK(read_range(vol, kSize - 4096, 4096) == pattern(9, kSize - 4096, 4096));
  }
  SECTION("fsync and fdatasync succeed") {
    Bytes data = pattern(6, 12345, 777);
    REQUIRE(pwrite_all(buffered.get(), data.data(), data.size(), 12345) == 0);
    CHECK(::fsync(buffered.get()) == 0);
    CHECK(::fdatasync(buffered.get()) == 0);
    CHECK(::fsync(direct.get()) == 0);
    // Active-passive: the data is on the ACTIVE path (the first).
    CHECK(read_range(paths[0], 12345, 777) == data);
  }
}

TEST_CASE("io: the volume file is a regular file of the volume's size, mode 0600", "[io]") {
  TempDir tmp;
  auto paths = make_path_files(tmp, 2, 3 * MiB + 512, 2);
  Daemon d(tmp, one_volume_config(tmp, paths));
  struct stat st{};
  REQUIRE(::stat(d.vol("vol0").c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(static_cast<uint64_t>(st.st_size) == 3 * MiB + 512);
  CHECK(read_range(d.vol("vol0"), 3 * MiB, 512) == pattern(2, 3 * MiB, 512));
}

TEST_CASE("io: the page cache never serves data older than a write through the mount", "[io]") {
  TempDir tmp;
  auto paths = make_path_files(tmp, 2, 4 * MiB, 3);
  Daemon d(tmp, one_volume_config(tmp, paths));
  const std::string vol = d.vol("vol0");
  Fd buffered = open_fd(vol, O_RDWR);
  Fd direct = open_fd(vol, O_RDWR | O_DIRECT);

  // Fill the page cache, then overwrite with O_DIRECT through another fd.
  Bytes got(64 * KiB);
  REQUIRE(pread_all(buffered.get(), got.data(), got.size(), 0) == static_cast<ssize_t>(got.size()));
  REQUIRE(got == pattern(3, 0, 64 * KiB));
  AlignedBuf ab(64 * KiB);
  fill_pattern(ab.data(), 44, 0, 64 * KiB);
  REQUIRE(pwrite_all(direct.get(), ab.data(), 64 * KiB, 0) == 0);
  REQUIRE(pread_all(buffered.get(), got.data(), got.size(), 0) == static_cast<ssize_t>(got.size()));
  CHECK(first_difference(got, pattern(44, 0, 64 * KiB)) == "");
  // A new open sees it too.
  CHECK(first_difference(read_range(vol, 0, 64 * KiB, false), pattern(44, 0, 64 * KiB)) == "");

  // And the other way: a buffered write is seen by an O_DIRECT read.
  Bytes data = pattern(45, 8192, 4096);
  REQUIRE(pwrite_all(buffered.get(), data.data(), data.size(), 8192) == 0);
  REQUIRE(pread_all(direct.get(), ab.data(), 4096, 8192) == 4096);
  CHECK(Bytes(ab.data(), ab.data() + 4096) == data);
}

TEST_CASE("io: parallel 1 MiB direct writes from several threads all land", "[io]") {
  constexpr uint64_t kSize = 32 * MiB;
  TempDir tmp;
  auto sp = make_shared_paths(tmp, "loop", kSize, 0);
  Daemon d(tmp, one_volume_config(tmp, sp->paths, "active-active"));
  const std::string vol = d.vol("vol0");
  constexpr int kThreads = 4;
  std::atomic<int> errors{0};
  std::vector<std::thread> th;
  for (int t = 0; t < kThreads; ++t) {
    th.emplace_back([&, t] {
      try {
        Fd f = open_fd(vol, O_RDWR | O_DIRECT);
        AlignedBuf buf(MiB);
        for (uint64_t off = t * MiB; off < kSize; off += kThreads * MiB) {
          fill_pattern(buf.data(), 77, off, MiB);
          if (pwrite_all(f.get(), buf.data(), MiB, off) != 0) ++errors;
        }
      } catch (...) {
        ++errors;
      }
    });
  }
  for (auto& x : th) x.join();
  CHECK(errors == 0);
  Bytes want = pattern(77, 0, kSize);
  CHECK(first_difference(read_range(vol, 0, kSize), want) == "");
  for (auto& p : sp->paths) CHECK(first_difference(read_range(p, 0, kSize), want) == "");
  json st = d.status("vol0");
  uint64_t written = 0;
  for (auto& p : st.at("paths")) written += p.at("write_bytes").get<uint64_t>();
  CHECK(written >= kSize);
}

TEST_CASE("io: a loop device on the volume file works (the VM-image case)", "[io]") {
  TempDir tmp;
  auto sp = make_shared_paths(tmp, "file", 8 * MiB, 12);
  Daemon d(tmp, one_volume_config(tmp, sp->paths));
  LoopDevice loop(d.vol("vol0"), true);
  CHECK(file_size(loop.dev()) == 8 * MiB);
  CHECK(read_range(loop.dev(), 0, MiB) == pattern(12, 0, MiB));
  {
    Fd f = open_fd(loop.dev(), O_RDWR | O_DIRECT);
    AlignedBuf buf(MiB);
    fill_pattern(buf.data(), 13, 2 * MiB, MiB);
    REQUIRE(pwrite_all(f.get(), buf.data(), MiB, 2 * MiB) == 0);
    REQUIRE(::fsync(f.get()) == 0);
  }
  CHECK(read_range(d.vol("vol0"), 2 * MiB, MiB) == pattern(13, 2 * MiB, MiB));
  CHECK(read_range(sp->image, 2 * MiB, MiB) == pattern(13, 2 * MiB, MiB));
  // That loop device leads back into mpathfs: it is refused as a path.
  auto other = make_path_files(tmp, 1, 8 * MiB, 1, "other");
  REQUIRE(ctl_write(d.ctl("create"), "vol1 " + other[0]) == 0);
  std::string before = steady_status(d.ctl("vol1", "status.json"));
  CHECK(errno_name(ctl_write(d.ctl("vol1", "add"), loop.dev())) == "EINVAL");
  CHECK(steady_status(d.ctl("vol1", "status.json")) == before);
  loop.detach();
}
