// MNT/metrics (src/core/metrics_render.cpp): the Prometheus text format.
#include <catch2/catch.hpp>

#include <sstream>

#include "core/metrics_render.hpp"

using namespace mpathfs;

namespace {
VolumeStatus sample_volume() {
  VolumeStatus v;
  v.name = "vol0";
  v.state = VolumeState::kDegraded;
  v.size = 1 << 20;
  v.failovers = 2;
  v.queued_seconds = 1.5;
  for (const char* n : {"/dev/a", "/tmp/we\"ird\\name"}) {
    PathStatus p;
    p.path = n;
    p.state = v.paths.empty() ? PathState::kFail : PathState::kActive;
    p.reads = 3;
    p.read_bytes = 3 * 4096;
    p.read_latency.buckets[histogram_bucket(5'000)] = 2;
    p.read_latency.buckets[histogram_bucket(3'000'000)] = 1;
    p.read_latency.count = 3;
    p.read_latency.sum_ns = 3'010'000;
    v.paths.push_back(p);
  }
  return v;
}

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}
}  // namespace

TEST_CASE("label values are escaped as the format requires", "[metrics]") {
  CHECK(metrics_label_value("/dev/sdb") == "/dev/sdb");
  CHECK(metrics_label_value("a\"b\\c") == "a\\\"b\\\\c");
  // Not plain UTF-8 or a control character: status's \ooo form, escaped.
  CHECK(metrics_label_value("a\nb") == "a\\\\012b");
  CHECK(metrics_label_value(std::string("x\xff", 2)) == "x\\\\377");
}

TEST_CASE("metrics: families, states, histograms", "[metrics]") {
  const std::string m = render_metrics({sample_volume()});
  CHECK(has_line(m, "# TYPE mpathfs_volume_state gauge"));
  CHECK(has_line(m, "mpathfs_volume_state{volume=\"vol0\",state=\"DEGRADED\"} 1"));
  CHECK(has_line(m, "mpathfs_volume_state{volume=\"vol0\",state=\"OPTIMAL\"} 0"));
  CHECK(has_line(m, "mpathfs_volume_failovers_total{volume=\"vol0\"} 2"));
  CHECK(has_line(m, "mpathfs_volume_queued_seconds_total{volume=\"vol0\"} 1.5"));
  CHECK(has_line(m, "mpathfs_path_state{volume=\"vol0\",path=\"/dev/a\",state=\"FAIL\"} 1"));
  const std::string weird = "path=\"/tmp/we\\\"ird\\\\name\"";
  CHECK(has_line(m, "mpathfs_path_requests_total{volume=\"vol0\"," + weird + ",op=\"read\"} 3"));
  CHECK(has_line(m, "# TYPE mpathfs_path_request_duration_seconds histogram"));
  const std::string l = "mpathfs_path_request_duration_seconds_bucket{volume=\"vol0\",path=\"/dev/a\",op=\"read\",";
  CHECK(has_line(m, l + "le=\"4.096e-06\"} 0"));
  CHECK(has_line(m, l + "le=\"8.192e-06\"} 2"));
  CHECK(has_line(m, l + "le=\"0.004194304\"} 3"));
  CHECK(has_line(m, l + "le=\"+Inf\"} 3"));
  CHECK(has_line(m, "mpathfs_path_request_duration_seconds_count{volume=\"vol0\",path=\"/dev/a\",op=\"read\"} 3"));
  CHECK(has_line(m, "mpathfs_path_request_duration_seconds_sum{volume=\"vol0\",path=\"/dev/a\",op=\"read\"} 0.00301"));
  // Each family's samples are together, after its one TYPE line.
  std::istringstream in(m);
  std::string family, l2;
  std::vector<std::string> seen;
  while (std::getline(in, l2)) {
    if (l2.rfind("# TYPE ", 0) == 0) {
      family = l2.substr(7, l2.find(' ', 7) - 7);
      CHECK(std::find(seen.begin(), seen.end(), family) == seen.end());
      seen.push_back(family);
    } else if (l2[0] != '#') {
      INFO(l2);
      CHECK(l2.rfind(family, 0) == 0);
    }
  }
}
