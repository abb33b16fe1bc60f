#include "cli/watch_render.hpp"

#include <algorithm>
#include <cstdio>

#include "core/latency_json.hpp"
#include "core/status_render.hpp"
#include "core/word_escape.hpp"

namespace mpathfs::cli {
namespace {

constexpr const char* kRed = "\x1b[1;31m";
constexpr const char* kYellow = "\x1b[1;33m";
constexpr const char* kReset = "\x1b[0m";

struct Row {
  std::string name;
  const char* state;
  const char* colour;  // nullptr: none
  double rps, wps, rmbs, wmbs;
  long long inflight;
  std::string p99;
  unsigned long long errors;
};

uint64_t minus(uint64_t a, uint64_t b) { return a >= b ? a - b : 0; }

// The p99 of the reads and writes between the two histograms, or "-".
std::string p99_between(const HistogramSnapshot& r1, const HistogramSnapshot& w1, const HistogramSnapshot& r0,
                        const HistogramSnapshot& w0) {
  HistogramSnapshot d = r1.since(r0);
  const HistogramSnapshot dw = w1.since(w0);
  for (size_t b = 0; b < kHistBuckets; ++b) d.buckets[b] += dw.buckets[b];
  d.count += dw.count;
  d.max_ns = std::max(d.max_ns, dw.max_ns);
  if (d.count == 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", ns_to_us(d.percentile_ns(0.99)));
  return buf;
}

std::string line(const Row& r, size_t width, bool colour) {
  char buf[256];
  std::string state = r.state;
  std::snprintf(buf, sizeof buf, "%8.1f %8.1f %7.1f %7.1f %9lld %8s %7llu", r.rps, r.wps, r.rmbs, r.wmbs, r.inflight,
                r.p99.c_str(), r.errors);
  std::string name = r.name;
  if (name.size() < width) name.append(width - name.size(), ' ');
  std::string st = state;
  if (st.size() < 9) st.append(9 - st.size(), ' ');
  if (colour && r.colour) st = std::string(r.colour) + st + kReset;
  return name + " " + st + " " + buf + "\n";
}

const PathStatus* find_path(const VolumeStatus* v, const std::string& name) {
  if (!v) return nullptr;
  for (auto& p : v->paths)
    if (p.path == name) return &p;
  return nullptr;
}

}  // namespace

std::string render_watch(const WatchFrame& f, bool colour) {
  const double dt = f.seconds > 0 ? f.seconds : 1;
  char head[160];
  std::snprintf(head, sizeof head, "# %s  interval %.2f s\n", f.time.c_str(), f.seconds);
  std::string out = head;
  // The name column fits the longest name (paths are indented by two).
  size_t width = 16;
  for (auto& v : f.after) {
    width = std::max(width, escape_word(v.name).size());
    for (auto& p : v.paths) width = std::max(width, escape_word(p.path).size() + 2);
  }
  std::snprintf(head, sizeof head, " %-9s %8s %8s %7s %7s %9s %8s %7s\n", "STATE", "r/s", "w/s", "rMB/s", "wMB/s",
                "inflight", "p99_us", "errors");
  out += std::string("NAME") + std::string(width - 4, ' ') + head;
  static const VolumeStatus kNone{};
  static const PathStatus kNoPath{};
  for (auto& v : f.after) {
    const VolumeStatus* was = nullptr;
    for (auto& b : f.before)
      if (b.name == v.name) was = &b;
    const VolumeStatus& v0 = was ? *was : kNone;
    uint64_t rb = 0, wb = 0, rb0 = 0, wb0 = 0, errs = 0;
    long long infl = 0;
    std::string paths;
    for (auto& p : v.paths) {
      const PathStatus* pp = find_path(was, p.path);
      const PathStatus& p0 = pp ? *pp : kNoPath;
      rb += p.read_bytes, wb += p.write_bytes, rb0 += p0.read_bytes, wb0 += p0.write_bytes;
      errs += p.errors;
      infl += p.inflight;
      const bool fail = p.state == PathState::kFail;
      paths += line({"  " + escape_word(p.path), path_state_name(p.state), fail ? kRed : nullptr,
                     static_cast<double>(minus(p.reads, p0.reads)) / dt,
                     static_cast<double>(minus(p.writes, p0.writes)) / dt,
                     static_cast<double>(minus(p.read_bytes, p0.read_bytes)) / dt / 1e6,
                     static_cast<double>(minus(p.write_bytes, p0.write_bytes)) / dt / 1e6, p.inflight,
                     p99_between(p.read_latency, p.write_latency, p0.read_latency, p0.write_latency),
                     static_cast<unsigned long long>(p.errors)},
                    width, colour);
    }
    const char* vc = v.state == VolumeState::kOptimal ? nullptr : v.state == VolumeState::kDegraded ? kYellow : kRed;
    out += line({escape_word(v.name), volume_state_name(v.state), vc,
                 static_cast<double>(minus(v.read_latency.count, v0.read_latency.count)) / dt,
                 static_cast<double>(minus(v.write_latency.count, v0.write_latency.count)) / dt,
                 static_cast<double>(minus(rb, rb0)) / dt / 1e6, static_cast<double>(minus(wb, wb0)) / dt / 1e6,
                 infl, p99_between(v.read_latency, v.write_latency, v0.read_latency, v0.write_latency),
                 static_cast<unsigned long long>(errs)},
                width, colour);
    out += paths;
  }
  for (auto& m : f.missing) out += escape_word(m) + " (no such volume)\n";
  return out;
}

}  // namespace mpathfs::cli
