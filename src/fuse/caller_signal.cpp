#include "fuse/caller_signal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace mpathfs::fuse {
namespace {
// The value of a hex signal mask line ("SigPnd:\t0000000000000100").
bool mask_has(const char* text, const char* key, int sig) {
  const char* p = std::strstr(text, key);
  if (!p) return false;
  p += std::strlen(key);
  unsigned long long mask = std::strtoull(p, nullptr, 16);
  return (mask >> (sig - 1)) & 1;
}
}  // namespace

bool caller_has_fatal_signal(pid_t tid) noexcept {
  if (tid <= 0) return false;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", static_cast<int>(tid));
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  return mask_has(buf, "\nSigPnd:", SIGKILL) || mask_has(buf, "\nShdPnd:", SIGKILL);
}

}  // namespace mpathfs::fuse
