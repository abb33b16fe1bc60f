#include "core/connection_settle.hpp"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace mpathfs {

bool is_tcp_socket(int fd) noexcept {
  int domain = 0;
  socklen_t dl = sizeof domain;
  return ::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) == 0 && domain != AF_UNIX;
}

void shut_connection(int fd, bool tcp) noexcept {
  if (fd < 0) return;
  if (tcp) {
    const unsigned ms = kCutSettleMs;
    ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms);
  }
  ::shutdown(fd, SHUT_RDWR);
}

// Settled:
//  TCP   the peer's FIN or reset has arrived (CLOSE_WAIT, LAST_ACK, CLOSING,
//        TIME_WAIT), or TCP gave up (CLOSE: after shut_connection, once our
//        bytes stayed unacknowledged for kCutSettleMs — a cut link, where
//        whatever the server did receive it has acted on by then unless it
//        is stalled too).  NBD servers (nbdkit, qemu-nbd) close a connection
//        only after the requests they read from it are done; tgtd closes it
//        first and lets commands already in its backing store finish.
//  Unix  the server has taken every byte we sent off the socket (SIOCOUTQ
//        is 0), or closed it; it may still be executing the last request.
bool connection_settled(int fd, bool tcp) noexcept {
  if (fd < 0) return true;
  if (tcp) {
    struct tcp_info ti{};
    socklen_t len = sizeof ti;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return true;
    switch (ti.tcpi_state) {
      case TCP_CLOSE_WAIT: case TCP_LAST_ACK: case TCP_CLOSING: case TCP_TIME_WAIT: case TCP_CLOSE: return true;
      default: return false;
    }
  }
  int queued = 0;
  if (::ioctl(fd, SIOCOUTQ, &queued) != 0) return true;
  return queued == 0;
}

void wait_until_settled(int fd, bool tcp, const std::atomic<bool>* give_up) noexcept {
  while (!connection_settled(fd, tcp) && !(give_up && give_up->load(std::memory_order_acquire)))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

void close_connection(int fd, bool tcp) noexcept {
  if (fd < 0) return;
  if (tcp) {
    struct linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  ::close(fd);
}

}  // namespace mpathfs
