// When a network path gives up on a connection with writes in flight, the
// server may still apply them: neither NBD nor our iSCSI use has an abort
// the server is bound to obey.  A write whose fate is unknown keeps its
// worker (and so the volume's write fence) until the connection is
// *settled*: the server can no longer act on anything we sent.
#pragma once

#include <atomic>

namespace mpathfs {

// After shut_connection, how long bytes we sent may stay unacknowledged
// before the kernel drops a TCP connection (TCP_USER_TIMEOUT).
inline constexpr unsigned kCutSettleMs = 1000;

// A socket of another domain than AF_UNIX.
bool is_tcp_socket(int fd) noexcept;

// Shuts the connection down both ways.  Over TCP it also sets a user
// timeout of kCutSettleMs: on a cut link what we sent stays unacknowledged
// and TCP would resend it for ~15 minutes, delivering a stale write when the
// link returns; with the timeout the kernel drops the connection at its next
// retransmission instead.  A peer whose kernel acknowledges (a frozen server
// on a working link) is unaffected.  Never blocks.
void shut_connection(int fd, bool tcp) noexcept;

// The peer can no longer act on a request we sent on fd (see the .cpp).
bool connection_settled(int fd, bool tcp) noexcept;

// Sleeps until connection_settled(fd, tcp), or until *give_up is set.
void wait_until_settled(int fd, bool tcp, const std::atomic<bool>* give_up = nullptr) noexcept;

// Closes our last reference to a connection: over TCP with a reset, so
// whatever is still unsent is dropped instead of retransmitted.
void close_connection(int fd, bool tcp) noexcept;

}  // namespace mpathfs
