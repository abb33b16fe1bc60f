#include "core/iscsi/iscsi_session.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cstring>
#include <ctime>

#include "core/connection_settle.hpp"

namespace mpathfs::iscsi {
namespace {

uint64_t now_ms() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

// Poll at least this often: libiscsi's PDU timeouts and our keepalive run
// from the loop, never from a timer of their own.
constexpr int kPollMs = 250;
constexpr uint64_t kServiceMs = 1000;

// Some libiscsi versions call a NOP's callback unconditionally when the
// session is torn down: give it one.
void nop_done(iscsi_context*, int, void*, void*) {}

}  // namespace

HeldSocket::~HeldSocket() { close_connection(fd, tcp); }

Session::Session(iscsi_context* ctx, SessionParams p)
    : p_(std::move(p)), efd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), ctx_(ctx) {
  last_traffic_ms_ = last_service_ms_ = now_ms();
  thread_ = std::thread([this] { loop(); });
}

Session::~Session() {
  stop_.store(true);
  wake();
  if (thread_.joinable()) thread_.join();
  if (efd_ >= 0) ::close(efd_);
}

void Session::wake() noexcept {
  const uint64_t one = 1;
  // EAGAIN (counter full) still leaves the loop woken.
  [[maybe_unused]] ssize_t n = ::write(efd_, &one, sizeof one);
}

void Session::execute(Command& c) noexcept {
  c.done.store(0, std::memory_order_relaxed);
  if (!alive()) {
    c.status = kLibCancelled;
    return;
  }
  push(c);
  c.done.wait(0, std::memory_order_acquire);
}

bool Session::submit(Command& c) noexcept {
  if (!alive()) return false;
  push(c);
  return true;
}

void Session::push(Command& c) noexcept {
  // Push on the intrusive stack; the first pusher onto an empty stack wakes
  // the loop, later ones ride on that wake-up.
  Command* old = head_.load(std::memory_order_relaxed);
  do {
    c.next = old;
  } while (!head_.compare_exchange_weak(old, &c, std::memory_order_release, std::memory_order_relaxed));
  if (!old) wake();
}

void Session::finish(Command& c, uint32_t status) noexcept {
  c.status = status;
  if (c.on_done) return c.on_done(c);  // asynchronous: c belongs to the callback now
  // The worker may return (and its stack frame go) as soon as it sees done;
  // notify only wakes the futex at that address and reads nothing.
  c.done.store(1, std::memory_order_release);
  c.done.notify_one();
}

void Session::abort() noexcept {
  abort_.store(true, std::memory_order_release);
  wake();
}

void Session::adopt(iscsi_context* fresh) noexcept {
  const uint32_t gen = generation_.load(std::memory_order_acquire);
  iscsi_context* stale = nullptr;
  {
    std::lock_guard lk(mu_);
    stale = pending_;
    pending_ = fresh;
  }
  if (stale) iscsi_destroy_context(stale);  // never taken by the loop: nothing in flight on it
  wake();
  generation_.wait(gen, std::memory_order_acquire);
}

void Session::link(Command& c) noexcept {
  c.iprev = nullptr;
  c.inext = inflight_;
  if (inflight_) inflight_->iprev = &c;
  inflight_ = &c;
}

void Session::unlink(Command& c) noexcept {
  if (c.iprev) c.iprev->inext = c.inext;
  else inflight_ = c.inext;
  if (c.inext) c.inext->iprev = c.iprev;
  c.inext = c.iprev = nullptr;
}

void Session::on_complete(iscsi_context*, int status, void*, void* priv) {
  Command& c = *static_cast<Command*>(priv);
  Session& s = *c.session;
  scsi_task* t = c.task;
  uint32_t st = static_cast<uint32_t>(status);
  if (t && st == kCheckCondition) {
    c.sense.key = static_cast<uint8_t>(t->sense.key);
    c.sense.asc = static_cast<uint8_t>((t->sense.ascq >> 8) & 0xff);
    c.sense.ascq = static_cast<uint8_t>(t->sense.ascq & 0xff);
    c.sense.valid = true;
  }
  if (t && st == kGood) {
    if (c.op == Command::Op::kReadCapacity) {
      const size_t n = t->datain.size > 0 ? static_cast<size_t>(t->datain.size) : 0;
      const size_t m = n < c.iov.iov_len ? n : c.iov.iov_len;
      if (m) std::memcpy(c.iov.iov_base, t->datain.data, m);
      if (m < 12) st = kLibError;
    } else if (c.op == Command::Op::kRead && t->residual_status == SCSI_RESIDUAL_UNDERFLOW && t->residual > 0) {
      st = kLibError;  // a short read of a block range inside the LUN: the target misbehaves
    }
  }
  if (t) scsi_free_scsi_task(t);
  c.task = nullptr;
  s.unlink(c);
  s.last_traffic_ms_ = now_ms();
  finish(c, st);
}

void Session::issue(Command& c) noexcept {
  c.sense = Sense{};
  if (!ctx_) {
    finish(c, kLibCancelled);
    return;
  }
  c.session = this;
  const uint32_t len = c.blocks * p_.block;
  scsi_task* t = nullptr;
  switch (c.op) {
    case Command::Op::kRead:
      t = iscsi_read16_iov_task(ctx_, p_.lun, c.lba, len, static_cast<int>(p_.block), 0, 0, 0, 0, 0, on_complete,
                                &c, &c.iov, 1);
      break;
    case Command::Op::kWrite:
      t = iscsi_write16_iov_task(ctx_, p_.lun, c.lba, nullptr, len, static_cast<int>(p_.block), 0, 0, 0, 0, 0,
                                 on_complete, &c, &c.iov, 1);
      break;
    case Command::Op::kSync:
      t = iscsi_synchronizecache16_task(ctx_, p_.lun, 0, 0, 0, 0, on_complete, &c);
      break;
    case Command::Op::kTestUnitReady: t = iscsi_testunitready_task(ctx_, p_.lun, on_complete, &c); break;
    case Command::Op::kReadCapacity: t = iscsi_readcapacity16_task(ctx_, p_.lun, on_complete, &c); break;
  }
  if (!t) {
    finish(c, kLibError);
    return;
  }
  c.task = t;
  link(c);
}

void Session::take_submissions() noexcept {
  Command* list = head_.exchange(nullptr, std::memory_order_acquire);
  // The stack is LIFO: reverse it so commands go out in arrival order.
  Command* fifo = nullptr;
  while (list) {
    Command* n = list->next;
    list->next = fifo;
    fifo = list;
    list = n;
  }
  while (fifo) {
    Command* n = fifo->next;
    issue(*fifo);
    fifo = n;
  }
}

void Session::drop(const std::string& why) noexcept {
  if (!ctx_) return;
  if (!why.empty()) spdlog::warn("path {}: iSCSI session dropped: {}", p_.name, why);
  alive_.store(false, std::memory_order_release);
  // Tell the target at once (it frees the session's tasks), then cancel
  // ours locally: each callback answers its worker with kLibCancelled.  A
  // write among them may still be applied: it keeps our reference to the
  // socket and its worker waits until the connection has settled.
  const int fd = iscsi_get_fd(ctx_);
  std::shared_ptr<HeldSocket> held;
  if (fd >= 0) {
    const bool tcp = is_tcp_socket(fd);
    bool writes = false;
    for (Command* c = inflight_; c && !writes; c = c->inext) writes = c->op == Command::Op::kWrite;
    if (writes) {
      if (const int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0); dup >= 0) {
        try {
          held = std::make_shared<HeldSocket>(dup, tcp);
        } catch (...) {
          ::close(dup);
        }
      }
    }
    shut_connection(fd, tcp);
  }
  while (inflight_) {
    Command& c = *inflight_;
    if (c.op == Command::Op::kWrite) c.held = held;
    if (iscsi_scsi_cancel_task(ctx_, c.task) != 0) {
      // libiscsi no longer knows it (already answered in part): answer it here.
      scsi_free_scsi_task(c.task);
      c.task = nullptr;
      unlink(c);
      finish(c, kLibCancelled);
    }
  }
  iscsi_destroy_context(ctx_);
  ctx_ = nullptr;
}

void Session::keepalive(uint64_t now) noexcept {
  if (inflight_ || now - last_traffic_ms_ < static_cast<uint64_t>(p_.keepalive_s) * 1000) return;
  if (iscsi_get_nops_in_flight(ctx_) >= p_.max_nops) {
    drop(std::to_string(p_.max_nops) + " NOP-Outs unanswered");
    return;
  }
  if (iscsi_nop_out_async(ctx_, nop_done, nullptr, 0, nullptr) != 0) drop("cannot send a NOP-Out");
  last_traffic_ms_ = now;
}

void Session::loop() noexcept {
  while (!stop_.load(std::memory_order_acquire)) {
    pollfd fds[2] = {{efd_, POLLIN, 0}, {-1, 0, 0}};
    nfds_t n = 1;
    if (ctx_) {
      fds[1] = {iscsi_get_fd(ctx_), static_cast<short>(iscsi_which_events(ctx_)), 0};
      n = 2;
    }
    ::poll(fds, n, kPollMs);
    if (fds[0].revents & POLLIN) {
      uint64_t v;
      [[maybe_unused]] ssize_t r = ::read(efd_, &v, sizeof v);
    }
    if (stop_.load(std::memory_order_acquire)) break;
    const uint64_t now = now_ms();
    iscsi_context* fresh = nullptr;
    {
      std::lock_guard lk(mu_);
      fresh = pending_;
      pending_ = nullptr;
    }
    if (fresh) {
      drop("");
      abort_.store(false);  // an abort meant the session just replaced
      ctx_ = fresh;
      last_traffic_ms_ = last_service_ms_ = now;
      alive_.store(true, std::memory_order_release);
      generation_.fetch_add(1, std::memory_order_release);
      generation_.notify_all();
      continue;  // poll the new context's fd
    }
    if (abort_.exchange(false, std::memory_order_acq_rel)) drop("a request got no answer within io_timeout");
    if (ctx_ && n == 2 && fds[1].revents) {
      if (iscsi_service(ctx_, fds[1].revents) < 0) drop(iscsi_get_error(ctx_));
      last_service_ms_ = now;
    }
    if (ctx_ && now - last_service_ms_ >= kServiceMs) {
      if (iscsi_service(ctx_, 0) < 0) drop(iscsi_get_error(ctx_));  // PDU timeouts
      last_service_ms_ = now;
    }
    if (ctx_ && !iscsi_is_logged_in(ctx_)) drop(std::string("the session ended: ") + iscsi_get_error(ctx_));
    take_submissions();
    if (ctx_) keepalive(now);
  }
  drop("");
  take_submissions();  // anything still queued is answered as cancelled
  std::lock_guard lk(mu_);
  if (pending_) iscsi_destroy_context(pending_);
  pending_ = nullptr;
}

}  // namespace mpathfs::iscsi
