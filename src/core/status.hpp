// Immutable snapshots of volume state, rendered by status_render.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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
  std::string checker;   // "unknown" | "up" | "down" | "pending"
  bool direct = false;   // opened O_DIRECT
  uint64_t reads = 0, writes = 0, read_bytes = 0, write_bytes = 0, errors = 0;
  int inflight = 0;
  double mean_latency_us = 0;
  std::optional<std::string> last_error;  // "EIO", ... ; nullopt if none yet
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
  std::vector<PathStatus> paths;
};

}  // namespace mpathfs
