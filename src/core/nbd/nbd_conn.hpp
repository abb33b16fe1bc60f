// NbdConn: one NBD connection, driven by an event-loop thread of its own,
// with as many commands in flight as there are callers.
//
// Why not nbd_pread: every libnbd call takes the handle's lock, so a
// synchronous call from many threads puts one request on the wire at a time,
// and a thread in nbd_poll(-1) blocks the others' submissions.  Here the
// loop thread polls the socket (direction from nbd_aio_get_direction) and an
// eventfd; callers submit with nbd_aio_pread/pwrite/flush and sleep on a
// completion object on their own stack that the completion callback fills
// (C++20 atomic wait/notify): nothing of ours is allocated per request.
//
// Cancelling: abort() shuts the socket down (shutdown(2)), so libnbd sees
// the connection die and fails every command in flight at once (ENOTCONN).
// NBD has no abort, so a write that was in flight then has an unknown fate
// on the server: write() does not return until the connection is settled
// (settled(), see nbd_conn.cpp), which keeps the volume's write fence up.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "core/path_io.hpp"
#include "core/result.hpp"

struct nbd_handle;

namespace mpathfs {

class NbdConn {
 public:

  // Connects to `uri` (the whole word, secrets included) within timeout_ms;
  // `shown` names it in error messages (the redacted word).
  static Result<std::unique_ptr<NbdConn>> connect(const std::string& uri, const std::string& shown, int timeout_ms);
  ~NbdConn();
  NbdConn(const NbdConn&) = delete;
  NbdConn& operator=(const NbdConn&) = delete;

  // Bytes transferred or -errno.  A caller holds the connection with
  // enter()/leave() around these (see retire()).
  ssize_t pread(void* buf, size_t len, uint64_t off) noexcept;
  ssize_t pwrite(const void* buf, size_t len, uint64_t off) noexcept;
  int flush() noexcept;
  // Issues op (PathIo::submit): true when issued, op.done then called from
  // the loop thread; false when not (dead, or libnbd refused it).
  bool submit(PathOp& op) noexcept;
  // For a write that failed on a connection that died under it: returns
  // once the server can no longer apply it (as pwrite holds).
  void hold_failed_write(const PathOp& op) noexcept;

  // Callers inside: false (and not entered) when the connection is retired.
  // Sequentially consistent with retire(): either the caller sees the
  // retirement, or retire's caller sees the caller inside.
  bool enter() noexcept;
  void leave() noexcept { users_.fetch_sub(1, std::memory_order_seq_cst); }
  // One more reference for a caller that already holds one (enter), even
  // once retired: it outlives the first, which an op may give back at once.
  void pin() noexcept { users_.fetch_add(1, std::memory_order_seq_cst); }
  int users() const noexcept { return users_.load(std::memory_order_relaxed); }
  // No new caller gets in; once users() is 0, release() may run.
  void retire() noexcept { retired_.store(true, std::memory_order_seq_cst); }
  bool idle_retired() const noexcept;
  // Stops the loop and closes the handle (the object stays: a caller that
  // loaded its address before retirement may still call enter()).
  void release() noexcept;

  // Shut the socket: every command in flight fails at once.  Never blocks.
  void abort() noexcept;
  // The connection is dead (aborted, or broken by the peer).
  bool dead() const noexcept { return dead_.load(std::memory_order_acquire); }
  // The peer can no longer act on anything we sent (see nbd_conn.cpp).
  bool settled() const noexcept;
  // Wakes writes held for settlement (the path is being destroyed).
  void give_up_holds() noexcept { give_up_.store(true, std::memory_order_release); }

  uint64_t size() const noexcept { return size_; }
  uint32_t min_block() const noexcept { return min_block_; }
  bool multi_conn() const noexcept { return multi_conn_; }
  bool read_only() const noexcept { return read_only_; }

 private:
  struct Completion;
  explicit NbdConn(nbd_handle* h);
  static int on_complete(void* user_data, int* error);
  static int on_op_complete(void* user_data, int* error);
  bool died() const noexcept;
  int wait(int64_t cookie, Completion& c) noexcept;
  void wake() noexcept;
  void loop() noexcept;
  void hold_until_settled() noexcept;

  nbd_handle* h_;
  int sock_ = -1;  // our dup of libnbd's socket: stays valid after libnbd closes its own
  int efd_ = -1;   // wakes the loop: a submission wants to write, or stop
  bool tcp_ = false;
  uint64_t size_ = 0;
  uint32_t min_block_ = 1;
  bool multi_conn_ = false, read_only_ = false, can_flush_ = false;
  std::atomic<int> users_{0};
  std::atomic<bool> retired_{false}, released_{false}, dead_{false}, stop_{false}, give_up_{false};
  std::thread thread_;
};

}  // namespace mpathfs
