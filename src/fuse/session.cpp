// The ops table and the connection settings negotiated in init.
#include <spdlog/spdlog.h>

#include "fuse/fs.hpp"
#include "fuse/tree_changes.hpp"

namespace mpathfs::fuse {
namespace {

// 1 MiB requests: libfuse 3.14 derives max_pages from max_write and its
// receive buffer holds 256 pages, so this is the ceiling.
constexpr unsigned kMaxWrite = 1u << 20;
void op_init(void* userdata, fuse_conn_info* conn) {
  conn->max_write = kMaxWrite;
  // Buffered sequential reads of a volume file: let the kernel read ahead
  // in requests as large as the ones we accept.
  conn->max_readahead = kMaxWrite;
  // Async direct I/O counts as background: the kernel default of 12 would
  // cap an fio depth of 16-32.  Measured: >= 32 gains 20-45% on 4 KiB I/O.
  conn->max_background = kMaxBackground;
  conn->congestion_threshold = kMaxBackground * 3 / 4;
  // Ask only for what the kernel offers: libfuse stops the session with
  // EPROTO when `want` exceeds `capable`.
  auto want = [conn](unsigned cap) {
    if (conn->capable & cap) conn->want |= cap;
  };
  auto drop = [conn](unsigned cap) { conn->want &= ~cap; };
  want(FUSE_CAP_ASYNC_READ);
  want(FUSE_CAP_ASYNC_DIO);
  want(FUSE_CAP_PARALLEL_DIROPS);
  // O_TRUNC reaches open() instead of a setattr(size=0): a volume file
  // ignores it as a block device does (`dd of=MNT/vol0` just works), while
  // truncate(2) still fails with EPERM.
  want(FUSE_CAP_ATOMIC_O_TRUNC);
  // Writes must stay resendable for failover: no splice, no writeback cache.
  drop(FUSE_CAP_SPLICE_READ);
  drop(FUSE_CAP_SPLICE_WRITE);
  drop(FUSE_CAP_SPLICE_MOVE);
  drop(FUSE_CAP_WRITEBACK_CACHE);
  spdlog::debug("fuse: protocol {}.{}, max_write {}, max_background {}", conn->proto_major, conn->proto_minor,
                conn->max_write, conn->max_background);
}

}  // namespace

fuse_lowlevel_ops make_ops() {
  fuse_lowlevel_ops ops{};
  ops.init = op_init;
  ops.lookup = op_lookup;
  ops.getattr = op_getattr;
  ops.setattr = op_setattr;
  ops.readdir = op_readdir;
  ops.statfs = op_statfs;
  ops.open = op_open;
  ops.read = op_read;
  ops.write = op_write;
  ops.fsync = op_fsync;
  ops.flush = op_flush;
  ops.release = op_release;
  refuse_tree_changes(ops);
  return ops;
}

}  // namespace mpathfs::fuse
