// Which backend serves a path, chosen by the form of the word that names it
// (SPEC "Words"):
//   /abs/name                              file or block device (posix_path_io)
//   nbd:// nbds:// nbd+unix:// nbds+unix://  NBD export, libnbd's URI forms
//   iscsi://                                iSCSI LUN, libiscsi's URI form
// Everything else is refused with EINVAL.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/path_io.hpp"
#include "core/result.hpp"

namespace mpathfs {

enum class PathForm { kPosix, kNbd, kIscsi, kUnknown };

PathForm path_form(std::string_view word) noexcept;
// Whether the word is a URI (has "scheme://"): such a word is never a file
// name relative to a directory, and is never normalised as one.
bool is_uri(std::string_view word) noexcept;

// The word as status, logs and the path's own name show it: a password in
// the URI's user part ("iscsi://user%secret@host/...") is dropped, and so is
// the value of any query parameter that carries a secret itself.  Files and
// devices are shown as given.
std::string redact_secrets(std::string_view word);

// Opens the path with its backend.  `word` is the whole word, secrets
// included (the backend needs them to connect and reconnect, and keeps them
// to itself).  Errors: ENOENT/EACCES (file), ECONNREFUSED/EHOSTUNREACH/
// ETIMEDOUT (network, within a bounded time), EINVAL (a malformed word).
Result<std::unique_ptr<PathIo>> open_path(const std::string& word, const OpenOptions& opt);

}  // namespace mpathfs
