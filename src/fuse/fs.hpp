// The FUSE layer: maps the mounted tree onto the core Registry.
//
//   MNT/status            all volumes, gmultipath status layout (0444)
//   MNT/metrics           all volumes and paths, Prometheus text format (0444)
//   MNT/VOL               the volume (file_mode, default 0600)
//   MNT/ctl/{create,destroy,stop,rescan}                   (0200)
//   MNT/ctl/VOL/{add,remove,fail,restore,prefer,rotate,configure} (0200)
//   MNT/ctl/VOL/no_path_retry                               (0600)
//   MNT/ctl/VOL/{status,status.json,active}                 (0444)
//
// Inodes are computed, not stored: a volume's registry id (never reused)
// times 256 plus the entry's index, so lookups need no table and a stale
// inode never aliases a newer volume.
#pragma once

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 314
#endif
#include <fuse_lowlevel.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <new>
#include <string>

#include "core/async_request.hpp"
#include "core/config.hpp"
#include "core/control.hpp"
#include "core/registry.hpp"

namespace mpathfs::fuse {

// Fixed inodes.
// Requests the kernel sends at once without waiting (async direct I/O,
// readahead): libfuse's max_background (session.cpp).
inline constexpr unsigned kMaxBackground = 64;
// Volume requests up to this size on a network path are answered by the
// path's own thread (AsyncPool); larger ones keep a worker, which then lets
// another serve (a transfer that long outweighs the context switches).
inline constexpr size_t kAsyncMaxBytes = 128 * 1024;
// At stop, how long requests still in flight on network paths may take.
inline constexpr double kAsyncDrainSeconds = 2.0;

inline constexpr fuse_ino_t kRootIno = FUSE_ROOT_ID;  // 1
inline constexpr fuse_ino_t kStatusIno = 2;
inline constexpr fuse_ino_t kCtlDirIno = 3;
inline constexpr fuse_ino_t kCtlCreateIno = 4;
inline constexpr fuse_ino_t kCtlDestroyIno = 5;
inline constexpr fuse_ino_t kCtlStopIno = 6;
inline constexpr fuse_ino_t kCtlRescanIno = 7;
inline constexpr fuse_ino_t kMetricsIno = 8;

// Per-volume entries: ino = (id << 8) | entry.
enum VolEntry : uint32_t {
  kVolFile = 1,
  kVolCtlDir = 2,
  kVolCtlFirst = 16,  // + index into kVolCtlFiles
};

// The files of ctl/VOL/, in readdir order.
struct VolCtlFileDef {
  const char* name;
  uint32_t mode;
  bool writable;
  CtlFile file;  // for writable ones
};
extern const VolCtlFileDef kVolCtlFiles[];
extern const size_t kVolCtlFileCount;

struct InoInfo {
  uint64_t vol_id = 0;  // 0 for fixed inodes
  uint32_t entry = 0;   // VolEntry, or kVolCtlFirst + index
};
inline fuse_ino_t vol_ino(uint64_t id, uint32_t entry) { return (id << 8) | entry; }
inline InoInfo decode_ino(fuse_ino_t ino) { return ino < 256 ? InoInfo{0, static_cast<uint32_t>(ino)} : InoInfo{ino >> 8, static_cast<uint32_t>(ino & 0xff)}; }

// What an open file handle (fi->fh) points to.
struct Handle {
  enum class Kind { kVolume, kText, kCtl } kind;
  std::shared_ptr<Volume> volume;  // kVolume; kCtl of ctl/VOL/
  std::string text;                // kText: rendered at open, read by offset
  CtlFile ctl{};                   // kCtl
  std::string ctl_path;            // "ctl/vol0/add", for log lines
  std::string volume_name;         // kCtl of ctl/VOL/
};

class Fs {
 public:
  Fs(Registry& reg, const DaemonOptions& opt) : reg_(reg), opt_(opt) {}
  Registry& registry() { return reg_; }
  const DaemonOptions& options() const { return opt_; }
  static Fs& of(fuse_req_t req) { return *static_cast<Fs*>(fuse_req_userdata(req)); }
  // Requests served without a worker waiting (network paths); null: none.
  // Set before the workers start.
  AsyncPool* async() const { return async_; }
  void set_async(AsyncPool* a) { async_ = a; }

 private:
  Registry& reg_;
  const DaemonOptions& opt_;
  AsyncPool* async_ = nullptr;
};

// Every op is noexcept: a stray exception becomes ENOMEM/EIO and a log
// line here, the only place errors change form (fuse-archive's rule).
template <typename T>
void guarded(fuse_req_t req, const char* op, T&& body) noexcept {
  try {
    body();
  } catch (const std::bad_alloc&) {
    fuse_reply_err(req, ENOMEM);
  } catch (const std::exception& e) {
    spdlog::error("{}: unexpected error: {}", op, e.what());
    fuse_reply_err(req, EIO);
  } catch (...) {
    spdlog::error("{}: unexpected error", op);
    fuse_reply_err(req, EIO);
  }
}

// Ops, one group per file.
// tree.cpp
void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) noexcept;
void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept;
void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) noexcept;
void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) noexcept;
void op_statfs(fuse_req_t req, fuse_ino_t ino) noexcept;
// Fills attributes of any inode; false if it does not exist (any more).
bool fill_attr(Fs& fs, fuse_ino_t ino, struct stat* st);
// volume_file_ops.cpp
void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept;
void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) noexcept;
void op_write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off, fuse_file_info* fi) noexcept;
void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) noexcept;
void op_flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept;
void op_release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept;
// ctl.cpp: control and status files (called by the ops above).
void ctl_open(Fs& fs, fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void ctl_read(fuse_req_t req, Handle& h, size_t size, off_t off);
void ctl_write(Fs& fs, fuse_req_t req, Handle& h, const char* buf, size_t size);

// session.cpp: the ops table and session setup.
fuse_lowlevel_ops make_ops();

}  // namespace mpathfs::fuse
