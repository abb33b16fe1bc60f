// LatencyWindow: what status.json calls the "last interval".
//
// The daemon keeps, per volume, the histogram snapshots of two moments: a
// base and a mid point.  A status read at time `now` first moves the window
// when the mid point is at least `period` old (base <- mid, mid <- now),
// then reports now minus base.  So the interval ends at the read and
// covers between one and two periods (less only in the volume's first
// period, when base is its creation), whoever reads and how often: two
// readers do not steal each other's intervals, and the I/O path does no
// work for it.  status.json gives the length it covers ("interval_s").
// Clients that want their own interval (mpathfs watch) subtract the
// cumulative buckets of two reads instead.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/latency_histogram.hpp"
#include "core/mutex.hpp"

namespace mpathfs {

inline constexpr double kLatencyIntervalSeconds = 10;

class LatencyWindow {
 public:
  // One histogram pair (reads, writes) by key: "" for the volume, the path
  // name for a path.
  struct Sample {
    std::string key;
    HistogramSnapshot read, write;
  };
  LatencyWindow(uint64_t period_ns, uint64_t created_ns) : period_ns_(period_ns), base_ns_(created_ns), mid_ns_(created_ns) {}

  // Replaces each sample (cumulative, taken at now_ns) by what happened in
  // the interval, and returns the interval's length in seconds.  A key not
  // seen before (a path added since) counts from zero.
  double advance(uint64_t now_ns, std::vector<Sample>& samples);

 private:
  const uint64_t period_ns_;
  Mutex mu_;
  uint64_t base_ns_ GUARDED_BY(mu_);
  uint64_t mid_ns_ GUARDED_BY(mu_);
  std::vector<Sample> base_ GUARDED_BY(mu_);
  std::vector<Sample> mid_ GUARDED_BY(mu_);
};

}  // namespace mpathfs
