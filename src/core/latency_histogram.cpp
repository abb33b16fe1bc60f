#include "core/latency_histogram.hpp"

#include <algorithm>
#include <cmath>

namespace mpathfs {

uint64_t histogram_bucket_lower_ns(size_t b) noexcept {
  if (b == 0) return 0;
  if (b >= kHistBuckets - 1) return uint64_t{1} << (kHistFirstShift + kHistOctaves);
  const size_t i = b - 1;
  const int k = kHistFirstShift + static_cast<int>(i / kHistSub);
  const uint64_t s = i % kHistSub;
  return (uint64_t{1} << k) + s * (uint64_t{1} << (k - kHistSubBits));
}

uint64_t histogram_bucket_upper_ns(size_t b) noexcept {
  if (b >= kHistBuckets - 1) return UINT64_MAX;
  return histogram_bucket_lower_ns(b + 1);
}

uint64_t HistogramSnapshot::percentile_ns(double q) const noexcept {
  uint64_t total = 0;
  for (uint64_t c : buckets) total += c;
  if (total == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const auto rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(total))));
  uint64_t seen = 0;
  for (size_t b = 0; b < kHistBuckets; ++b) {
    seen += buckets[b];
    if (seen >= rank) {
      const uint64_t up = histogram_bucket_upper_ns(b);
      // The bound is exclusive: the largest value the bucket holds is up-1,
      // but bounds read better; the true maximum is never exceeded.
      return max_ns ? std::min(up, max_ns) : up;
    }
  }
  return max_ns;
}

HistogramSnapshot HistogramSnapshot::since(const HistogramSnapshot& earlier) const noexcept {
  HistogramSnapshot d;
  size_t top = 0;
  for (size_t b = 0; b < kHistBuckets; ++b) {
    d.buckets[b] = buckets[b] >= earlier.buckets[b] ? buckets[b] - earlier.buckets[b] : 0;
    if (d.buckets[b]) top = b;
  }
  d.count = count >= earlier.count ? count - earlier.count : 0;
  d.sum_ns = sum_ns >= earlier.sum_ns ? sum_ns - earlier.sum_ns : 0;
  if (d.count) d.max_ns = std::min(max_ns, histogram_bucket_upper_ns(top));
  return d;
}

HistogramSnapshot LatencyHistogram::snapshot() const noexcept {
  constexpr auto r = std::memory_order_relaxed;
  HistogramSnapshot s;
  s.sum_ns = sum_ns_.load(r);
  for (size_t b = 0; b < kHistBuckets; ++b) {
    s.buckets[b] = buckets_[b].load(r);
    s.count += s.buckets[b];
  }
  s.max_ns = max_ns_.load(r);
  return s;
}

}  // namespace mpathfs
