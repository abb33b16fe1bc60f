// The volume file's FUSE operations: open/read/write/fsync/release (the
// core's request path is core/volume_request.cpp).  These are the hot path:
// no allocation (the worker's IoContext holds the buffer), no lock, no log.
#include <fcntl.h>

#include "fuse/caller_signal.hpp"
#include "fuse/fs.hpp"
#include "fuse/worker_pool.hpp"

namespace mpathfs::fuse {
namespace {
Handle* handle_of(fuse_file_info* fi) { return reinterpret_cast<Handle*>(fi->fh); }

// How a rescued request (io_timeout) is answered from the rescue thread.
void reply_read(void* ctx, const std::byte* data, ssize_t n) {
  auto req = static_cast<fuse_req_t>(ctx);
  if (n < 0) fuse_reply_err(req, static_cast<int>(-n));
  else fuse_reply_buf(req, reinterpret_cast<const char*>(data), static_cast<size_t>(n));
}
void reply_write(void* ctx, const std::byte*, ssize_t n) {
  auto req = static_cast<fuse_req_t>(ctx);
  if (n < 0) fuse_reply_err(req, static_cast<int>(-n));
  else fuse_reply_write(req, static_cast<size_t>(n));
}

// A queued request (no_path_retry) hears of its caller's signals through
// FUSE_INTERRUPT, which the kernel sends for requests it waits for
// synchronously (buffered I/O; not async direct I/O, see README).
void watch_interrupt(void* ctx, Interruption* w) {
  auto req = static_cast<fuse_req_t>(ctx);
  if (w) {
    fuse_req_interrupt_func(
        req, [](fuse_req_t, void* data) { static_cast<Interruption*>(data)->interrupted(); }, w);
  } else {
    fuse_req_interrupt_func(req, nullptr, nullptr);  // under the request's lock: no call after this
  }
}
bool caller_dying(void* ctx) { return caller_has_fatal_signal(fuse_req_ctx(static_cast<fuse_req_t>(ctx))->pid); }
constexpr ReplyHooks kHooks{watch_interrupt, caller_dying};

// A request a network path can answer by itself (Volume::submit): true when
// taken, and the worker goes back to /dev/fuse at once.
bool submitted(fuse_req_t req, Volume& v, IoKind kind, size_t size, off_t off, const char* payload,
               void (*done)(void*, const std::byte*, ssize_t)) {
  AsyncPool* pool = Fs::of(req).async();
  if (!pool || !v.may_submit() || size > pool->max_bytes()) return false;
  AsyncRequest* a = pool->acquire();
  if (!a) return false;
  a->kind = kind;
  a->off = static_cast<uint64_t>(off);
  a->len = size;
  a->reply = IoReply{req, done, &kHooks};
  if (v.submit(*a, reinterpret_cast<const std::byte*>(payload))) return true;
  a->release();
  return false;
}
}  // namespace

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept {
  guarded(req, "open", [&] {
    Fs& fs = Fs::of(req);
    InoInfo in = decode_ino(ino);
    if (in.vol_id && in.entry == kVolFile) {
      auto v = fs.registry().find_id(in.vol_id);
      if (!v || v->is_shut_down()) return (void)fuse_reply_err(req, ENOENT);
      if (fs.options().read_only && (fi->flags & O_ACCMODE) != O_RDONLY) return (void)fuse_reply_err(req, EROFS);
      // O_TRUNC is ignored, as on a block device: a volume has a fixed size
      // (see FUSE_CAP_ATOMIC_O_TRUNC in session.cpp).
      auto h = std::make_unique<Handle>();
      h->kind = Handle::Kind::kVolume;
      h->volume = v;
      v->open_ref();
      // Buffered opens may use the page cache: every write goes through
      // this mount, so the cache never holds data older than the paths'.
      fi->keep_cache = 0;
      fi->direct_io = 0;
      fi->fh = reinterpret_cast<uint64_t>(h.release());
      if (fuse_reply_open(req, fi) != 0) {
        // The opener was interrupted: the kernel will never release it.
        v->close_ref();
        delete handle_of(fi);
      }
      return;
    }
    ctl_open(fs, req, ino, fi);
  });
}

void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) noexcept {
  Handle* h = handle_of(fi);
  if (h->kind == Handle::Kind::kVolume) {
    if (off < 0) {
      fuse_reply_err(req, EINVAL);
      return;
    }
    if (submitted(req, *h->volume, IoKind::kRead, size, off, nullptr, reply_read)) return;
    const std::byte* data = nullptr;
    const IoReply reply{req, reply_read, &kHooks};
    const IoResult res = h->volume->read(worker_context(), size, static_cast<uint64_t>(off), &data, &reply);
    if (!res.is_taken_over()) reply_read(req, data, res.value());
    return;
  }
  guarded(req, "read", [&] { ctl_read(req, *h, size, off); });
}

void op_write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off, fuse_file_info* fi) noexcept {
  Handle* h = handle_of(fi);
  if (h->kind == Handle::Kind::kVolume) {
    if (off < 0) {
      fuse_reply_err(req, EINVAL);
      return;
    }
    if (submitted(req, *h->volume, IoKind::kWrite, size, off, buf, reply_write)) return;
    const IoReply reply{req, reply_write, &kHooks};
    const IoResult res = h->volume->write(worker_context(), reinterpret_cast<const std::byte*>(buf), size,
                                          static_cast<uint64_t>(off), &reply);
    if (!res.is_taken_over()) reply_write(req, nullptr, res.value());
    return;
  }
  guarded(req, "write", [&] {
    // A control write may open and read a device that hangs: let another
    // worker serve meanwhile.
    BusyScope busy(worker_context().observer());
    ctl_write(Fs::of(req), req, *h, buf, size);
  });
}

void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) noexcept {
  Handle* h = handle_of(fi);
  if (h->kind != Handle::Kind::kVolume) {
    fuse_reply_err(req, 0);
    return;
  }
  BlockingScope blocking(worker_context().observer());  // a flush can take long
  fuse_reply_err(req, -h->volume->flush());
}

void op_flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept {
  // close(): nothing is buffered in the daemon (writes are applied before
  // they are acknowledged); fsync is where data is made durable.
  fuse_reply_err(req, 0);
}

void op_release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept {
  Handle* h = handle_of(fi);
  if (h->kind == Handle::Kind::kVolume) h->volume->close_ref();
  delete h;
  fuse_reply_err(req, 0);
}

}  // namespace mpathfs::fuse
