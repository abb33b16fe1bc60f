// The events that change a path's state.  What each one does to the
// volume is decided in one place, Volume::on_failure_locked and
// Volume::on_return_locked (failover.cpp), under the table at its top.
#pragma once

#include <cstdint>

namespace mpathfs {

// A path stops being used.
enum class FailTrigger : uint8_t {
  kIoError,       // a read or write answered a path error (errno_class.hpp)
  kIoTimeout,     // a request was not answered within io_timeout (watchdog)
  kFlushError,    // fdatasync answered a path error
  kFlushTimeout,  // fdatasync was not answered within io_timeout
  kAdminFail,     // `fail` written by the admin
  kGone,          // the checker saw the device go (ENXIO, ENODEV, ...)
  kCheckerDown,   // a working path failed its probe, or left it unanswered for io_timeout
};

// A FAIL path is used again.
enum class ReturnTrigger : uint8_t {
  kAdminRestore,  // `restore` written by the admin
  kChecker,       // the checker saw it answer (failback=immediate or N, not held down)
  kLastResort,    // a request retried it after the restore-all rule, and it answered
};

const char* trigger_name(FailTrigger t) noexcept;

}  // namespace mpathfs
