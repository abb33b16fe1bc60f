// A path that hangs (its nbdkit SIGSTOPped) must cost io_timeout, never the
// length of the hang: fsync, SIGTERM, and a path failed by hand under load.
// (Control writes while a path hangs: identity tests.)
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "e2e/harness.hpp"
#include "e2e/nbd_volume.hpp"

using namespace mpathfs::e2e;

namespace {
// Thaws `p` after `secs` unless the test ends first (bounded either way).
class ThawLater {
 public:
  ThawLater(NbdPath& p, double secs) : th_([this, &p, secs] {
      const double end = now_s() + secs;
      while (!stop_ && now_s() < end) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      p.thaw();
    }) {}
  ~ThawLater() {
    stop_ = true;
    th_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread th_;
};
}  // namespace

TEST_CASE("hung path: fdatasync with one path frozen returns within io_timeout and fails that path",
          "[hung][flush]") {
  for (int frozen : {0, 1}) {
    INFO("frozen path " << frozen);
    NbdVolume v("active-passive", 2, options(0, 60, "manual", 2));  // io_timeout=2
    Fd f = open_fd(v.vol(), O_RDWR | O_DIRECT);
    AlignedBuf buf(kBlock);
    fill_pattern(buf.data(), 77, 3 * kBlock, kBlock);
    REQUIRE(pwrite_all(f.get(), buf.data(), kBlock, 3 * kBlock) == 0);

    v.path(frozen).freeze();
    ThawLater thaw(v.path(frozen), 6);  // frozen for 6 s
    const double t0 = now_s();
    const int rc = ::fdatasync(f.get());
    const double took = now_s() - t0;
    CAPTURE(took);
    CHECK(rc == 0);
    CHECK(took < 2 + 1.0);
    const json st = v.st();
    CHECK(path_state(st, v.paths[frozen]) == "FAIL");
    CHECK(path_entry(st, v.paths[frozen]).at("last_error") == "ETIMEDOUT");
    CHECK(path_state(st, v.paths[1 - frozen]) == "ACTIVE");
    CHECK(st.at("state") == "DEGRADED");
    CHECK(v.d->log().find("did not answer a flush") != std::string::npos);
    // The data is there, through the path that flushed.
    CHECK(read_range(v.paths[1 - frozen], 3 * kBlock, kBlock) == pattern(77, 3 * kBlock, kBlock));
  }
}

TEST_CASE("hung path: SIGTERM with a path frozen still flushes, unmounts and exits", "[hung][daemon]") {
  NbdVolume v("active-passive", 2, options(0, 60, "manual", 2));
  {
    Fd f = open_fd(v.vol(), O_RDWR | O_DIRECT);
    AlignedBuf buf(kBlock);
    fill_pattern(buf.data(), 5, 0, kBlock);
    REQUIRE(pwrite_all(f.get(), buf.data(), kBlock, 0) == 0);
  }
  v.path(0).freeze();
  const std::string mnt = v.d->mnt();
  const double t0 = now_s();
  REQUIRE(::kill(v.d->pid(), SIGTERM) == 0);
  // Unmounted and done within io_timeout, while the path is still frozen.
  CHECK(wait_until([&] { return !is_mountpoint(mnt); }, 2 + 3.0));
  CHECK(wait_until([&] { return v.d->log().find("mpathfs stopped") != std::string::npos; }, 2 + 3.0));
  const double took = now_s() - t0;
  CAPTURE(took);
  CHECK(v.d->log().find("did not answer a flush") != std::string::npos);
  // Its flush thread waits in the kernel for the frozen server (a FUSE
  // request once sent is waited for uninterruptibly): the process is
  // reaped once the path answers, with status 0.
  v.path(0).thaw();
  const int status = v.d->signal_and_wait(SIGTERM, 10);
  REQUIRE(status != -1);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("hung path: a path failed by hand under load stays FAIL", "[hung][admin]") {
  // Late answers of requests in flight on the path must not revive it.
  NbdVolume v("active-active", 2, options(0, 1, "immediate"));
  const std::string fio_log = v.tmp / "fio.log";
  std::atomic<bool> fio_done{false};
  RunResult fio_res;
  std::thread fio([&] {
    fio_res = run({"fio", "--name=load", "--filename=" + v.vol(), "--rw=randread", "--bs=4k", "--direct=1",
                   "--ioengine=libaio", "--iodepth=8", "--time_based", "--runtime=8", "--size=" +
                   std::to_string(kSize)}, 60);
    fio_done = true;
  });
  struct Join {  // fio ends by itself (--runtime) also when a REQUIRE fails
    std::thread& t;
    ~Join() {
      if (t.joinable()) t.join();
    }
  } join{fio};
  // Wait until both paths carry reads.
  REQUIRE(wait_until([&] {
    const json st = v.st();
    return path_entry(st, v.paths[0]).at("reads").get<uint64_t>() > 100 &&
           path_entry(st, v.paths[1]).at("reads").get<uint64_t>() > 100;
  }, 10, 0.05));
  REQUIRE(ctl_write(v.d->ctl("vol0", "fail"), v.paths[0] + "\n") == 0);
  const uint64_t reads_then = path_entry(v.st(), v.paths[0]).at("reads").get<uint64_t>();
  // For the next 5 s (and checker rounds with failback=immediate) it stays FAIL.
  const double end = now_s() + 5;
  bool stayed = true;
  while (now_s() < end && !fio_done) {
    if (path_state(v.st(), v.paths[0]) != "FAIL") stayed = false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(stayed);
  CHECK(!fio_done);  // the 5 s were watched under load
  const json st = v.st();
  // At most the reads that were in flight when it was failed (depth 8) landed later.
  CHECK(path_entry(st, v.paths[0]).at("reads").get<uint64_t>() <= reads_then + 8);
  REQUIRE(ctl_write(v.d->ctl("vol0", "restore"), v.paths[0] + "\n") == 0);
  CHECK(path_state(v.st(), v.paths[0]) == "ACTIVE");
  fio.join();
  CHECK(fio_res.exited());
  CHECK(fio_res.exit_code() == 0);
}
