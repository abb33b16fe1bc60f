// PathIo: the raw I/O of one path (a block device or a regular file).
//
// Everything the core does to storage goes through this interface, so unit
// tests can substitute a fake or a fault-injecting decorator (leveldb's Env
// idea).  Calls return a byte count or -errno; they never throw and never
// allocate: they sit on the hot path.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/result.hpp"

namespace mpathfs {

// What kind of object a path is; shown in status and used to pick the
// sector size of the metadata (512 for files, the logical block size for
// block devices).
enum class PathKind { kBlockDevice, kRegularFile, kOther };

class PathIo {
 public:
  virtual ~PathIo() = default;

  // Byte count (maybe short at end of device) or -errno.  When direct() is
  // true, buf, off and len must be multiples of align().
  virtual ssize_t pread(void* buf, size_t len, uint64_t off) noexcept = 0;
  virtual ssize_t pwrite(const void* buf, size_t len, uint64_t off) noexcept = 0;
  // 0 or -errno.
  virtual int fdatasync() noexcept = 0;

  // Re-reads the size (a device may have changed); 0 on success or -errno.
  virtual int refresh_size() noexcept { return 0; }
  // The size the object has now, without storing it (the checker compares
  // it with the size the path joined with); 0 or -errno.
  virtual int current_size(uint64_t& out) const noexcept {
    out = size();
    return 0;
  }

  virtual uint64_t size() const noexcept = 0;
  // Logical sector size: 512 for files, BLKSSZGET for block devices.
  virtual uint32_t sector_size() const noexcept = 0;
  // Alignment required for offsets, lengths and buffers (1 when !direct()).
  virtual uint32_t align() const noexcept = 0;
  virtual bool direct() const noexcept = 0;
  virtual PathKind kind() const noexcept = 0;
};

// How to open a path.
struct OpenOptions {
  bool try_direct = true;     // O_DIRECT where supported (SPEC: block devices and capable file systems)
  bool exclusive = true;      // O_EXCL on block devices (gmultipath's kern.geom.multipath.exclusive=1)
  bool read_only = false;
};

// Opens a path with the POSIX calls.  Errors: ENOENT/EACCES when it cannot
// be opened, EINVAL when it is neither a block device nor a regular file.
Result<std::unique_ptr<PathIo>> open_posix_path(const std::string& name, const OpenOptions& opt);

// The largest alignment any path may ask for; scratch buffers are aligned to
// it and carry this much slack at each end for read-modify-write.
inline constexpr uint32_t kMaxAlign = 4096;

}  // namespace mpathfs
