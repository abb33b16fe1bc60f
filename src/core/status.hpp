// Immutable snapshots of volume state, rendered by status_render.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/latency_histogram.hpp"
#include "core/mode.hpp"

namespace mpathfs {

// Path states as shown to users (SPEC.md "Words"; gmultipath's words).
//  ACTIVE   receives I/O (every good path in active-active; the one active path otherwise)
//  PASSIVE  healthy, standing by (active-passive)
//  READ     healthy, takes reads only (active-read)
//  FAIL     excluded from I/O until restored (by hand, or by the checker with failback=immediate)
enum class PathState { kActive, kPassive, kRead, kFail };
// Volume states (gmultipath's rule):
//  OPTIMAL  two or more paths, none failed
//  DEGRADED some failed and at least one works, or only one path (no redundancy)
//  BROKEN   no path works
enum class VolumeState { kOptimal, kDegraded, kBroken };

const char* path_state_name(PathState s);
const char* volume_state_name(VolumeState s);

struct PathStatus {
  std::string path;
  PathState state = PathState::kPassive;
  bool lost = false;     // the device is gone (never comes back on its own)
  std::string checker;   // "unknown" | "up" | "down" | "pending" | "held"
  double checked_ago = -1;  // seconds since the last probe or successful request; -1 never
  double held_left = 0;     // "held": seconds of answered probes still needed (at least)
  bool direct = false;   // opened O_DIRECT
  uint64_t reads = 0, writes = 0, read_bytes = 0, write_bytes = 0, errors = 0;
  int inflight = 0;
  double mean_latency_us = 0;
  std::optional<std::string> last_error;  // "EIO", ... ; nullopt if none yet
  // Latency of successful requests: since start, and over the volume's
  // last interval (latency_window.hpp).
  HistogramSnapshot read_latency, write_latency;
  HistogramSnapshot read_latency_interval, write_latency_interval;
  // multipathd's per-path events (path.hpp Path::Events).
  uint64_t failures = 0, io_timeouts = 0, rescued = 0;
  std::string wwid;      // the device identifier (iSCSI: VPD 0x83), empty if none
};

struct VolumeStatus {
  std::string name;
  Mode mode = Mode::kActivePassive;
  VolumeState state = VolumeState::kOptimal;
  uint64_t size = 0;
  uint64_t path_size = 0;           // every path's size (size + the metadata sector when labeled)
  uint32_t sector_size = 512;       // the paths' logical sector size
  std::optional<std::string> uuid;  // labeled volumes only
  int no_path_retry = 0;
  double io_timeout = 0;
  uint64_t queued = 0;              // requests waiting for a path now
  int open_handles = 0;
  // Request latency as the application saw it (failovers included).
  HistogramSnapshot read_latency, write_latency;
  HistogramSnapshot read_latency_interval, write_latency_interval;
  double interval_s = 0;            // what the *_interval snapshots cover
  // The stats multipathd keeps (cumulative since the volume was created):
  uint64_t path_failures = 0;       // a path went from working to FAIL
  uint64_t failovers = 0;           // the ACTIVE path changed to another path
  double queued_seconds = 0;        // time with requests queued for want of a path (no_path_retry)
  uint64_t no_path_failures = 0;    // requests failed because no path was left
  uint64_t io_timeouts = 0;         // requests a path left unanswered past io_timeout
  uint64_t rescued = 0;             // of those, taken over and re-issued on another path
  std::vector<PathStatus> paths;
};

}  // namespace mpathfs
