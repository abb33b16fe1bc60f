// PathIo for an iSCSI LUN (libiscsi, all in user space): see README
// "Network paths: iSCSI".
#pragma once

#include <memory>
#include <string>

#include "core/path_io.hpp"
#include "core/result.hpp"

namespace mpathfs {

// Logs in to the LUN the word names and reads its size and identity.
// Errors as iscsi::login (iscsi_login.hpp) and iscsi::parse_target.
Result<std::unique_ptr<PathIo>> open_iscsi_path(const std::string& word, const OpenOptions& opt);

}  // namespace mpathfs
