// MNT/metrics (SPEC.md "The mounted tree"): the Prometheus text format read
// during I/O and after a failover, checked by promtool, with counters that
// moved as the I/O and the failover say, and a path name that needs the
// format's label escaping (" and \).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <sstream>
#include <thread>

#include "e2e/harness.hpp"
#include "e2e/nbd_volume.hpp"
#include "e2e/tools.hpp"

using namespace mpathfs::e2e;

namespace {

// The value of the sample `series` (name{labels}), or -1 when absent.
double sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l.size() > series.size() && l.compare(0, series.size(), series) == 0 && l[series.size()] == ' ')
      return std::stod(l.substr(series.size() + 1));
  return -1;
}

std::string label(const std::string& raw) {
  std::string out;
  for (char c : raw) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else out += c;
  }
  return out;
}

void promtool_check(const TempDir& tmp, const std::string& text, const char* tag) {
  const std::string f = tmp / (std::string(tag) + ".prom");
  write_text_file(f, text);
  RunResult r = run({"sh", "-c", "promtool check metrics < \"$1\"", "sh", f}, 60);
  INFO(tag << ": " << r.describe());
  CHECK(r.exit_code() == 0);
}

void io(const std::string& vol, int writes, int reads) {
  Fd f = open_fd(vol, O_RDWR | O_DIRECT);
  AlignedBuf b(4096);
  for (int i = 0; i < writes; ++i) {
    fill_pattern(b.data(), 7 + i, i * 4096, 4096);
    REQUIRE(pwrite_all(f.get(), b.data(), 4096, i * 4096ull) == 0);
  }
  for (int i = 0; i < reads; ++i) REQUIRE(pread_all(f.get(), b.data(), 4096, i * 4096ull) == 4096);
}

}  // namespace

TEST_CASE("metrics: Prometheus text during I/O and after a failover, escaped labels", "[metrics][e2e]") {
  require_tool("promtool");
  TempDir tmp;
  const auto files = make_path_files(tmp, 1);
  const std::string weird = make_pattern_file(tmp / "we\"ird\\p1.img", 4 * MiB, 1);
  const std::string cfg = write_config(tmp, quiet_options(), json::array({volume_spec("vol0", {files[0], weird})}));
  Daemon d(tmp, cfg);
  const std::string a = "volume=\"vol0\",path=\"" + label(files[0]) + "\"";
  const std::string b = "volume=\"vol0\",path=\"" + label(weird) + "\"";

  // During I/O: a reader in a loop while a writer works.
  std::atomic<bool> stop{false};
  std::string during;
  std::thread reader([&] {
    while (!stop) {
      std::string t;
      if (try_read_file(d.mnt() + "/metrics", t) == 0) during = t;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  io(d.vol("vol0"), 64, 64);
  stop = true;
  reader.join();
  REQUIRE_FALSE(during.empty());
  promtool_check(tmp, during, "during");

  std::string m = read_file(d.mnt() + "/metrics");
  promtool_check(tmp, m, "after-io");
  CHECK(sample(m, "mpathfs_volume_state{volume=\"vol0\",state=\"OPTIMAL\"}") == 1);
  CHECK(sample(m, "mpathfs_path_state{" + a + ",state=\"ACTIVE\"}") == 1);
  CHECK(sample(m, "mpathfs_path_state{" + b + ",state=\"PASSIVE\"}") == 1);
  CHECK(sample(m, "mpathfs_path_requests_total{" + a + ",op=\"write\"}") == 64);
  CHECK(sample(m, "mpathfs_path_requests_total{" + a + ",op=\"read\"}") >= 64);
  CHECK(sample(m, "mpathfs_path_bytes_total{" + a + ",op=\"write\"}") == 64 * 4096);
  CHECK(sample(m, "mpathfs_path_requests_total{" + b + ",op=\"write\"}") == 0);
  CHECK(sample(m, "mpathfs_path_request_duration_seconds_count{" + a + ",op=\"write\"}") == 64);
  CHECK(sample(m, "mpathfs_path_request_duration_seconds_bucket{" + a + ",op=\"write\",le=\"+Inf\"}") == 64);
  CHECK(sample(m, "mpathfs_volume_request_duration_seconds_count{volume=\"vol0\",op=\"write\"}") == 64);
  CHECK(sample(m, "mpathfs_volume_failovers_total{volume=\"vol0\"}") == 0);
  CHECK(sample(m, "mpathfs_path_inflight{" + a + "}") == 0);

  // The admin fails the active path: one path failure, one failover; I/O
  // moves to the other path.
  REQUIRE(ctl_write(d.ctl("vol0", "fail"), files[0]) == 0);
  io(d.vol("vol0"), 32, 0);
  m = read_file(d.mnt() + "/metrics");
  promtool_check(tmp, m, "after-failover");
  CHECK(sample(m, "mpathfs_volume_state{volume=\"vol0\",state=\"DEGRADED\"}") == 1);
  CHECK(sample(m, "mpathfs_volume_state{volume=\"vol0\",state=\"OPTIMAL\"}") == 0);
  CHECK(sample(m, "mpathfs_path_state{" + a + ",state=\"FAIL\"}") == 1);
  CHECK(sample(m, "mpathfs_path_state{" + b + ",state=\"ACTIVE\"}") == 1);
  CHECK(sample(m, "mpathfs_volume_failovers_total{volume=\"vol0\"}") == 1);
  CHECK(sample(m, "mpathfs_volume_path_failures_total{volume=\"vol0\"}") == 1);
  CHECK(sample(m, "mpathfs_path_failures_total{" + a + "}") == 1);
  CHECK(sample(m, "mpathfs_path_failures_total{" + b + "}") == 0);
  CHECK(sample(m, "mpathfs_path_requests_total{" + a + ",op=\"write\"}") == 64);
  CHECK(sample(m, "mpathfs_path_requests_total{" + b + ",op=\"write\"}") == 32);
  CHECK(sample(m, "mpathfs_volume_request_duration_seconds_count{volume=\"vol0\",op=\"write\"}") == 96);
  CHECK(sample(m, "mpathfs_volume_no_path_failures_total{volume=\"vol0\"}") == 0);

  // status.json carries the same stats and the latency percentiles.
  const json s = d.status("vol0");
  CHECK(s["failovers"] == 1);
  CHECK(s["path_failures"] == 1);
  CHECK(s["latency"]["write"]["count"] == 96);
  CHECK(s["latency"]["write"]["p99_us"].get<double>() > 0);
  CHECK(s["latency"]["write"]["p50_us"].get<double>() <= s["latency"]["write"]["p99_us"].get<double>());
  CHECK(s["interval_latency"]["write"]["count"].get<int>() <= 96);
  CHECK(s["paths"][0]["failures"] == 1);
  CHECK(s["paths"][1]["latency"]["write"]["count"] == 32);
  const std::string text = read_file(d.ctl("vol0", "status"));
  CHECK(text.find("P99(us)") != std::string::npos);
  CHECK(text.find("Failovers: 1") != std::string::npos);
}

TEST_CASE("metrics: a real I/O error fails over, with no path left requests fail and are counted",
          "[metrics][e2e][nbd]") {
  require_tool("promtool");
  NbdVolume nv("active-passive");
  const std::string a = "volume=\"vol0\",path=\"" + label(nv.paths[0]) + "\"";
  const std::string b = "volume=\"vol0\",path=\"" + label(nv.paths[1]) + "\"";
  nv.path(0).fail();  // real EIO from path a from now on
  io(nv.vol(), 8, 8);  // the application sees no error
  std::string m = read_file(nv.d->mnt() + "/metrics");
  promtool_check(nv.tmp, m, "io-error");
  CHECK(sample(m, "mpathfs_path_state{" + a + ",state=\"FAIL\"}") == 1);
  CHECK(sample(m, "mpathfs_path_errors_total{" + a + "}") >= 1);
  CHECK(sample(m, "mpathfs_path_failures_total{" + a + "}") == 1);
  CHECK(sample(m, "mpathfs_volume_failovers_total{volume=\"vol0\"}") == 1);
  CHECK(sample(m, "mpathfs_path_requests_total{" + b + ",op=\"write\"}") == 8);
  CHECK(sample(m, "mpathfs_volume_request_duration_seconds_count{volume=\"vol0\",op=\"write\"}") == 8);
  CHECK(sample(m, "mpathfs_volume_no_path_failures_total{volume=\"vol0\"}") == 0);

  // Both paths fail (no_path_retry 0): a read fails with EIO, counted.
  nv.path(1).fail();
  {
    Fd f = open_fd(nv.vol(), O_RDONLY | O_DIRECT);
    AlignedBuf buf(4096);
    CHECK(pread_all(f.get(), buf.data(), 4096, 0) == -EIO);
  }
  m = read_file(nv.d->mnt() + "/metrics");
  promtool_check(nv.tmp, m, "no-path");
  CHECK(sample(m, "mpathfs_volume_state{volume=\"vol0\",state=\"BROKEN\"}") == 1);
  CHECK(sample(m, "mpathfs_volume_no_path_failures_total{volume=\"vol0\"}") == 1);
  CHECK(sample(m, "mpathfs_path_failures_total{" + b + "}") >= 1);
  CHECK(sample(m, "mpathfs_volume_queued_seconds_total{volume=\"vol0\"}") == 0);
}
