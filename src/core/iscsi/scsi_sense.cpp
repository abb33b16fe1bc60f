#include "core/iscsi/scsi_sense.hpp"

#include <cerrno>
#include <cstdio>

namespace mpathfs::iscsi {

Sense parse_sense(const uint8_t* d, size_t len) noexcept {
  Sense s;
  if (!d || len < 2) return s;
  const uint8_t code = d[0] & 0x7f;
  if (code == 0x70 || code == 0x71) {
    // Fixed format: key in byte 2, ASC/ASCQ in bytes 12/13 (when the
    // additional length reaches them).
    if (len < 3) return s;
    s.key = d[2] & 0x0f;
    if (len >= 14) {
      s.asc = d[12];
      s.ascq = d[13];
    }
    s.valid = true;
  } else if (code == 0x72 || code == 0x73) {
    // Descriptor format: key, ASC, ASCQ in bytes 1..3.
    if (len < 4) return s;
    s.key = d[1] & 0x0f;
    s.asc = d[2];
    s.ascq = d[3];
    s.valid = true;
  }
  return s;
}

Verdict classify_answer(uint32_t status, const Sense& sense) noexcept {
  switch (status) {
    case kGood: return {Action::kDone, 0};
    case kBusy:
    case kTaskSetFull: return {Action::kRetryBackoff, EBUSY};
    // dm-multipath: BLK_STS_NEXUS is not a path error; another initiator
    // holds the LUN, and every path of ours would hear the same.
    case kReservationConflict: return {Action::kRequestError, EBADE};
    case kLibTimeout: return {Action::kPathError, ETIMEDOUT};
    case kLibCancelled: return {Action::kPathError, ENOTCONN};
    case kLibError: return {Action::kPathError, ECONNRESET};
    case kCheckCondition: break;
    default: return {Action::kPathError, EREMOTEIO};  // TASK ABORTED, ACA ACTIVE, ...
  }
  if (!sense.valid) return {Action::kPathError, EREMOTEIO};
  switch (sense.key) {
    case kNoSense:
    case kRecoveredError: return {Action::kDone, 0};
    case kUnitAttention: return {Action::kRetry, EAGAIN};
    case kNotReady:
      // 04/03 "manual intervention required", 3A/xx "medium not present":
      // waiting does not help, another path might (an ALUA standby port).
      if ((sense.asc == 0x04 && sense.ascq == 0x03) || sense.asc == 0x3a) return {Action::kPathError, EREMOTEIO};
      return {Action::kRetryBackoff, EAGAIN};
    case kMediumError: return {Action::kRequestError, EIO};
    case kDataProtect: return {Action::kRequestError, EROFS};
    case kIllegalRequest: return {Action::kRequestError, EINVAL};
    case kAbortedCommand:  // the target dropped it (often a transport hiccup): another path
    case kHardwareError:   // dm-multipath fails over on BLK_STS_IOERR
    default: return {Action::kPathError, EREMOTEIO};
  }
}

bool is_target_answer_errno(int err) noexcept {
  return err == EIO || err == EROFS || err == EINVAL || err == EBADE;
}

namespace {

const char* key_name(uint8_t key) {
  static constexpr const char* kNames[16] = {
      "NO SENSE",    "RECOVERED ERROR", "NOT READY",       "MEDIUM ERROR",   "HARDWARE ERROR", "ILLEGAL REQUEST",
      "UNIT ATTENTION", "DATA PROTECT", "BLANK CHECK",     "VENDOR SPECIFIC", "COPY ABORTED", "ABORTED COMMAND",
      "OBSOLETE",    "VOLUME OVERFLOW", "MISCOMPARE",      "COMPLETED"};
  return kNames[key & 0x0f];
}

}  // namespace

std::string describe(uint32_t status, const Sense& sense) {
  char buf[96];
  switch (status) {
    case kCheckCondition:
      if (!sense.valid) return "CHECK CONDITION without sense data";
      std::snprintf(buf, sizeof buf, "%s, ASC/ASCQ %02x/%02x", key_name(sense.key), sense.asc, sense.ascq);
      return buf;
    case kBusy: return "BUSY";
    case kTaskSetFull: return "TASK SET FULL";
    case kReservationConflict: return "RESERVATION CONFLICT";
    case kLibTimeout: return "no answer within the iSCSI timeout";
    case kLibCancelled: return "session dropped";
    case kLibError: return "transport error";
    default: std::snprintf(buf, sizeof buf, "SCSI status 0x%x", status); return buf;
  }
}

}  // namespace mpathfs::iscsi
