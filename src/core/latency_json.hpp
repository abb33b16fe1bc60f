// Latency histograms in status.json, and back (status_decode).
//
//   {"count":N,"mean_us":..,"p50_us":..,"p90_us":..,"p99_us":..,"max_us":..,
//    "buckets":[[LOWER_NS,COUNT],...]}
// "buckets" lists the non-empty buckets of latency_histogram.hpp by their
// lower bound (ns), so a client can subtract two reads and compute
// percentiles over its own interval (mpathfs watch); the interval figures
// carry no buckets.
#pragma once

#include <nlohmann/json.hpp>

#include "core/latency_histogram.hpp"

namespace mpathfs {

nlohmann::json latency_to_json(const HistogramSnapshot& h, bool with_buckets);
// The inverse (buckets, count, sum from mean, max); an empty snapshot for
// anything that is not such an object.
HistogramSnapshot latency_from_json(const nlohmann::json& j);
// ns as microseconds with 0.1 us resolution (what status shows).
double ns_to_us(uint64_t ns);

}  // namespace mpathfs
