// Control-file client I/O (see control_io.hpp): one place for the one-write
// rule, so the CLI and the tests cannot drift apart on it.
#include "core/control_io.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace mpathfs {

int control_write(const std::string& file, std::string_view line) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  // Exactly one write(), never a retry loop: a second write would be a
  // second command.
  ssize_t n = ::write(fd, line.data(), line.size());
  int e = n < 0 ? errno : (static_cast<size_t>(n) != line.size() ? kShortWrite : 0);
  ::close(fd);
  return e;
}

int read_whole_file(const std::string& file, std::string& out) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  out.clear();
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return 0;
}

}  // namespace mpathfs
