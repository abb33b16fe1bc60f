// LatencyHistogram: a lock-free, log-spaced histogram of request latencies.
//
// The hot path calls record() once per completed request: two relaxed
// atomic increments (its bucket, the sum) and, only when a new maximum is
// seen, a compare-exchange.  No allocation, no lock.  The count is the sum
// of the buckets, computed by the reader, so it always agrees with them.
// Readers take a snapshot() at any time without stopping I/O; one taken
// while requests complete may miss the sum of a sample its bucket shows
// (they are not read at one instant), which is fine for monitoring.
//
// Buckets: four per power of two of nanoseconds (HdrHistogram's idea at
// 2 bits of precision): bucket upper bounds are 2^k, 1.25*2^k, 1.5*2^k and
// 1.75*2^k ns, so any percentile is known to within 25% of its value.
//  bucket 0                  [0, 1024) ns (below ~1 us: page cache at best)
//  buckets 1..kOctaves*4     [2^k + s*2^(k-2), 2^k + (s+1)*2^(k-2)) ns,
//                            k = 10..10+kOctaves-1, s = 0..3
//  the last bucket           everything from 2^(10+kOctaves) ns (~137 s) on
// Whole octaves (le = 2^k ns) are also Prometheus' bucket bounds
// (metrics_render.cpp): every cumulative count is exact.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace mpathfs {

inline constexpr int kHistFirstShift = 10;  // 1024 ns
inline constexpr int kHistOctaves = 27;     // up to 2^37 ns (~137 s)
inline constexpr int kHistSubBits = 2;      // 4 buckets per octave
inline constexpr int kHistSub = 1 << kHistSubBits;
inline constexpr size_t kHistBuckets = 1 + kHistOctaves * kHistSub + 1;

// The bucket of a latency (ns).  Branch-light: one clz, shifts.
inline size_t histogram_bucket(uint64_t ns) noexcept {
  if (ns < (uint64_t{1} << kHistFirstShift)) return 0;
  const int msb = 63 - __builtin_clzll(ns);
  if (msb >= kHistFirstShift + kHistOctaves) return kHistBuckets - 1;
  const uint64_t sub = (ns >> (msb - kHistSubBits)) & (kHistSub - 1);
  return 1 + static_cast<size_t>(msb - kHistFirstShift) * kHistSub + sub;
}

// Upper bound (exclusive) of bucket b in ns; UINT64_MAX for the last one.
uint64_t histogram_bucket_upper_ns(size_t b) noexcept;
// Lower bound (inclusive) of bucket b in ns.
uint64_t histogram_bucket_lower_ns(size_t b) noexcept;

// A copy of a histogram's counters, taken by a reader.
struct HistogramSnapshot {
  std::array<uint64_t, kHistBuckets> buckets{};
  uint64_t count = 0;   // samples
  uint64_t sum_ns = 0;  // of all samples
  uint64_t max_ns = 0;  // the largest sample since start (not per interval)

  // The q-quantile (0 < q <= 1) in ns: the upper bound of the bucket that
  // holds the ceil(q*count)-th sample, clipped to max_ns when that is
  // known; 0 for an empty histogram.
  uint64_t percentile_ns(double q) const noexcept;
  // What happened between `earlier` and this snapshot (counters only go
  // up; max_ns is then the largest bucket's bound seen in the interval,
  // clipped to this snapshot's max).
  HistogramSnapshot since(const HistogramSnapshot& earlier) const noexcept;
  double mean_ns() const noexcept { return count ? static_cast<double>(sum_ns) / static_cast<double>(count) : 0; }
};

class LatencyHistogram {
 public:
  LatencyHistogram() = default;
  LatencyHistogram(const LatencyHistogram&) = delete;
  LatencyHistogram& operator=(const LatencyHistogram&) = delete;

  void record(uint64_t ns) noexcept {
    constexpr auto r = std::memory_order_relaxed;
    buckets_[histogram_bucket(ns)].fetch_add(1, r);
    sum_ns_.fetch_add(ns, r);
    uint64_t m = max_ns_.load(r);
    while (ns > m && !max_ns_.compare_exchange_weak(m, ns, r, r)) {
    }
  }
  HistogramSnapshot snapshot() const noexcept;

 private:
  std::array<std::atomic<uint64_t>, kHistBuckets> buckets_{};
  std::atomic<uint64_t> sum_ns_{0};
  std::atomic<uint64_t> max_ns_{0};
};

}  // namespace mpathfs
