// NBD paths: nbd://, nbds://, nbd+unix://, nbds+unix:// (libnbd's URI
// forms, query options included: socket=, tls-psk-file=, tls-certificates=,
// tls-username=, ...).  A path is a set of NbdConn connections: several when
// the server advertises multi-conn (or the export is read-only), else one.
#pragma once

#include <memory>
#include <string>

#include "core/path_io.hpp"
#include "core/result.hpp"

namespace mpathfs {

// Bounds of a connect (TCP connect plus NBD handshake, TLS included).
inline constexpr int kNbdOpenTimeoutMs = 10'000;      // open: add, create, start
inline constexpr int kNbdReconnectTimeoutMs = 5'000;  // the checker's reconnect of a FAIL path
// Connections per path when the server allows several (multi-conn).
inline constexpr int kNbdMaxConns = 4;

// What an NBD error means: the connection's errors fail the path over
// (kPath, never kGone: a network path reconnects); the server's answers
// that the request itself is wrong are returned (kRequest).
FaultClass classify_nbd_error(int err) noexcept;

// The key files a URI names (tls-psk-file=, tls-certificates=DIR's key.pem)
// must not be readable by group or others: EACCES with a message saying so.
VoidResult check_nbd_key_files(const std::string& uri, const std::string& shown);

// `word` is the whole URI, secrets included; status and logs name the path
// by redact_secrets(word).
Result<std::unique_ptr<PathIo>> open_nbd_path(const std::string& word, const OpenOptions& opt);

}  // namespace mpathfs
