// IscsiPathIo: PathIo over one iSCSI session (iscsi_session.hpp).
//
// Requests are READ(16)/WRITE(16) of whole blocks (direct() with align() =
// the LUN's block size: the volume bounces unaligned requests), fdatasync is
// SYNCHRONIZE CACHE(16), the checker's probe TEST UNIT READY.  Answers are
// classified by scsi_sense.hpp; retries that stay on this path (UNIT
// ATTENTION, NOT READY/BUSY/TASK SET FULL with backoff) happen here, bounded
// by io_timeout through abort_inflight(), which drops the session.
#include "core/iscsi/iscsi_path_io.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <new>
#include <thread>

#include "core/connection_settle.hpp"
#include "core/iscsi/iscsi_login.hpp"
#include "core/iscsi/iscsi_session.hpp"
#include "core/iscsi/iscsi_target.hpp"

namespace mpathfs {
namespace {

using iscsi::Action;
using iscsi::Command;

// UNIT ATTENTIONs queue up (a reset, then a capacity change...): a few
// immediate retries clear them; more means the LUN keeps changing.
constexpr int kMaxUnitAttentions = 8;
// NOT READY / BUSY: the pause doubles from 1 ms up to 100 ms.  The bound is
// io_timeout (the watchdog drops the session); this is the bound for
// callers without a watchdog (the checker's probe, open).
constexpr int kMaxBackoffMs = 100;
constexpr int kMaxBackoffTotalMs = 60000;

class IscsiPathIo final : public PathIo {
 public:
  IscsiPathIo(iscsi::Target t, iscsi::Login l, bool read_only)
      : target_(std::move(t)),
        block_(l.block),
        size_(l.blocks * l.block),
        lun_(l.lun),
        id_(std::move(l.device_id)),
        read_only_(read_only),
        session_(std::make_unique<iscsi::Session>(l.ctx, iscsi::SessionParams{l.lun, l.block, target_.shown})) {}

  ssize_t pread(void* buf, size_t len, uint64_t off) noexcept override {
    if (off >= size_) return 0;
    if (len > size_ - off) len = static_cast<size_t>(size_ - off);
    if (len == 0) return 0;
    if (off % block_ || len % block_) return -EINVAL;
    Command c;
    c.op = Command::Op::kRead;
    c.lba = off / block_;
    c.blocks = static_cast<uint32_t>(len / block_);
    c.iov = {buf, len};
    const int r = run(c);
    return r < 0 ? r : static_cast<ssize_t>(len);
  }

  ssize_t pwrite(const void* buf, size_t len, uint64_t off) noexcept override {
    if (read_only_) return -EROFS;
    if (off >= size_ || len > size_ - off) return -ENOSPC;
    if (len == 0) return 0;
    if (off % block_ || len % block_) return -EINVAL;
    Command c;
    c.op = Command::Op::kWrite;
    c.lba = off / block_;
    c.blocks = static_cast<uint32_t>(len / block_);
    c.iov = {const_cast<void*>(buf), len};  // libiscsi only reads it for a write
    const int r = run(c);
    return r < 0 ? r : static_cast<ssize_t>(len);
  }

  int fdatasync() noexcept override {
    Command c;
    c.op = Command::Op::kSync;
    const int r = run(c);
    // A LUN without a write cache may not know SYNCHRONIZE CACHE: nothing to flush.
    return r == -EINVAL ? 0 : r;
  }

  int current_size(uint64_t& out) const noexcept override {
    uint8_t d[32] = {};
    Command c;
    c.op = Command::Op::kReadCapacity;
    c.iov = {d, sizeof d};
    if (int r = run(c); r < 0) return r;
    uint64_t blocks = 0;
    uint32_t block = 0;
    if (!iscsi::parse_capacity16(d, sizeof d, blocks, block)) return -EREMOTEIO;
    out = blocks * block;
    return 0;
  }

  uint64_t size() const noexcept override { return size_; }
  uint32_t sector_size() const noexcept override { return block_; }
  uint32_t align() const noexcept override { return block_; }
  bool direct() const noexcept override { return true; }
  PathKind kind() const noexcept override { return PathKind::kIscsi; }

  // EIO, EROFS, EINVAL, EBADE are only ever the target's answer about the
  // request (MEDIUM ERROR, DATA PROTECT, ILLEGAL REQUEST, RESERVATION
  // CONFLICT): this backend reports transport trouble as ENOTCONN,
  // ETIMEDOUT, ECONNRESET or EREMOTEIO.  A network path is never gone.
  FaultClass classify(int err) const noexcept override {
    if (iscsi::is_target_answer_errno(err) || err == ENOSPC) return FaultClass::kRequest;
    return FaultClass::kPath;
  }

  // dm-multipath's tur checker.
  int probe(void*) noexcept override {
    Command c;
    c.op = Command::Op::kTestUnitReady;
    return run(c, /*backoff=*/false);
  }

  int reconnect() noexcept override {
    if (session_->alive()) return 0;  // failed for another reason: the probe decides
    try {
      auto l = iscsi::login(target_);
      if (!l) {
        // Once per distinct failure, not once per check interval.
        if (reconnect_errno_.exchange(l.error().code) != l.error().code) spdlog::warn("{}", l.error().msg);
        return -l.error().code;
      }
      if (l->device_id != id_ || l->lun != lun_ || l->blocks * l->block != size_ || l->block != block_) {
        spdlog::error("path {}: after reconnecting it leads to another LUN (device {}, size {}); it stays FAIL",
                      target_.shown, l->device_id, l->blocks * l->block);
        iscsi_destroy_context(l->ctx);
        return -EINVAL;
      }
      reconnect_errno_.store(0);
      spdlog::info("path {}: iSCSI session re-established", target_.shown);
      last_answer_.store(0, std::memory_order_relaxed);
      session_->adopt(l->ctx);
      return 0;
    } catch (...) {
      return -ENOMEM;
    }
  }

  // Asynchronous READ(16)/WRITE(16): the Command lives in op.space; a GOOD
  // answer completes on the session's thread, anything else is settled by
  // finish() (the retries of run(), off that thread).
  bool can_submit() const noexcept override { return true; }
  bool submit(PathOp& op) noexcept override {
    static_assert(sizeof(Command) <= PathOp::kBackendSpace && alignof(Command) <= 16);
    if ((op.write && read_only_) || op.off % block_ || op.len % block_ || op.off >= size_ ||
        op.len > size_ - op.off || op.len == 0)
      return false;  // pread/pwrite answer these
    Command* c = new (op.space) Command;
    c->op = op.write ? Command::Op::kWrite : Command::Op::kRead;
    c->lba = op.off / block_;
    c->blocks = static_cast<uint32_t>(op.len / block_);
    c->iov = {op.buf, op.len};
    c->on_done = &IscsiPathIo::on_command_done;
    c->user = &op;
    op.backend = this;
    if (session_->submit(*c)) return true;
    c->~Command();
    return false;
  }
  void finish(PathOp& op) noexcept override {
    Command& c = command_of(op);
    if (op.result < 0) {
      c.on_done = nullptr;  // retries wait for their answer
      const int r = settle(c);
      op.result = r < 0 ? r : static_cast<ssize_t>(op.len);
    }
    c.~Command();
  }

  void abort_inflight() noexcept override { session_->abort(); }
  bool holds_writes_after_abort() const noexcept override { return true; }
  std::string device_id() const override { return id_; }

 private:
  static Command& command_of(PathOp& op) noexcept { return *std::launder(reinterpret_cast<Command*>(op.space)); }
  // The loop thread's side of submit(): a GOOD answer completes the op; any
  // other is not final yet (-EAGAIN), settle() decides in finish().
  static void on_command_done(Command& c) noexcept {
    PathOp& op = *static_cast<PathOp*>(c.user);
    auto* self = static_cast<IscsiPathIo*>(op.backend);
    const bool good = !c.held && iscsi::classify_answer(c.status, c.sense).action == Action::kDone;
    if (good && self->last_answer_.load(std::memory_order_relaxed) != 0)
      self->last_answer_.store(0, std::memory_order_relaxed);
    op.result = good ? static_cast<ssize_t>(op.len) : -EAGAIN;
    op.done(op);
  }

  // Runs c until it has a final answer: 0 or -errno.
  int run(Command& c, bool backoff = true) const noexcept {
    session_->execute(c);
    return settle(c, backoff);
  }
  // c holds an answer: retries on this path until it is final.
  int settle(Command& c, bool backoff = true) const noexcept {
    int unit_attentions = 0;
    int pause_ms = 1, paused_ms = 0;
    for (;; session_->execute(c)) {
      if (c.held) {
        // A write cut loose with its session: the target may still apply it,
        // so it is not answered (the volume's write fence stays up) until
        // the connection has settled.  The watchdog rescues the request
        // meanwhile (holds_writes_after_abort).
        wait_until_settled(c.held->fd, c.held->tcp);
        c.held.reset();
      }
      const iscsi::Verdict v = iscsi::classify_answer(c.status, c.sense);
      switch (v.action) {
        case Action::kDone:
          if (last_answer_.load(std::memory_order_relaxed) != 0) last_answer_.store(0, std::memory_order_relaxed);
          return 0;
        case Action::kRetry:
          note(c);
          if (++unit_attentions <= kMaxUnitAttentions) continue;
          return -EREMOTEIO;
        case Action::kRetryBackoff:
          note(c);
          if (!backoff || paused_ms >= kMaxBackoffTotalMs || !session_->alive()) return -EREMOTEIO;
          std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
          paused_ms += pause_ms;
          pause_ms = pause_ms * 2 > kMaxBackoffMs ? kMaxBackoffMs : pause_ms * 2;
          continue;
        case Action::kRequestError:
        case Action::kPathError: note(c); return -v.err;
      }
    }
  }

  // Logs a SCSI answer once per change of the path's state (the answer
  // differs from the last one logged, or a success came between), never
  // per request.
  void note(const Command& c) const noexcept {
    if (c.status == iscsi::kLibCancelled) return;  // the session drop was logged
    const uint32_t code = (c.status & 0xff) << 24 | uint32_t{c.sense.key} << 16 | uint32_t{c.sense.asc} << 8 |
                          c.sense.ascq | 0x80000000u;
    if (last_answer_.exchange(code, std::memory_order_relaxed) == code) return;
    try {
      spdlog::warn("path {}: the target answered {}", target_.shown, iscsi::describe(c.status, c.sense));
    } catch (...) {
    }
  }

  const iscsi::Target target_;
  const uint32_t block_;
  const uint64_t size_;
  const int lun_;
  const std::string id_;
  const bool read_only_;
  std::unique_ptr<iscsi::Session> session_;
  mutable std::atomic<uint32_t> last_answer_{0};
  std::atomic<int> reconnect_errno_{0};
};

}  // namespace

Result<std::unique_ptr<PathIo>> open_iscsi_path(const std::string& word, const OpenOptions& opt) {
  auto t = iscsi::parse_target(word);
  if (!t) return t.error();
  auto l = iscsi::login(*t);
  if (!l) return l.error();
  try {
    return std::unique_ptr<PathIo>(std::make_unique<IscsiPathIo>(std::move(*t), std::move(*l), opt.read_only));
  } catch (...) {
    iscsi_destroy_context(l->ctx);
    return Error{ENOMEM, "out of memory"};
  }
}

}  // namespace mpathfs
