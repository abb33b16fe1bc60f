#include "core/status_render.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/latency_json.hpp"
#include "core/word_escape.hpp"

namespace mpathfs {

const char* path_state_name(PathState s) {
  switch (s) {
    case PathState::kActive: return "ACTIVE";
    case PathState::kRead: return "READ";
    case PathState::kFail: return "FAIL";
    case PathState::kPassive: break;
  }
  return "PASSIVE";
}

const char* volume_state_name(VolumeState s) {
  switch (s) {
    case VolumeState::kDegraded: return "DEGRADED";
    case VolumeState::kBroken: return "BROKEN";
    case VolumeState::kOptimal: break;
  }
  return "OPTIMAL";
}

namespace {
double round1(double s) { return static_cast<double>(static_cast<long long>(s * 10 + 0.5)) / 10; }

// The checker column: "up", "held 41s"; then how long ago it was checked.
std::string checker_cell(const PathStatus& p) {
  std::string c = escape_word(p.checker);
  if (p.checker == "held") c += " " + std::to_string(static_cast<long long>(p.held_left + 0.999)) + "s";
  return c;
}
std::string checked_cell(const PathStatus& p) {
  if (p.checked_ago < 0) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%.1fs", p.checked_ago);
  return b;
}

std::string pad(std::string_view s, size_t w) {
  std::string out(s);
  if (out.size() < w) out.append(w - out.size(), ' ');
  return out;
}

// The p99 of reads and writes together (a merged histogram).
uint64_t p99_ns(const HistogramSnapshot& r, const HistogramSnapshot& w) {
  HistogramSnapshot both = r;
  for (size_t b = 0; b < kHistBuckets; ++b) both.buckets[b] += w.buckets[b];
  both.count += w.count;
  both.max_ns = std::max(r.max_ns, w.max_ns);
  return both.percentile_ns(0.99);
}

nlohmann::json latency_pair(const HistogramSnapshot& r, const HistogramSnapshot& w, bool buckets) {
  return {{"read", latency_to_json(r, buckets)}, {"write", latency_to_json(w, buckets)}};
}

std::string latency_line(const char* what, const HistogramSnapshot& h) {
  char line[200];
  std::snprintf(line, sizeof line, "%s: n=%llu mean=%.1f p50=%.1f p90=%.1f p99=%.1f max=%.1f us\n", what,
                static_cast<unsigned long long>(h.count), h.mean_ns() / 1000.0, ns_to_us(h.percentile_ns(0.5)),
                ns_to_us(h.percentile_ns(0.9)), ns_to_us(h.percentile_ns(0.99)), ns_to_us(h.max_ns));
  return line;
}

// multipathd's "show maps stats" counters and the volume's latency.
std::string volume_stats_text(const VolumeStatus& v) {
  char line[400];
  std::snprintf(line, sizeof line,
                "Path-failures: %llu\nFailovers: %llu\nQueued-seconds: %.3f\nNo-path-failures: %llu\n"
                "IO-timeouts: %llu\nRescued: %llu\n",
                static_cast<unsigned long long>(v.path_failures), static_cast<unsigned long long>(v.failovers),
                v.queued_seconds, static_cast<unsigned long long>(v.no_path_failures),
                static_cast<unsigned long long>(v.io_timeouts), static_cast<unsigned long long>(v.rescued));
  std::string out = line;
  out += latency_line("Read-latency", v.read_latency);
  out += latency_line("Write-latency", v.write_latency);
  return out;
}
}  // namespace

// Names and paths come from configs, control writes and disk labels: they
// are shown escaped (word_escape.hpp), so no byte of them can break a line,
// the JSON or a terminal, and what is read can be written back to ctl/.
std::string render_status_table(const std::vector<VolumeStatus>& volumes) {
  // Column widths adapt to the longest entry (gmultipath: at least the
  // header's width); two blanks between columns.
  size_t wname = 4, wstate = 6;
  for (auto& v : volumes) {
    wname = std::max(wname, escape_word(v.name).size());
    wstate = std::max(wstate, std::string_view(volume_state_name(v.state)).size());
  }
  wname += 2;
  std::string out = pad("Name", wname) + "  " + pad("Status", wstate) + "  Components\n";
  for (auto& v : volumes) {
    bool first = true;
    for (auto& p : v.paths) {
      out += pad(first ? escape_word(v.name) : "", wname) + "  " +
             pad(first ? volume_state_name(v.state) : "", wstate) + "  " + escape_word(p.path) + " (" +
             path_state_name(p.state) + ")\n";
      first = false;
    }
    if (v.paths.empty()) out += pad(escape_word(v.name), wname) + "  " + volume_state_name(v.state) + "\n";
  }
  return out;
}

std::string render_status_script(const std::vector<VolumeStatus>& volumes) {
  std::string out;
  for (auto& v : volumes) {
    const std::string lead = escape_word(v.name) + "  " + volume_state_name(v.state);
    for (auto& p : v.paths) out += lead + "  " + escape_word(p.path) + " (" + path_state_name(p.state) + ")\n";
    if (v.paths.empty()) out += lead + "\n";
  }
  return out;
}

std::string render_volume_text(const VolumeStatus& v) {
  std::string out;
  char line[512];
  out += "Name: " + escape_word(v.name) + "\n";
  out += "Mode: " + std::string(mode_name(v.mode)) + "\n";
  out += "State: " + std::string(volume_state_name(v.state)) + "\n";
  out += "Size: " + std::to_string(v.size) + "\n";
  out += "UUID: " + (v.uuid ? escape_word(*v.uuid) : std::string("-")) + "\n";
  out += "Type: " + std::string(v.uuid ? "AUTOMATIC" : "MANUAL") + "\n";
  std::snprintf(line, sizeof line, "No-path-retry: %d\nIO-timeout: %g\nQueued: %llu\nOpen: %d\n", v.no_path_retry,
                v.io_timeout, static_cast<unsigned long long>(v.queued), v.open_handles);
  out += line;
  out += volume_stats_text(v);
  // The path column is padded here, not by snprintf: a path may be longer
  // than any fixed line buffer.
  size_t wpath = 4;
  for (auto& p : v.paths) wpath = std::max(wpath, escape_word(p.path).size());
  std::snprintf(line, sizeof line, "  %-7s  %-9s  %-8s  %10s  %10s  %14s  %14s  %7s  %8s  %11s  %9s  %8s  %8s  %s\n",
                "State", "Checker", "Checked", "Reads", "Writes", "ReadBytes", "WriteBytes", "Errors", "Inflight",
                "Latency(us)", "P99(us)", "Failures", "Timeouts", "LastError");
  out += pad("Path", wpath) + line;
  for (auto& p : v.paths) {
    std::snprintf(line, sizeof line,
                  "  %-7s  %-9s  %-8s  %10llu  %10llu  %14llu  %14llu  %7llu  %8d  %11.1f  %9.1f  %8llu  %8llu  ",
                  path_state_name(p.state), checker_cell(p).c_str(), checked_cell(p).c_str(),
                  static_cast<unsigned long long>(p.reads),
                  static_cast<unsigned long long>(p.writes), static_cast<unsigned long long>(p.read_bytes),
                  static_cast<unsigned long long>(p.write_bytes), static_cast<unsigned long long>(p.errors),
                  p.inflight, p.mean_latency_us, ns_to_us(p99_ns(p.read_latency, p.write_latency)),
                  static_cast<unsigned long long>(p.failures), static_cast<unsigned long long>(p.io_timeouts));
    out += pad(escape_word(p.path), wpath) + line + (p.last_error ? escape_word(*p.last_error) : "-") +
           (p.lost ? " (gone)" : "") + "\n";
    // The device identifier on a line of its own: only paths that have one.
    if (!p.wwid.empty()) out += "    wwid " + escape_word(p.wwid) + "\n";
  }
  return out;
}

nlohmann::json volume_to_json(const VolumeStatus& v) {
  nlohmann::json paths = nlohmann::json::array();
  for (auto& p : v.paths) {
    paths.push_back({
        {"path", escape_word(p.path)},
        {"state", path_state_name(p.state)},
        {"reads", p.reads},
        {"writes", p.writes},
        {"read_bytes", p.read_bytes},
        {"write_bytes", p.write_bytes},
        {"errors", p.errors},
        {"inflight", p.inflight},
        {"mean_latency_us", p.mean_latency_us},
        {"last_error", p.last_error ? nlohmann::json(escape_word(*p.last_error)) : nlohmann::json(nullptr)},
        {"checker", escape_word(p.checker)},
        {"checked_ago", p.checked_ago < 0 ? nlohmann::json(nullptr) : nlohmann::json(round1(p.checked_ago))},
        {"held_left", p.checker == "held" ? nlohmann::json(round1(p.held_left)) : nlohmann::json(nullptr)},
        {"lost", p.lost},
        {"direct", p.direct},
        {"failures", p.failures},
        {"io_timeouts", p.io_timeouts},
        {"rescued", p.rescued},
        {"latency", latency_pair(p.read_latency, p.write_latency, true)},
        {"interval_latency", latency_pair(p.read_latency_interval, p.write_latency_interval, false)},
        {"wwid", p.wwid.empty() ? nlohmann::json(nullptr) : nlohmann::json(escape_word(p.wwid))},
    });
  }
  return {
      {"name", escape_word(v.name)},
      {"mode", std::string(mode_name(v.mode))},
      {"state", volume_state_name(v.state)},
      {"size", v.size},
      {"path_size", v.path_size},
      {"sector_size", v.sector_size},
      {"uuid", v.uuid ? nlohmann::json(escape_word(*v.uuid)) : nlohmann::json(nullptr)},
      {"no_path_retry", v.no_path_retry},
      {"io_timeout", v.io_timeout},
      {"queued", v.queued},
      {"open", v.open_handles},
      {"path_failures", v.path_failures},
      {"failovers", v.failovers},
      {"queued_seconds", std::round(v.queued_seconds * 1000) / 1000},
      {"no_path_failures", v.no_path_failures},
      {"io_timeouts", v.io_timeouts},
      {"rescued", v.rescued},
      {"latency", latency_pair(v.read_latency, v.write_latency, true)},
      {"interval_s", std::round(v.interval_s * 1000) / 1000},
      {"interval_latency", latency_pair(v.read_latency_interval, v.write_latency_interval, false)},
      {"paths", std::move(paths)},
  };
}

// Every string is escaped already; replace() keeps dump() from throwing
// should one ever slip through.
std::string render_volume_json(const VolumeStatus& v) {
  return volume_to_json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace mpathfs
