// Which errors from a path mean "this path is broken" (fail it over) and
// which mean "the request itself is wrong" (return it to the application).
#pragma once

#include <string_view>

namespace mpathfs {

// Device and transport errors: the path is marked FAIL and the request is
// retried on the next working path.  gmultipath fails over on EIO/ENXIO only;
// a user-space layer also sees the errors of network file systems and FUSE
// servers (ENOTCONN, ECONNABORTED, ESTALE, ...).
bool is_path_error(int err) noexcept;

// Errors that say the device itself is gone (gmultipath's orphan event):
// the path is LOST, and a volume whose paths are all LOST is destroyed.
bool is_gone_error(int err) noexcept;

// "EIO", "ENOENT", ...; "E<number>" for unknown values.
std::string_view errno_name(int err) noexcept;

}  // namespace mpathfs
