// MNT/metrics: every volume and path in the Prometheus text exposition
// format, version 0.0.4 (what node_exporter's textfile collector and a
// Prometheus scrape read).  Rendered from the same status snapshots as
// MNT/status, so reading it costs the I/O path nothing but relaxed loads.
//
// Families (every sample carries volume="NAME"; path ones path="PATH"):
//   mpathfs_volume_state{state}                  1 for the current state, 0 for the others
//   mpathfs_volume_size_bytes, mpathfs_volume_queued_requests, mpathfs_volume_open_handles
//   mpathfs_volume_{path_failures,failovers,no_path_failures,io_timeouts,rescued}_total
//   mpathfs_volume_queued_seconds_total
//   mpathfs_volume_request_duration_seconds{op}  histogram (request as the application saw it)
//   mpathfs_path_state{state}                    1 for the current state, 0 for the others
//   mpathfs_path_{requests,bytes}_total{op}, mpathfs_path_errors_total, mpathfs_path_inflight
//   mpathfs_path_{failures,io_timeouts,rescued}_total
//   mpathfs_path_request_duration_seconds{op}    histogram
// Histogram buckets are the whole octaves of latency_histogram.hpp
// (le = 2^k ns, 1.024 us .. 137 s, then +Inf): exact cumulative counts.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace mpathfs {

std::string render_metrics(const std::vector<VolumeStatus>& volumes);

// A label value as the format wants it: \ -> \\, " -> \", newline -> \n.
// A name that is not plain UTF-8 without control characters is first
// shown as status shows it (word_escape.hpp's \ooo), so the value is
// always valid UTF-8.
std::string metrics_label_value(std::string_view raw);

}  // namespace mpathfs
