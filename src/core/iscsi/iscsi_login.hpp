// A fresh, logged-in libiscsi context for a path, and what the LUN says of
// itself at login: size, block size, identity.  Used at open and by the
// checker's reconnect; runs libiscsi's sync calls on a context no other
// thread knows yet.
#pragma once

#include <iscsi/iscsi.h>

#include <cstdint>
#include <string>

#include "core/iscsi/iscsi_target.hpp"
#include "core/result.hpp"

namespace mpathfs::iscsi {

// Seconds libiscsi gives one PDU (login, a command) before it reports
// SCSI_STATUS_TIMEOUT.  io_timeout (the watchdog) normally acts first; this
// is the bound for the login and for a daemon without a watchdog.
inline constexpr int kPduTimeoutS = 30;

struct Login {
  iscsi_context* ctx = nullptr;  // owned by the caller (iscsi_destroy_context)
  int lun = 0;
  uint32_t block = 0;
  uint64_t blocks = 0;
  std::string device_id;  // vpd_id.hpp's choice
};

// ECONNREFUSED/EHOSTUNREACH/ETIMEDOUT: the portal does not answer;
// EACCES: CHAP refused; ENOENT: no such target or LUN; EINVAL: a malformed
// URI or a LUN that is not a disk we can use.  Messages never hold the secret.
Result<Login> login(const Target& t);

// The LUN's capacity from a READ CAPACITY(16) answer: false if malformed.
bool parse_capacity16(const uint8_t* d, size_t len, uint64_t& blocks, uint32_t& block) noexcept;

}  // namespace mpathfs::iscsi
