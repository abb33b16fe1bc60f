// The allowed range of every number a user gives (-o, the config, control
// files): one table, so every reader refuses the same values the same way.
#pragma once

namespace mpathfs {

// io_timeout: the watchdog looks every 50 ms, so 0.1 s is two looks; a
// day is far past any answer worth waiting for (and far from the int64
// nanoseconds overflow at ~292 years).
inline constexpr double kMinIoTimeout = 0.1;
inline constexpr double kMaxIoTimeout = 86400;
// check_interval: a probe every 0.1 s at most; an hour between rounds at least.
inline constexpr double kMinCheckInterval = 0.1;
inline constexpr double kMaxCheckInterval = 3600;
// no_path_retry: -1 queues forever; otherwise at most a year of seconds.
inline constexpr int kMinNoPathRetry = -1;
inline constexpr int kMaxNoPathRetry = 365 * 86400;
// Path health: a flap needs at least one failure and the checker remembers
// 64 per path (path_health.hpp); windows and waits up to a day.
inline constexpr int kMinFlapThreshold = 1;
inline constexpr int kMaxFlapThreshold = 64;
inline constexpr double kMinFlapWindow = 0.1;
inline constexpr double kMaxFlapWindow = 86400;
inline constexpr double kMinHoldDown = 0;
inline constexpr double kMaxHoldDown = 86400;
// failback=N: 0 is failback=immediate.
inline constexpr double kMinFailbackDelay = 0;
inline constexpr double kMaxFailbackDelay = 86400;
inline constexpr int kMinWorkers = 1;
inline constexpr int kMaxWorkers = 64;
inline constexpr unsigned kMaxFileMode = 07777;
// uid/gid: (uid_t)-1 means "unchanged" to chown(2), so it is no owner.
inline constexpr unsigned long long kMaxId = 0xfffffffeull;

}  // namespace mpathfs
