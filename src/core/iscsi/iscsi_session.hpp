// Session: one libiscsi context and the event-loop thread that owns it.
//
// libiscsi 1.19 is not thread-safe, and its sync calls each run an event
// loop of their own, so a context shared by the daemon's workers would need
// a lock around every call and would allow one command in flight at a time.
// Instead one thread per session drives the context (iscsi_which_events,
// poll, iscsi_service) and the workers hand it Commands: a Command lives on
// the worker's stack, goes on a lock-free intrusive stack (a CAS, no
// allocation of ours), an eventfd wakes the loop, and the worker sleeps on
// the Command's atomic (futex) until the loop's callback fills in the answer.
// Any number of commands are in flight per session.
//
// libiscsi's automatic reconnect is off: it retries forever and silently
// re-sends queued commands, i.e. a dead path that queues forever.  A broken
// session is dropped instead — every command in flight completes at once as
// cancelled (ENOTCONN) and fails over — and the checker logs in afresh
// (adopt()).  A write in flight when the session is dropped is answered
// only once the connection has settled (it may still reach the LUN).
// Per-PDU timeouts are enforced only from iscsi_service, so the
// loop services the context at least once a second even when idle, and it
// sends a NOP-Out on an idle session so a dead one is found before I/O
// needs it.
#pragma once

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "core/iscsi/scsi_sense.hpp"
#include "core/mutex.hpp"

namespace mpathfs::iscsi {

class Session;

// Our reference to a dropped session's socket, kept while writes that were
// in flight on it wait until the target can no longer apply them
// (core/connection_settle.hpp).  The last holder closes it.
struct HeldSocket {
  HeldSocket(int f, bool t) : fd(f), tcp(t) {}
  ~HeldSocket();
  HeldSocket(const HeldSocket&) = delete;
  HeldSocket& operator=(const HeldSocket&) = delete;
  const int fd;
  const bool tcp;
};

struct Command {
  enum class Op : uint8_t { kRead, kWrite, kSync, kTestUnitReady, kReadCapacity };
  Op op = Op::kRead;
  uint64_t lba = 0;
  uint32_t blocks = 0;
  scsi_iovec iov{};  // the caller's buffer; libiscsi reads/writes it in place
  // Answer, written by the loop before `done`.
  uint32_t status = 0;
  Sense sense;
  // Set with a cancelled write that may have reached the target: wait until
  // it settles before answering (only on a session drop; null otherwise).
  std::shared_ptr<HeldSocket> held;
  // Asynchronous (Session::submit): called on the loop thread with the
  // answer in place of waking a waiter; `user` is the caller's.
  void (*on_done)(Command& c) noexcept = nullptr;
  void* user = nullptr;
  // Loop-private.
  scsi_task* task = nullptr;
  Session* session = nullptr;
  Command* next = nullptr;                              // submission stack
  Command* inext = nullptr;                             // in-flight list
  Command* iprev = nullptr;
  std::atomic<uint32_t> done{0};
};

struct SessionParams {
  int lun = 0;
  uint32_t block = 512;
  std::string name;       // the path's shown name, for logs
  int keepalive_s = 5;    // NOP-Out after this long without traffic
  int max_nops = 3;       // unanswered NOP-Outs before the session is dropped
};

class Session {
 public:
  // Takes ownership of a logged-in context and starts its loop.
  Session(iscsi_context* ctx, SessionParams p);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Runs c on the session and waits for its answer (c.status, c.sense).
  // On a dropped session: status kLibCancelled at once.
  void execute(Command& c) noexcept;
  // Issues c without waiting: c.on_done is called from the loop thread with
  // the answer.  False (and nothing called) on a dropped session.
  bool submit(Command& c) noexcept;
  // Drops the session now (io_timeout): whatever is in flight completes
  // cancelled.  Does not block.
  void abort() noexcept;
  // Replaces the (dropped) session by a freshly logged-in context and
  // returns when the loop drives it.
  void adopt(iscsi_context* fresh) noexcept;
  bool alive() const noexcept { return alive_.load(std::memory_order_acquire); }

 private:
  void loop() noexcept;
  void take_submissions() noexcept;
  void issue(Command& c) noexcept;
  void drop(const std::string& why) noexcept;  // loop thread only
  void keepalive(uint64_t now_ms) noexcept;
  void wake() noexcept;
  void push(Command& c) noexcept;
  static void on_complete(iscsi_context* ctx, int status, void* data, void* priv);
  static void finish(Command& c, uint32_t status) noexcept;

  const SessionParams p_;
  const int efd_;
  std::atomic<Command*> head_{nullptr};
  std::atomic<bool> stop_{false};
  std::atomic<bool> abort_{false};
  std::atomic<bool> alive_{true};
  std::atomic<uint32_t> generation_{0};  // contexts adopted by the loop
  Mutex mu_;
  iscsi_context* pending_ GUARDED_BY(mu_) = nullptr;
  // Loop thread only.
  iscsi_context* ctx_;
  Command* inflight_ = nullptr;  // issued, not yet answered
  void link(Command& c) noexcept;
  void unlink(Command& c) noexcept;
  uint64_t last_traffic_ms_ = 0;
  uint64_t last_service_ms_ = 0;
  std::thread thread_;
};

}  // namespace mpathfs::iscsi
