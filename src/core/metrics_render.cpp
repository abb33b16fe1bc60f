#include "core/metrics_render.hpp"

#include <charconv>
#include <cstdio>

#include "core/word_escape.hpp"

namespace mpathfs {

std::string metrics_label_value(std::string_view raw) {
  // escape_word leaves a clean name as it is but for its backslashes.
  const std::string escaped = escape_word(raw);
  std::string clean_form;
  for (char c : raw) clean_form += c == '\\' ? std::string("\\134") : std::string(1, c);
  const std::string_view src = escaped == clean_form ? raw : std::string_view(escaped);
  std::string out;
  out.reserve(src.size() + 2);
  for (char c : src) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

namespace {

constexpr VolumeState kVolumeStates[] = {VolumeState::kOptimal, VolumeState::kDegraded, VolumeState::kBroken};
constexpr PathState kPathStates[] = {PathState::kActive, PathState::kPassive, PathState::kRead, PathState::kFail};

class Writer {
 public:
  explicit Writer(const std::vector<VolumeStatus>& v) : vols_(v) {}
  std::string take() { return std::move(out_); }

  void family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  // name{labels} value
  void sample(std::string_view name, const std::string& labels, double value) {
    // The shortest text that reads back as the same double.
    char num[64];
    auto res = std::to_chars(num, num + sizeof num, value);
    sample(name, labels, std::string_view(num, static_cast<size_t>(res.ptr - num)));
  }
  void sample(std::string_view name, const std::string& labels, uint64_t value) {
    sample(name, labels, std::string_view(std::to_string(value)));
  }
  void sample(std::string_view name, const std::string& labels, std::string_view value) {
    out_ += name;
    out_ += '{';
    out_ += labels;
    out_ += "} ";
    out_ += value;
    out_ += '\n';
  }
  void histogram(const std::string& name, const std::string& labels, const HistogramSnapshot& h) {
    uint64_t cum = 0;
    size_t b = 0;
    for (int k = kHistFirstShift; k <= kHistFirstShift + kHistOctaves; ++k) {
      const uint64_t le_ns = uint64_t{1} << k;
      while (b < kHistBuckets && histogram_bucket_upper_ns(b) <= le_ns) cum += h.buckets[b++];
      char le[48];
      std::snprintf(le, sizeof le, ",le=\"%.9g\"", static_cast<double>(le_ns) / 1e9);
      sample(name + "_bucket", labels + le, cum);
    }
    while (b < kHistBuckets) cum += h.buckets[b++];
    sample(name + "_bucket", labels + ",le=\"+Inf\"", cum);
    sample(name + "_sum", labels, static_cast<double>(h.sum_ns) / 1e9);
    sample(name + "_count", labels, cum);  // = the +Inf bucket, whatever raced
  }

  // One sample per volume / per path, from `f`.
  template <typename F>
  void per_volume(const char* name, F f) {
    for (auto& v : vols_) sample(name, vol_label(v), f(v));
  }
  template <typename F>
  void per_path(const char* name, F f) {
    for (auto& v : vols_)
      for (auto& p : v.paths) sample(name, path_label(v, p), f(p));
  }
  template <typename F>
  void per_path_op(const char* name, F f) {
    for (auto& v : vols_)
      for (auto& p : v.paths)
        for (bool w : {false, true}) sample(name, path_label(v, p) + op_label(w), f(p, w));
  }

  static std::string vol_label(const VolumeStatus& v) { return "volume=\"" + metrics_label_value(v.name) + "\""; }
  static std::string path_label(const VolumeStatus& v, const PathStatus& p) {
    return vol_label(v) + ",path=\"" + metrics_label_value(p.path) + "\"";
  }
  static std::string op_label(bool write) { return write ? ",op=\"write\"" : ",op=\"read\""; }

  const std::vector<VolumeStatus>& vols_;

 private:
  std::string out_;
};

void volume_families(Writer& w) {
  w.family("mpathfs_volume_state", "gauge", "Volume state: 1 for the current one (OPTIMAL, DEGRADED, BROKEN).");
  for (auto& v : w.vols_)
    for (auto s : kVolumeStates)
      w.sample("mpathfs_volume_state", Writer::vol_label(v) + ",state=\"" + volume_state_name(s) + "\"",
               uint64_t{v.state == s});
  w.family("mpathfs_volume_size_bytes", "gauge", "Size of the volume.");
  w.per_volume("mpathfs_volume_size_bytes", [](auto& v) { return v.size; });
  w.family("mpathfs_volume_paths", "gauge", "Paths of the volume, failed ones included.");
  w.per_volume("mpathfs_volume_paths", [](auto& v) { return uint64_t{v.paths.size()}; });
  w.family("mpathfs_volume_queued_requests", "gauge", "Requests waiting for a path now (no_path_retry).");
  w.per_volume("mpathfs_volume_queued_requests", [](auto& v) { return v.queued; });
  w.family("mpathfs_volume_path_failures_total", "counter", "Times a path of the volume went from working to FAIL.");
  w.per_volume("mpathfs_volume_path_failures_total", [](auto& v) { return v.path_failures; });
  w.family("mpathfs_volume_failovers_total", "counter", "Times the ACTIVE path changed to another path.");
  w.per_volume("mpathfs_volume_failovers_total", [](auto& v) { return v.failovers; });
  w.family("mpathfs_volume_queued_seconds_total", "counter", "Time with requests queued for want of a working path.");
  w.per_volume("mpathfs_volume_queued_seconds_total", [](auto& v) { return v.queued_seconds; });
  w.family("mpathfs_volume_no_path_failures_total", "counter", "Requests failed because no path was left.");
  w.per_volume("mpathfs_volume_no_path_failures_total", [](auto& v) { return v.no_path_failures; });
  w.family("mpathfs_volume_io_timeouts_total", "counter", "Requests a path left unanswered past io_timeout.");
  w.per_volume("mpathfs_volume_io_timeouts_total", [](auto& v) { return v.io_timeouts; });
  w.family("mpathfs_volume_rescued_total", "counter", "Timed-out requests taken over and re-issued on another path.");
  w.per_volume("mpathfs_volume_rescued_total", [](auto& v) { return v.rescued; });
  w.family("mpathfs_volume_request_duration_seconds", "histogram",
           "Latency of the volume's successful requests, failovers included.");
  for (auto& v : w.vols_) {
    w.histogram("mpathfs_volume_request_duration_seconds", Writer::vol_label(v) + Writer::op_label(false),
                v.read_latency);
    w.histogram("mpathfs_volume_request_duration_seconds", Writer::vol_label(v) + Writer::op_label(true),
                v.write_latency);
  }
}

void path_families(Writer& w) {
  w.family("mpathfs_path_state", "gauge", "Path state: 1 for the current one (ACTIVE, PASSIVE, READ, FAIL).");
  for (auto& v : w.vols_)
    for (auto& p : v.paths)
      for (auto s : kPathStates)
        w.sample("mpathfs_path_state", Writer::path_label(v, p) + ",state=\"" + path_state_name(s) + "\"",
                 uint64_t{p.state == s});
  w.family("mpathfs_path_requests_total", "counter", "Successful requests on the path.");
  w.per_path_op("mpathfs_path_requests_total", [](auto& p, bool wr) { return wr ? p.writes : p.reads; });
  w.family("mpathfs_path_bytes_total", "counter", "Bytes moved by successful requests on the path.");
  w.per_path_op("mpathfs_path_bytes_total", [](auto& p, bool wr) { return wr ? p.write_bytes : p.read_bytes; });
  w.family("mpathfs_path_errors_total", "counter", "Requests that failed on the path.");
  w.per_path("mpathfs_path_errors_total", [](auto& p) { return p.errors; });
  w.family("mpathfs_path_inflight", "gauge", "Requests in flight on the path now.");
  w.per_path("mpathfs_path_inflight", [](auto& p) { return static_cast<double>(p.inflight); });
  w.family("mpathfs_path_failures_total", "counter", "Times the path went from working to FAIL.");
  w.per_path("mpathfs_path_failures_total", [](auto& p) { return p.failures; });
  w.family("mpathfs_path_io_timeouts_total", "counter", "Requests the path left unanswered past io_timeout.");
  w.per_path("mpathfs_path_io_timeouts_total", [](auto& p) { return p.io_timeouts; });
  w.family("mpathfs_path_rescued_total", "counter", "Requests taken over from the path and re-issued elsewhere.");
  w.per_path("mpathfs_path_rescued_total", [](auto& p) { return p.rescued; });
  w.family("mpathfs_path_request_duration_seconds", "histogram", "Latency of successful requests on the path.");
  for (auto& v : w.vols_)
    for (auto& p : v.paths) {
      w.histogram("mpathfs_path_request_duration_seconds", Writer::path_label(v, p) + Writer::op_label(false),
                  p.read_latency);
      w.histogram("mpathfs_path_request_duration_seconds", Writer::path_label(v, p) + Writer::op_label(true),
                  p.write_latency);
    }
}

}  // namespace

std::string render_metrics(const std::vector<VolumeStatus>& volumes) {
  Writer w(volumes);
  volume_families(w);
  path_families(w);
  return w.take();
}

}  // namespace mpathfs
