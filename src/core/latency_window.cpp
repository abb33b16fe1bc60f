#include "core/latency_window.hpp"

namespace mpathfs {
namespace {
const LatencyWindow::Sample* find(const std::vector<LatencyWindow::Sample>& v, const std::string& key) {
  for (auto& s : v)
    if (s.key == key) return &s;
  return nullptr;
}
}  // namespace

double LatencyWindow::advance(uint64_t now_ns, std::vector<Sample>& samples) {
  std::lock_guard lk(mu_);
  if (now_ns >= mid_ns_ + period_ns_) {
    base_ = std::move(mid_);
    base_ns_ = mid_ns_;
    mid_ = samples;
    mid_ns_ = now_ns;
  }
  static const HistogramSnapshot kZero{};
  for (auto& s : samples) {
    const Sample* b = find(base_, s.key);
    s.read = s.read.since(b ? b->read : kZero);
    s.write = s.write.since(b ? b->write : kZero);
  }
  return now_ns > base_ns_ ? static_cast<double>(now_ns - base_ns_) / 1e9 : 0.0;
}

}  // namespace mpathfs
