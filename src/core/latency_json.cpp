#include "core/latency_json.hpp"

#include <cmath>

namespace mpathfs {

double ns_to_us(uint64_t ns) { return std::round(static_cast<double>(ns) / 100.0) / 10.0; }

nlohmann::json latency_to_json(const HistogramSnapshot& h, bool with_buckets) {
  nlohmann::json j = {
      {"count", h.count},
      {"mean_us", std::round(h.mean_ns() / 100.0) / 10.0},
      {"p50_us", ns_to_us(h.percentile_ns(0.50))},
      {"p90_us", ns_to_us(h.percentile_ns(0.90))},
      {"p99_us", ns_to_us(h.percentile_ns(0.99))},
      {"max_us", ns_to_us(h.max_ns)},
  };
  if (with_buckets) {
    nlohmann::json b = nlohmann::json::array();
    for (size_t i = 0; i < kHistBuckets; ++i)
      if (h.buckets[i]) b.push_back({histogram_bucket_lower_ns(i), h.buckets[i]});
    j["sum_ns"] = h.sum_ns;
    j["max_ns"] = h.max_ns;
    j["buckets"] = std::move(b);
  }
  return j;
}

HistogramSnapshot latency_from_json(const nlohmann::json& j) {
  HistogramSnapshot h;
  if (!j.is_object()) return h;
  auto num = [&](const char* key) -> uint64_t {
    auto it = j.find(key);
    return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
  };
  h.count = num("count");
  h.sum_ns = num("sum_ns");
  h.max_ns = num("max_ns");
  if (auto it = j.find("buckets"); it != j.end() && it->is_array()) {
    for (auto& e : *it) {
      if (!e.is_array() || e.size() != 2 || !e[0].is_number_unsigned() || !e[1].is_number_unsigned()) continue;
      h.buckets[histogram_bucket(e[0].get<uint64_t>())] += e[1].get<uint64_t>();
    }
  }
  return h;
}

}  // namespace mpathfs
