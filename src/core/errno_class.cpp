#include "core/errno_class.hpp"

#include "core/path_io.hpp"

#include <cerrno>
#include <cstring>

namespace mpathfs {

bool is_path_error(int err) noexcept {
  switch (err) {
    case EIO: case ENXIO: case ENODEV: case ETIMEDOUT: case ENOTCONN:
    case ECONNABORTED: case ECONNRESET: case ECONNREFUSED: case ESHUTDOWN:
    case EPIPE: case EHOSTDOWN: case EHOSTUNREACH: case ENETDOWN:
    case ENETUNREACH: case ENETRESET: case ENOLINK: case ESTALE:
    case EREMOTEIO: case ENOMEDIUM: case EBADF: case EROFS:
      return true;
    default:
      // EINVAL, ENOSPC, EFBIG, EFAULT, ENOMEM, EDQUOT...: the request is wrong.
      return false;
  }
}

bool is_gone_error(int err) noexcept {
  // ENOTCONN: a file whose own FUSE server has died never answers again.
  return err == ENXIO || err == ENODEV || err == ENOTCONN || err == ENOMEDIUM;
}

FaultClass classify_posix_error(int err) noexcept {
  if (is_gone_error(err)) return FaultClass::kGone;
  return is_path_error(err) ? FaultClass::kPath : FaultClass::kRequest;
}

const char* path_kind_name(PathKind k) noexcept {
  switch (k) {
    case PathKind::kBlockDevice: return "block device";
    case PathKind::kRegularFile: return "file";
    case PathKind::kOther: return "other";
    case PathKind::kNbd: return "nbd";
    case PathKind::kIscsi: return "iscsi";
  }
  return "?";
}

std::string_view errno_name(int err) noexcept {
  const char* n = ::strerrorname_np(err);
  return n ? std::string_view(n) : std::string_view("EUNKNOWN");
}

}  // namespace mpathfs
