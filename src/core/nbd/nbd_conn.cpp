#include "core/nbd/nbd_conn.hpp"

#include "core/connection_settle.hpp"

#include <fcntl.h>
#include <libnbd.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

namespace mpathfs {

namespace {

int last_nbd_errno() noexcept {
  const int e = nbd_get_errno();
  return e > 0 ? e : EIO;
}

// libnbd's message, with the URI (which may carry secrets in its query)
// replaced by its redacted form.
std::string nbd_message(const std::string& uri, const std::string& shown) {
  const char* m = nbd_get_error();
  std::string s = m ? m : "";
  for (size_t p; (p = s.find(uri)) != std::string::npos;) s.replace(p, uri.size(), shown);
  return s;
}

}  // namespace

// Filled by the completion callback; lives on the caller's stack.  state:
// 0 pending, 1 answered (err valid).  The callback's notify after the store
// only wakes the futex at that address and reads nothing, so the caller may
// return (and its frame go) as soon as it sees 1.
struct NbdConn::Completion {
  std::atomic<int> state{0};
  int err = 0;
};

NbdConn::NbdConn(nbd_handle* h) : h_(h) {}

Result<std::unique_ptr<NbdConn>> NbdConn::connect(const std::string& uri, const std::string& shown,
                                                   int timeout_ms) {
  nbd_handle* h = nbd_create();
  if (!h) return Error{last_nbd_errno(), "path " + shown + ": cannot create an NBD handle"};
  std::unique_ptr<NbdConn> c(new NbdConn(h));
  // tls-psk-file=, tls-certificates= and socket= name local files.
  nbd_set_uri_allow_local_file(h, true);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto fail = [&](int code, const std::string& why) {
    return Error{code, "path " + shown + ": " + why};
  };
  if (nbd_aio_connect_uri(h, uri.c_str()) < 0) return fail(last_nbd_errno(), nbd_message(uri, shown));
  // nbd_poll with a timeout: the connect and the handshake are bounded.
  while (nbd_aio_is_connecting(h)) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0)
      return fail(ETIMEDOUT, "no NBD handshake within " + std::to_string(timeout_ms / 1000.0).substr(0, 4) + " s");
    if (nbd_poll(h, static_cast<int>(left)) < 0) return fail(last_nbd_errno(), nbd_message(uri, shown));
  }
  if (!nbd_aio_is_ready(h)) {
    const int e = nbd_get_errno();
    return fail(e > 0 ? e : ECONNRESET, nbd_message(uri, shown));
  }
  const int64_t size = nbd_get_size(h);
  if (size < 0) return fail(last_nbd_errno(), nbd_message(uri, shown));
  c->size_ = static_cast<uint64_t>(size);
  if (int64_t mb = nbd_get_block_size(h, LIBNBD_SIZE_MINIMUM); mb > 0) c->min_block_ = static_cast<uint32_t>(mb);
  c->multi_conn_ = nbd_can_multi_conn(h) == 1;
  c->read_only_ = nbd_is_read_only(h) == 1;
  c->can_flush_ = nbd_can_flush(h) == 1;
  // Our own reference to the socket: abort() and settled() use it even
  // after libnbd, seeing the connection die, has closed its descriptor.
  c->sock_ = ::fcntl(nbd_aio_get_fd(h), F_DUPFD_CLOEXEC, 0);
  c->efd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (c->sock_ < 0 || c->efd_ < 0) return fail(errno, "cannot set up the connection's event loop");
  c->tcp_ = is_tcp_socket(c->sock_);
  try {
    c->thread_ = std::thread([p = c.get()] { p->loop(); });
  } catch (...) {
    return fail(EAGAIN, "cannot start the connection's event loop");
  }
  return c;
}

NbdConn::~NbdConn() { release(); }

void NbdConn::release() noexcept {
  if (released_.exchange(true)) return;
  stop_.store(true, std::memory_order_release);
  wake();
  if (thread_.joinable()) thread_.join();
  // nbd_close does not wait for the server (nbd_shutdown would, forever).
  if (h_) nbd_close(h_);
  h_ = nullptr;
  close_connection(sock_, tcp_);  // ours is the last reference
  if (efd_ >= 0) ::close(efd_);
  sock_ = efd_ = -1;
}

bool NbdConn::enter() noexcept {
  users_.fetch_add(1, std::memory_order_seq_cst);
  if (retired_.load(std::memory_order_seq_cst)) {
    leave();
    return false;
  }
  return true;
}

bool NbdConn::idle_retired() const noexcept {
  return retired_.load(std::memory_order_seq_cst) && users_.load(std::memory_order_seq_cst) == 0;
}

void NbdConn::wake() noexcept {
  if (efd_ < 0) return;
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(efd_, &one, sizeof one);
}

void NbdConn::abort() noexcept {
  dead_.store(true, std::memory_order_release);
  shut_connection(sock_, tcp_);  // see connection_settle.hpp
}

bool NbdConn::settled() const noexcept {
  return released_.load(std::memory_order_acquire) || connection_settled(sock_, tcp_);
}

void NbdConn::hold_until_settled() noexcept {
  if (!released_.load(std::memory_order_acquire)) wait_until_settled(sock_, tcp_, &give_up_);
}

int NbdConn::on_complete(void* user_data, int* error) {
  auto* c = static_cast<Completion*>(user_data);
  c->err = *error;
  c->state.store(1, std::memory_order_release);
  c->state.notify_one();
  return 1;  // retire the command: nobody calls nbd_aio_command_completed
}

int NbdConn::wait(int64_t cookie, Completion& c) noexcept {
  if (cookie < 0) {
    // Not issued: the callback never runs.  A dead handle answers "invalid
    // state" (EINVAL), which would read as the request's fault.
    const int e = last_nbd_errno();
    return dead() || nbd_aio_is_dead(h_) || nbd_aio_is_closed(h_) ? -ENOTCONN : -e;
  }
  // The submission may have left bytes to send: the loop must poll for writing.
  if (nbd_aio_get_direction(h_) & LIBNBD_AIO_DIRECTION_WRITE) wake();
  while (c.state.load(std::memory_order_acquire) == 0) c.state.wait(0, std::memory_order_acquire);
  return c.err ? -c.err : 0;
}

ssize_t NbdConn::pread(void* buf, size_t len, uint64_t off) noexcept {
  if (dead()) return -ENOTCONN;
  Completion c;
  const int64_t ck = nbd_aio_pread(h_, buf, len, off, nbd_completion_callback{on_complete, &c, nullptr}, 0);
  const int r = wait(ck, c);
  return r < 0 ? r : static_cast<ssize_t>(len);
}

ssize_t NbdConn::pwrite(const void* buf, size_t len, uint64_t off) noexcept {
  if (dead()) return -ENOTCONN;
  if (read_only_) return -EROFS;
  Completion c;
  const int64_t ck = nbd_aio_pwrite(h_, buf, len, off, nbd_completion_callback{on_complete, &c, nullptr}, 0);
  const int r = wait(ck, c);
  if (r < 0 && ck >= 0 && died()) {
    // Sent, and the connection died under it: the server may still apply
    // it.  Returning lifts the volume's write fence, so not before the
    // connection is settled.
    hold_until_settled();
  }
  return r < 0 ? r : static_cast<ssize_t>(len);
}

bool NbdConn::died() const noexcept { return dead() || nbd_aio_is_dead(h_) || nbd_aio_is_closed(h_); }

int NbdConn::on_op_complete(void* user_data, int* error) {
  auto& op = *static_cast<PathOp*>(user_data);
  op.result = *error ? -*error : static_cast<ssize_t>(op.len);
  op.done(op);
  return 1;  // retire the command
}

bool NbdConn::submit(PathOp& op) noexcept {
  if (dead() || (op.write && read_only_)) return false;  // pwrite/pread answer these
  op.backend = this;
  const nbd_completion_callback cb{on_op_complete, &op, nullptr};
  const int64_t ck = op.write ? nbd_aio_pwrite(h_, op.buf, op.len, op.off, cb, 0)
                              : nbd_aio_pread(h_, op.buf, op.len, op.off, cb, 0);
  if (ck < 0) return false;
  // The submission may have left bytes to send: the loop must poll for writing.
  if (nbd_aio_get_direction(h_) & LIBNBD_AIO_DIRECTION_WRITE) wake();
  return true;
}

void NbdConn::hold_failed_write(const PathOp& op) noexcept {
  if (op.write && op.result < 0 && died()) hold_until_settled();
}

int NbdConn::flush() noexcept {
  if (dead()) return -ENOTCONN;
  if (!can_flush_ || read_only_) return 0;
  Completion c;
  const int64_t ck = nbd_aio_flush(h_, nbd_completion_callback{on_complete, &c, nullptr}, 0);
  return wait(ck, c);
}

void NbdConn::loop() noexcept {
  while (!stop_.load(std::memory_order_acquire)) {
    const unsigned dir = nbd_aio_get_direction(h_);
    struct pollfd p[2] = {{dir ? sock_ : -1, 0, 0}, {efd_, POLLIN, 0}};
    if (dir & LIBNBD_AIO_DIRECTION_READ) p[0].events |= POLLIN;
    if (dir & LIBNBD_AIO_DIRECTION_WRITE) p[0].events |= POLLOUT;
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents) {
      uint64_t v;
      [[maybe_unused]] ssize_t n = ::read(efd_, &v, sizeof v);
    }
    const short r = p[0].revents;
    if ((r & (POLLIN | POLLHUP | POLLERR)) && (dir & LIBNBD_AIO_DIRECTION_READ))
      nbd_aio_notify_read(h_);
    else if ((r & (POLLOUT | POLLHUP | POLLERR)) && (dir & LIBNBD_AIO_DIRECTION_WRITE))
      nbd_aio_notify_write(h_);
    if (nbd_aio_is_dead(h_) || nbd_aio_is_closed(h_)) {
      // libnbd has failed every command in flight; nothing more to drive.
      dead_.store(true, std::memory_order_release);
      break;
    }
  }
}

}  // namespace mpathfs
