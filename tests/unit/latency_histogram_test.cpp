// The lock-free latency histogram (src/core/latency_histogram.hpp) and its
// "last interval" window (latency_window.hpp).
#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include "core/latency_histogram.hpp"
#include "core/latency_json.hpp"
#include "core/latency_window.hpp"

using namespace mpathfs;

TEST_CASE("histogram bucket edges", "[histogram]") {
  CHECK(histogram_bucket(0) == 0);
  CHECK(histogram_bucket(1023) == 0);
  CHECK(histogram_bucket(1024) == 1);
  CHECK(histogram_bucket(1279) == 1);  // [1024, 1280)
  CHECK(histogram_bucket(1280) == 2);
  CHECK(histogram_bucket(2047) == 4);
  CHECK(histogram_bucket(2048) == 5);
  CHECK(histogram_bucket(UINT64_MAX) == kHistBuckets - 1);
  CHECK(histogram_bucket(uint64_t{1} << 37) == kHistBuckets - 1);
  CHECK(histogram_bucket((uint64_t{1} << 37) - 1) == kHistBuckets - 2);
  // Every bucket's bounds map back to it, and buckets tile the line.
  for (size_t b = 0; b + 1 < kHistBuckets; ++b) {
    INFO("bucket " << b);
    CHECK(histogram_bucket(histogram_bucket_lower_ns(b)) == b);
    CHECK(histogram_bucket(histogram_bucket_upper_ns(b) - 1) == b);
    CHECK(histogram_bucket_upper_ns(b) == histogram_bucket_lower_ns(b + 1));
  }
  CHECK(histogram_bucket_upper_ns(kHistBuckets - 1) == UINT64_MAX);
}

TEST_CASE("percentiles from known samples", "[histogram]") {
  LatencyHistogram h;
  CHECK(h.snapshot().percentile_ns(0.99) == 0);
  // 90 samples at 10 us, 9 at 100 us, 1 at 5 ms.
  for (int i = 0; i < 90; ++i) h.record(10'000);
  for (int i = 0; i < 9; ++i) h.record(100'000);
  h.record(5'000'000);
  const auto s = h.snapshot();
  CHECK(s.count == 100);
  CHECK(s.sum_ns == 90 * 10'000 + 9 * 100'000 + 5'000'000);
  CHECK(s.max_ns == 5'000'000);
  // A percentile is its bucket's upper bound: within 25% above the value.
  const auto p50 = s.percentile_ns(0.50), p90 = s.percentile_ns(0.90), p99 = s.percentile_ns(0.99);
  CHECK(p50 > 10'000);
  CHECK(p50 <= 12'500);
  CHECK(p90 == p50);  // the 90th sample is still 10 us
  CHECK(p99 > 100'000);
  CHECK(p99 <= 125'000);
  CHECK(s.percentile_ns(1.0) == 5'000'000);  // clipped to the true max
  CHECK(s.mean_ns() == Approx((90 * 10'000 + 9 * 100'000 + 5'000'000) / 100.0));
}

TEST_CASE("interval snapshots subtract", "[histogram]") {
  LatencyHistogram h;
  for (int i = 0; i < 100; ++i) h.record(2'000'000);
  const auto a = h.snapshot();
  for (int i = 0; i < 100; ++i) h.record(3'000);
  const auto d = h.snapshot().since(a);
  CHECK(d.count == 100);
  CHECK(d.sum_ns == 300'000);
  CHECK(d.percentile_ns(0.99) <= 3'750);
  CHECK(d.max_ns <= 4'096);
}

TEST_CASE("concurrent bumps lose nothing", "[histogram]") {
  LatencyHistogram h;
  constexpr int kThreads = 4, kEach = 50'000;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&h, t] {
      for (int i = 0; i < kEach; ++i) h.record(static_cast<uint64_t>(1000 + t * 100'000 + i));
    });
  // A reader meanwhile sees a count that agrees with the buckets and
  // percentiles that stay within what was recorded.
  for (int i = 0; i < 100; ++i) {
    const auto s = h.snapshot();
    uint64_t in_buckets = 0;
    for (auto c : s.buckets) in_buckets += c;
    CHECK(in_buckets == s.count);
    if (s.count) CHECK(s.percentile_ns(0.99) <= 2'000'000);
  }
  for (auto& t : ts) t.join();
  const auto s = h.snapshot();
  CHECK(s.count == uint64_t{kThreads} * kEach);
  uint64_t in_buckets = 0;
  for (auto c : s.buckets) in_buckets += c;
  CHECK(in_buckets == s.count);
  CHECK(s.max_ns == 1000 + 3 * 100'000 + kEach - 1);
}

TEST_CASE("histogram JSON round trip keeps buckets", "[histogram]") {
  LatencyHistogram h;
  for (uint64_t ns : {500ull, 1500ull, 40'000ull, 40'000ull, 9'000'000'000ull}) h.record(ns);
  const auto s = h.snapshot();
  const auto back = latency_from_json(latency_to_json(s, true));
  CHECK(back.buckets == s.buckets);
  CHECK(back.count == s.count);
  CHECK(back.sum_ns == s.sum_ns);
  CHECK(back.max_ns == s.max_ns);
  const auto j = latency_to_json(s, false);
  CHECK_FALSE(j.contains("buckets"));
  CHECK(j["max_us"].get<double>() == 9'000'000.0);
}

TEST_CASE("the last interval covers one to two periods", "[histogram]") {
  constexpr uint64_t kSec = 1'000'000'000;
  LatencyWindow w(10 * kSec, 0);
  LatencyHistogram h;
  auto read_at = [&](uint64_t t) {
    std::vector<LatencyWindow::Sample> s{{"", h.snapshot(), {}}};
    const double span = w.advance(t, s);
    return std::make_pair(span, s[0].read.count);
  };
  for (int i = 0; i < 5; ++i) h.record(10'000);
  CHECK(read_at(3 * kSec) == std::make_pair(3.0, uint64_t{5}));    // first period: since creation
  CHECK(read_at(12 * kSec) == std::make_pair(12.0, uint64_t{5}));  // mid moves to 12 s; base stays 0
  for (int i = 0; i < 7; ++i) h.record(10'000);
  CHECK(read_at(23 * kSec) == std::make_pair(11.0, uint64_t{7}));  // base 12 s, mid 23 s
  CHECK(read_at(25 * kSec) == std::make_pair(13.0, uint64_t{7}));  // a second reader: same base
  CHECK(read_at(40 * kSec) == std::make_pair(17.0, uint64_t{0}));  // base 23 s: nothing since
}
