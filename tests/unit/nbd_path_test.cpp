// The NBD backend's pure parts: error classes, key-file permissions, and
// opening an unreachable server within the bound.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <string>

#include "core/nbd/nbd_path_io.hpp"
#include "core/path_open.hpp"

using namespace mpathfs;

TEST_CASE("nbd: connection errors fail the path over, never gone, request errors are returned", "[nbd]") {
  for (int e : {ENOTCONN, ECONNRESET, ECONNABORTED, EPIPE, ESHUTDOWN, ETIMEDOUT, EIO, EHOSTUNREACH})
    CHECK(classify_nbd_error(e) == FaultClass::kPath);
  for (int e : {EINVAL, ENOSPC, EPERM, EROFS, EFBIG, EOVERFLOW, ENOTSUP})
    CHECK(classify_nbd_error(e) == FaultClass::kRequest);
}

TEST_CASE("nbd: a key file readable by group or others is refused with EACCES", "[nbd]") {
  char dir[] = "/tmp/mpathfs-nbd-unit-XXXXXX";
  REQUIRE(::mkdtemp(dir));
  const std::string key = std::string(dir) + "/k%20ey.psk";  // percent-decoded below
  const std::string real = std::string(dir) + "/k ey.psk";
  FILE* f = std::fopen(real.c_str(), "w");
  REQUIRE(f);
  std::fputs("alice:0123456789abcdef\n", f);
  std::fclose(f);
  const std::string uri = "nbds+unix:///?socket=/nowhere&tls-psk-file=" + key + "&tls-username=alice";
  ::chmod(real.c_str(), 0644);
  auto r = check_nbd_key_files(uri, redact_secrets(uri));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == EACCES);
  CHECK(r.error().msg.find("0644") != std::string::npos);
  CHECK(r.error().msg.find("0123456789") == std::string::npos);
  ::chmod(real.c_str(), 0600);
  CHECK(check_nbd_key_files(uri, redact_secrets(uri)));
  // A missing key file: ENOENT, before any connection.
  CHECK(check_nbd_key_files("nbds://h/?tls-psk-file=/nonexistent.psk", "x").error().code == ENOENT);
  ::unlink(real.c_str());
  ::rmdir(dir);
}

TEST_CASE("nbd: open of a socket nobody serves fails at once with a message naming the URI", "[nbd]") {
  const auto t0 = std::chrono::steady_clock::now();
  auto r = open_path("nbd+unix:///?socket=/nonexistent/mpathfs.sock", OpenOptions{});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ENOENT);
  CHECK(r.error().msg.find("nbd+unix:///?socket=/nonexistent/mpathfs.sock") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
  auto bad = open_path("nbd://", OpenOptions{});
  CHECK_FALSE(bad);
}
