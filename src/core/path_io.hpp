// PathIo: the raw I/O of one path, whatever its kind: a block device or a
// regular file (posix_path_io.cpp), or a network export (NBD, iSCSI).
//
// Everything the core does to storage goes through this interface — routing,
// failover, the checker, labels, status — so what differs per kind lives in
// its backend: how an errno is classified, how the path is probed, how it
// reconnects, how a stuck request is cut loose, and what identity it shows.
// Unit tests substitute a fake or a fault-injecting decorator (leveldb's Env
// idea).  I/O calls return a byte count or -errno; they never throw and do
// not allocate on our side: they sit on the hot path.
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
enum class PathKind { kBlockDevice, kRegularFile, kOther, kNbd, kIscsi };
const char* path_kind_name(PathKind k) noexcept;

// What an error from a path says (SPEC "Failure handling").
//  kRequest  the request itself is wrong (EINVAL, ENOSPC, ...): returned to
//            the application, the path stays as it is
//  kPath     the path is broken (device or transport error): FAIL, and the
//            request is retried on the next working path
//  kGone     the path will never answer again (a vanished device): FAIL and
//            lost; a volume whose paths are all gone is destroyed.  A network
//            path is never gone: it reconnects.
enum class FaultClass : uint8_t { kRequest, kPath, kGone };
// The classification of files and block devices (errno_class.hpp).
FaultClass classify_posix_error(int err) noexcept;

// A path I/O handed to a backend that answers it on a thread of its own
// (network paths, see PathIo::submit).  It lives in the volume's
// AsyncRequest: nothing is allocated per request.
struct PathOp {
  bool write = false;
  std::byte* buf = nullptr;  // a write's payload, or where a read lands
  size_t len = 0;
  uint64_t off = 0;
  ssize_t result = 0;        // set by the backend before done()
  // Called once by the backend with result set; must not block.
  void (*done)(PathOp& op) noexcept = nullptr;
  void* owner = nullptr;     // the volume's (its AsyncRequest)
  void* backend = nullptr;   // the backend's own (NBD: the connection)
  // Room for the backend's per-request state (iSCSI: its Command), so that
  // nothing is allocated per request.
  static constexpr size_t kBackendSpace = 192;
  alignas(16) std::byte space[kBackendSpace];
};

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

  // --- what differs per backend; the defaults are those of files and devices ---

  // What an error this path answered means.  Called off the hot path's
  // success case only (after a failed request).
  virtual FaultClass classify(int err) const noexcept { return classify_posix_error(err); }
  // The checker's probe (multipath-tools' directio checker for files and
  // devices: a one-block read at offset 0 into `scratch`, which holds at least
  // kMaxAlign bytes aligned to kMaxAlign).  0 when the path answers, or -errno.
  // May block as long as the path does: it runs in a thread of its own.
  virtual int probe(void* scratch) noexcept;
  // Called by the checker before it probes a FAIL path: a network path
  // opens a new connection here (0, or -errno when it cannot yet).
  virtual int reconnect() noexcept { return 0; }
  // io_timeout fired on this path: make every request still in flight on it
  // return soon (a network path shuts its connection down, so they complete
  // with ENOTCONN and are retried elsewhere).  Must not block.
  virtual void abort_inflight() noexcept {}
  // After abort_inflight, a write that was in flight stays in its worker
  // until the server can no longer apply it (NBD: see nbd_conn.cpp), though
  // its answer is already known (failed).  The watchdog then takes it over
  // at once (its fence keeps the late write safe) instead of at its own
  // deadline, up to another io_timeout later.
  virtual bool holds_writes_after_abort() const noexcept { return false; }
  // A device identifier shared by every path to the same storage (an iSCSI
  // LUN's VPD 0x83 designator, shown as `wwid`), or empty when it has none.
  virtual std::string device_id() const { return {}; }
  // The block device this path holds open (its st_rdev), 0 for any other
  // kind: a device the daemon already holds is not tasted again.
  virtual dev_t block_device() const noexcept { return 0; }

  // --- asynchronous I/O (network backends): a request in flight holds no thread ---

  // Whether submit() may take requests at all (fixed for the path's life).
  virtual bool can_submit() const noexcept { return false; }
  // Starts op; true when issued (op.done is then called exactly once, on the
  // backend's thread or — libnbd failing a queued command — on the caller's,
  // possibly before submit returns), false when not (nothing is called: the
  // caller serves it with pread/pwrite).  [off, off+len) lies within size().
  virtual bool submit(PathOp& op) noexcept { return false; }
  // Called once after op.done, by the volume: releases what op held.  For a
  // failure it may carry the request on as pread/pwrite would before
  // returning — wait until a failed write can no longer be applied, retry on
  // this path (iSCSI's UNIT ATTENTION, BUSY) — and set op.result to the
  // final answer, so it may block: the volume calls it for failures off the
  // backend's thread.
  virtual void finish(PathOp& op) noexcept {}
};

// How to open a path.
struct OpenOptions {
  bool try_direct = true;     // O_DIRECT where supported (SPEC: block devices and capable file systems)
  bool exclusive = true;      // O_EXCL on block devices (gmultipath's kern.geom.multipath.exclusive=1)
  bool read_only = false;
};

// Opens a path with the POSIX calls (open_path in path_open.hpp picks the
// backend from the path's form).  Errors: ENOENT/EACCES when it cannot
// be opened, EINVAL when it is neither a block device nor a regular file.
Result<std::unique_ptr<PathIo>> open_posix_path(const std::string& name, const OpenOptions& opt);

// The largest alignment any path may ask for; scratch buffers are aligned to
// it and carry this much slack at each end for read-modify-write.
inline constexpr uint32_t kMaxAlign = 4096;

}  // namespace mpathfs
