// What a SCSI command's answer means for a multipath layer: the status and
// sense data of an iSCSI command, classified as dm-multipath's
// blk_path_error() does (drivers/md/dm-mpath.c, include/linux/blkdev.h).
//
// Pure functions over bytes and numbers, so the unit tests feed them sense
// data as a target sends it, without a target.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace mpathfs::iscsi {

// Sense keys (SPC-4 table 28) the classification looks at.
enum SenseKey : uint8_t {
  kNoSense = 0x0,
  kRecoveredError = 0x1,
  kNotReady = 0x2,
  kMediumError = 0x3,
  kHardwareError = 0x4,
  kIllegalRequest = 0x5,
  kUnitAttention = 0x6,
  kDataProtect = 0x7,
  kAbortedCommand = 0xb,
};

// SCSI status bytes (SAM-5) and the pseudo-statuses libiscsi adds for a
// command that never got an answer.
enum ScsiStatus : uint32_t {
  kGood = 0x00,
  kCheckCondition = 0x02,
  kBusy = 0x08,
  kReservationConflict = 0x18,
  kTaskSetFull = 0x28,
  kTaskAborted = 0x40,
  kLibCancelled = 0x0f000000,  // SCSI_STATUS_CANCELLED: the session was dropped
  kLibError = 0x0f000001,      // SCSI_STATUS_ERROR: transport error
  kLibTimeout = 0x0f000002,    // SCSI_STATUS_TIMEOUT: iscsi_set_timeout expired
};

struct Sense {
  uint8_t key = 0;
  uint8_t asc = 0;
  uint8_t ascq = 0;
  bool valid = false;
};

// Decodes fixed (0x70/0x71) and descriptor (0x72/0x73) format sense data.
// Anything shorter or of another response code is !valid.
Sense parse_sense(const uint8_t* data, size_t len) noexcept;

// What to do with a command's answer.
enum class Action : uint8_t {
  kDone,          // GOOD: the data is there
  kRetry,         // UNIT ATTENTION: retry at once on the same path
  kRetryBackoff,  // NOT READY, BUSY, TASK SET FULL: retry after a pause, within io_timeout
  kRequestError,  // the target's answer about the data or the request: return `err`, path stays
  kPathError,     // transport or path trouble: fail the path over (`err`)
};

struct Verdict {
  Action action = Action::kDone;
  int err = 0;  // positive errno for the two error actions
};

// The errnos of kRequestError (MEDIUM ERROR → EIO, DATA PROTECT → EROFS,
// ILLEGAL REQUEST → EINVAL, RESERVATION CONFLICT → EBADE) are never used for
// a transport error by this backend: transport and path errors are ENOTCONN,
// ETIMEDOUT, ECONNRESET or EREMOTEIO.  That is what lets classify(errno)
// tell them apart without a per-request flag (iscsi_path_io.cpp).
Verdict classify_answer(uint32_t status, const Sense& sense) noexcept;

// True for the errnos classify_answer gives to kRequestError.
bool is_target_answer_errno(int err) noexcept;

// "MEDIUM ERROR 11/00" style text for logs.
std::string describe(uint32_t status, const Sense& sense);

}  // namespace mpathfs::iscsi
