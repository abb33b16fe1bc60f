// connection_settle: when a connection we shut down with writes in flight
// can no longer deliver them to the server.  Real sockets on this host
// (loopback TCP, a Unix socket pair); the cut-link case needs a test
// network and is covered end to end (nbd_network_test, iscsi_test).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/connection_settle.hpp"

using namespace mpathfs;

namespace {

bool settles_within(int fd, bool tcp, int ms) {
  for (int i = 0; i < ms; ++i) {
    if (connection_settled(fd, tcp)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return connection_settled(fd, tcp);
}

// A connected loopback TCP pair: {client, server-side accepted}.
std::pair<int, int> tcp_pair() {
  const int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(l >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(l, 1) == 0);
  socklen_t al = sizeof a;
  REQUIRE(::getsockname(l, reinterpret_cast<sockaddr*>(&a), &al) == 0);
  const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  const int s = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
  REQUIRE(s >= 0);
  ::close(l);
  return {c, s};
}

}  // namespace

TEST_CASE("connection settle: over TCP only the server's close settles a connection we shut down",
          "[settle]") {
  auto [c, s] = tcp_pair();
  CHECK(is_tcp_socket(c));
  const char req[] = "a write the server has received but not yet read";
  REQUIRE(::write(c, req, sizeof req) == static_cast<ssize_t>(sizeof req));
  shut_connection(c, true);
  // The server's kernel acknowledged everything (a frozen server looks the
  // same): it may still read and apply the request.
  CHECK_FALSE(settles_within(c, true, 200));
  char buf[128];
  CHECK(::read(s, buf, sizeof buf) == static_cast<ssize_t>(sizeof req));  // it can, indeed
  ::close(s);  // the server is done and closes
  CHECK(settles_within(c, true, 2000));
  close_connection(c, true);
}

TEST_CASE("connection settle: over a Unix socket once the server has taken every byte off it", "[settle]") {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  CHECK_FALSE(is_tcp_socket(sv[0]));
  const char req[] = "request";
  REQUIRE(::write(sv[0], req, sizeof req) == static_cast<ssize_t>(sizeof req));
  shut_connection(sv[0], false);
  CHECK_FALSE(connection_settled(sv[0], false));
  char buf[64];
  CHECK(::read(sv[1], buf, sizeof buf) == static_cast<ssize_t>(sizeof req));
  CHECK(connection_settled(sv[0], false));
  close_connection(sv[0], false);
  ::close(sv[1]);
}

TEST_CASE("connection settle: no socket is settled", "[settle]") { CHECK(connection_settled(-1, true)); }
