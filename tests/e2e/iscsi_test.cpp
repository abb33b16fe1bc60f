// iSCSI paths (src/core/iscsi) against tgtd in a test network: two links,
// two portals, one LUN — the classic multipath setup, in user space.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "e2e/harness.hpp"
#include "e2e/test_net.hpp"
#include "e2e/tgt_target.hpp"
#include "core/path_open.hpp"

using namespace mpathfs::e2e;

namespace {

constexpr uint64_t kLun = 32 * MiB;

json iscsi_options(double check_interval = 60, double io_timeout = 5) {
  return {{"workers", 4},          {"check_interval", check_interval}, {"no_path_retry", 30},
          {"failback", "immediate"}, {"io_timeout", io_timeout}, {"flap_threshold", 64}};  // cuts on purpose
}

// tgtd in a two-link TestHost with LUN 1 of target 1 over `image`.
struct Rig {
  TempDir tmp;
  TestHost host{tmp, 2};
  TgtTarget tgt{tmp, host};
  std::string image = make_pattern_file(tmp / "lun1.img", kLun, 5);
  Rig() {
    tgt.add_target(1);
    tgt.add_lun(1, 1, image, "lun-a");
    tgt.bind_all(1);
  }
  std::vector<std::string> paths() const { return {tgt.url(0, 1, 1), tgt.url(1, 1, 1)}; }
};

struct Fio {
  RunResult res;
  std::thread t;
  Fio(std::vector<std::string> argv, double timeout) {
    t = std::thread([this, argv, timeout] { res = run(argv, timeout); });
  }
  ~Fio() { join(); }
  void join() {
    if (t.joinable()) t.join();
  }
};

std::vector<std::string> fio_args(const std::string& file, const std::string& rw, int runtime,
                                  const std::string& log_dir) {
  return {"fio", "--name=iscsi", "--filename=" + file, "--rw=" + rw, "--bs=16k", "--direct=1",
          "--ioengine=libaio", "--iodepth=8", "--size=" + std::to_string(kLun), "--time_based",
          "--runtime=" + std::to_string(runtime), "--verify=crc32c", "--verify_fatal=1", "--do_verify=1", "--verify_state_save=0",
          "--output-format=json", "--output=" + log_dir + "/fio.json"};
}

// fio's worst completion latency, in ms, from its JSON output.
double worst_latency_ms(const std::string& json_file) {
  json j = json::parse(read_file(json_file));
  double worst = 0;
  for (auto& job : j.at("jobs"))
    for (const char* dir : {"read", "write"})
      worst = std::max(worst, job.at(dir).at("clat_ns").at("max").get<double>() / 1e6);
  return worst;
}

}  // namespace

TEST_CASE("iscsi: a volume over two portals: round trip into the LUN, one wwid, reads spread", "[iscsi]") {
  Rig r;
  Daemon d(r.tmp, write_config(r.tmp, iscsi_options(), json::array({volume_spec("vol0", r.paths(), "active-active")})));
  const json st = d.status("vol0");
  const std::string wwid = path_entry(st, r.paths()[0]).at("wwid").get<std::string>();
  CHECK(wwid.rfind("36", 0) == 0);  // NAA-6 (IEEE Registered Extended), not tgt's NAA-3
  CHECK(path_entry(st, r.paths()[1]).at("wwid") == wwid);
  CHECK(read_file(d.ctl("vol0", "status")).find("wwid " + wwid) != std::string::npos);

  // Through the volume into the LUN's backing file, and back.
  Fd f = open_fd(d.vol("vol0"), O_RDWR | O_DIRECT);
  AlignedBuf buf(256 * KiB);
  fill_pattern(buf.data(), 77, 1 * MiB, 256 * KiB);
  REQUIRE(pwrite_all(f.get(), buf.data(), 256 * KiB, 1 * MiB) == 0);
  REQUIRE(::fdatasync(f.get()) == 0);
  CHECK(read_range(r.image, 1 * MiB, 256 * KiB) == pattern(77, 1 * MiB, 256 * KiB));
  CHECK(read_range(d.vol("vol0"), 0, 64 * KiB) == pattern(5, 0, 64 * KiB));
  for (int i = 0; i < 64; ++i) REQUIRE(pread_all(f.get(), buf.data(), 64 * KiB, uint64_t(i) * 64 * KiB) == 64 * KiB);
  const json after = d.status("vol0");
  CHECK(path_entry(after, r.paths()[0]).at("reads").get<uint64_t>() > 8);
  CHECK(path_entry(after, r.paths()[1]).at("reads").get<uint64_t>() > 8);
}

TEST_CASE("iscsi: add of another LUN of the same size is refused with EINVAL and nothing changes", "[iscsi]") {
  Rig r;
  const std::string other = make_pattern_file(r.tmp / "lun2.img", kLun, 6);
  r.tgt.add_lun(1, 2, other, "lun-b");
  Daemon d(r.tmp, write_config(r.tmp, iscsi_options(), json::array({volume_spec("vol0", {r.paths()[0]})})));
  const json before = d.status("vol0");
  CHECK(errno_name(ctl_write(d.ctl("vol0", "add"), r.tgt.url(1, 1, 2) + "\n")) == "EINVAL");
  const json after = d.status("vol0");
  CHECK(path_names(after) == path_names(before));
  CHECK(d.log().find("device") != std::string::npos);
  // The same LUN through the other portal joins.
  CHECK(ctl_write(d.ctl("vol0", "add"), r.paths()[1] + "\n") == 0);
  CHECK(path_names(d.status("vol0")).size() == 2);
}

TEST_CASE("iscsi: CHAP: the right secret logs in, a wrong one is refused clearly, the secret shows nowhere",
          "[iscsi]") {
  Rig r;
  const std::string secret = "Chap-Secret-4711";
  r.tgt.add_target(2);
  const std::string img2 = make_pattern_file(r.tmp / "lun-chap.img", kLun, 8);
  r.tgt.add_lun(2, 1, img2, "lun-chap");
  r.tgt.add_account(2, "mpuser", secret);
  r.tgt.bind_all(2);
  const std::string secret_file = r.tmp / "chap.secret";
  write_text_file(secret_file, secret + "\n");
  ::chmod(secret_file.c_str(), 0600);
  const std::string by_file = r.tgt.url(0, 2, 1, "mpuser@") + "?secret-file=" + secret_file;
  const std::string by_uri = r.tgt.url(1, 2, 1, "mpuser%" + secret + "@");
  Daemon d(r.tmp, write_config(r.tmp, iscsi_options(), json::array({volume_spec("vol0", {by_file, by_uri})})));
  CHECK(read_range(d.vol("vol0"), 0, 64 * KiB) == pattern(8, 0, 64 * KiB));
  CHECK(path_names(d.status("vol0")).size() == 2);

  // A wrong secret: refused, with a message that says why.
  const std::string wrong = r.tgt.url(0, 2, 1, "mpuser%Wrong-Secret-0815@");
  REQUIRE(ctl_write(d.ctl("vol0", "remove"), mpathfs::redact_secrets(by_uri) + "\n") == 0);
  CHECK(errno_name(ctl_write(d.ctl("vol0", "add"), wrong + "\n")) == "EACCES");
  CHECK(d.log().find("CHAP authentication failed") != std::string::npos);
  // A secret file others may read is refused.
  ::chmod(secret_file.c_str(), 0644);
  CHECK(errno_name(ctl_write(d.ctl("vol0", "add"), r.tgt.url(1, 2, 1, "mpuser@") + "?secret-file=" + secret_file +
                                                       "\n")) == "EACCES");
  // Nowhere: status, status.json, the log.
  CHECK(d.status_text().find(secret) == std::string::npos);
  CHECK(read_file(d.ctl("vol0", "status.json")).find(secret) == std::string::npos);
  CHECK(d.log().find(secret) == std::string::npos);
  CHECK(d.log().find("Wrong-Secret") == std::string::npos);
}

TEST_CASE("iscsi: a cut link's path fails under I/O and is back within one check interval of its return",
          "[iscsi]") {
  require_tool("fio");
  Rig r;
  const double check = 1;
  Daemon d(r.tmp, write_config(r.tmp, iscsi_options(check, 2), json::array({volume_spec("vol0", r.paths(), "active-active")})));
  Fio fio({"fio", "--name=load", "--filename=" + d.vol("vol0"), "--rw=randread", "--bs=16k", "--direct=1",
           "--ioengine=libaio", "--iodepth=8", "--time_based", "--runtime=14", "--size=" + std::to_string(kLun)},
          60);
  const std::string p0 = r.paths()[0];
  REQUIRE(wait_until([&] { return path_entry(d.status("vol0"), p0).at("reads").get<uint64_t>() > 50; }, 10, 0.05));
  r.host.cut(0);
  const double t_cut = now_s();
  REQUIRE(wait_until([&] { return path_state(d.status("vol0"), p0) == "FAIL"; }, 8, 0.05));
  WARN("cut link: path FAIL after " << (now_s() - t_cut) << " s (io_timeout 2 s)");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(path_state(d.status("vol0"), p0) == "FAIL");
  r.host.restore(0);
  const double t_back = now_s();
  // One check interval, plus the login and TUR of the reconnect.
  REQUIRE(wait_until([&] { return path_state(d.status("vol0"), p0) == "ACTIVE"; }, check + 1.5, 0.05));
  WARN("restored link: path ACTIVE after " << (now_s() - t_back) << " s (check_interval " << check << " s)");
  fio.join();
  CHECK(fio.res.exit_code() == 0);
}

TEST_CASE("soak: iscsi fio --verify=crc32c while the links are cut alternately: 0 errors", "[iscsi][soak]") {
  require_tool("fio");
  Rig r;
  Daemon d(r.tmp, write_config(r.tmp, iscsi_options(1, 2), json::array({volume_spec("vol0", r.paths(), "active-active")})));
  Fio fio(fio_args(d.vol("vol0"), "randrw", 24, r.tmp.path()), 120);
  for (int round = 0; round < 4; ++round) {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    r.host.cut(round % 2);
    std::this_thread::sleep_for(std::chrono::seconds(3));
    r.host.restore(round % 2);
  }
  fio.join();
  INFO(fio.res.output);
  CHECK(fio.res.exit_code() == 0);
  WARN("iscsi soak with cut links: worst fio latency " << worst_latency_ms(r.tmp / "fio.json") << " ms");
}

TEST_CASE("soak: iscsi tgtd killed and restarted under fio, a file path beside: 0 errors", "[iscsi][soak]") {
  require_tool("fio");
  Rig r;
  // The LUN's backing file is the second path to the same storage.
  Daemon d(r.tmp, write_config(r.tmp, iscsi_options(1, 2),
                               json::array({volume_spec("vol0", {r.paths()[0], r.image}, "active-active")})));
  Fio fio(fio_args(d.vol("vol0"), "randrw", 14, r.tmp.path()), 120);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  r.tgt.kill();
  REQUIRE(wait_until([&] { return path_state(d.status("vol0"), r.paths()[0]) == "FAIL"; }, 8, 0.05));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  r.tgt.start();
  CHECK(wait_until([&] { return path_state(d.status("vol0"), r.paths()[0]) == "ACTIVE"; }, 5, 0.05));
  fio.join();
  INFO(fio.res.output);
  CHECK(fio.res.exit_code() == 0);
  WARN("iscsi soak with tgtd restart: worst fio latency " << worst_latency_ms(r.tmp / "fio.json") << " ms");
}

TEST_CASE("soak: iscsi tgtd frozen under fio --verify with a file path beside, then thawed: 0 errors",
          "[iscsi][soak]") {
  // A hung target (dm-multipath's classic "path that neither answers nor
  // fails"): its requests are rescued on the file path at io_timeout; its
  // kernel still took our writes, so those stay held until tgtd thaws and
  // closes the connection (connection_settle.hpp).  The stale ones carry the
  // data of their rescues; whether one ever lands after a newer write to its
  // blocks is a matter of timing this test cannot force — it checks that
  // the freeze costs no error and that the path returns.
  require_tool("fio");
  Rig r;
  Daemon d(r.tmp, write_config(r.tmp, iscsi_options(1, 2),
                               json::array({volume_spec("vol0", {r.paths()[0], r.image}, "active-active")})));
  Fio fio(fio_args(d.vol("vol0"), "randrw", 16, r.tmp.path()), 120);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  REQUIRE(::kill(r.tgt.pid(), SIGSTOP) == 0);  // SIGKILL by the rig's destructor ends it even frozen
  CHECK(wait_until([&] { return path_state(d.status("vol0"), r.paths()[0]) == "FAIL"; }, 8, 0.05));
  std::this_thread::sleep_for(std::chrono::seconds(5));
  REQUIRE(::kill(r.tgt.pid(), SIGCONT) == 0);
  CHECK(wait_until([&] { return path_state(d.status("vol0"), r.paths()[0]) == "ACTIVE"; }, 8, 0.05));
  fio.join();
  INFO(fio.res.output << "\n" << d.log());
  CHECK(fio.res.exit_code() == 0);
  WARN("iscsi soak with tgtd frozen 5 s: worst fio latency " << worst_latency_ms(r.tmp / "fio.json") << " ms");
}
