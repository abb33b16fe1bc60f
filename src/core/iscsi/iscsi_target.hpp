// The word of an iSCSI path, taken apart: what libiscsi parses, the
// credentials, the initiator name.
//
//   iscsi://[USER[%PASSWORD]@]HOST[:PORT]/TARGET-IQN/LUN[?PARAM=VALUE&...]
//
// The URI is libiscsi's (iscsi_parse_full_url, the form QEMU uses).  Our
// parameters, removed before libiscsi sees the URI:
//   secret-file=PATH   CHAP secret of USER, read from PATH (the whole file,
//                      one trailing newline dropped).  Keeps the secret out
//                      of configs, process titles and the control socket.
//                      A file that group or others may read is refused
//                      (EACCES), as ssh refuses a readable private key.
//   initiator=IQN      our initiator name (default: kInitiatorPrefix + ':'
//                      + the host name), for targets whose ACLs name it.
#pragma once

#include <string>

#include "core/result.hpp"

namespace mpathfs::iscsi {

inline constexpr const char* kInitiatorPrefix = "iqn.2026-12.org.mpathfs:initiator";

struct Target {
  std::string url;        // for iscsi_parse_full_url: without credentials or our parameters
  std::string user;       // CHAP user, empty for none
  std::string password;   // from the URI or the secret-file
  std::string initiator;  // IQN
  std::string shown;      // the word without secrets, for messages
};

// EINVAL: not an iscsi:// word, or an unknown parameter.  EACCES/ENOENT:
// the secret file cannot be used.
Result<Target> parse_target(const std::string& word);

// The secret in `path`; EACCES when the file is readable by group or others.
Result<std::string> read_secret_file(const std::string& path);

std::string default_initiator_name();

}  // namespace mpathfs::iscsi
