#include "core/iscsi/iscsi_target.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/path_open.hpp"

namespace mpathfs::iscsi {

std::string default_initiator_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return kInitiatorPrefix;
  std::string h;
  for (char* c = host; *c; ++c) {
    // IQNs are lower case letters, digits, '-', '.', ':'.
    const char l = static_cast<char>((*c >= 'A' && *c <= 'Z') ? *c - 'A' + 'a' : *c);
    h.push_back((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '-' || l == '.' ? l : '-');
  }
  return std::string(kInitiatorPrefix) + ":" + h;
}

Result<std::string> read_secret_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    const int e = errno;
    return Error{e, "cannot open the secret file " + path};
  }
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return err_inval("secret file " + path + " is not a regular file");
  }
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    ::close(fd);
    return Error{EACCES, "secret file " + path + " may be read by group or others (chmod 600 it)"};
  }
  std::string s;
  char buf[512];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    s.append(buf, static_cast<size_t>(n));
    if (s.size() > 4096) break;
  }
  ::close(fd);
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
  if (s.empty() || s.size() > 255) return err_inval("secret file " + path + " holds no usable CHAP secret");
  return s;
}

Result<Target> parse_target(const std::string& word) {
  Target t;
  t.shown = redact_secrets(word);
  t.initiator = default_initiator_name();
  if (word.rfind("iscsi://", 0) != 0) return err_inval("path " + t.shown + " is not an iscsi:// URI");
  const size_t q = word.find('?');
  t.url = word.substr(0, q);
  // USER[%PASSWORD]@ is taken here, not by libiscsi: 1.19 drops a user
  // given without a password, and the secret may come from a file.
  const size_t auth = 8;
  const size_t slash = t.url.find('/', auth);
  const size_t at = t.url.rfind('@', slash == std::string::npos ? t.url.size() : slash);
  if (at != std::string::npos && at >= auth) {
    const std::string cred = t.url.substr(auth, at - auth);
    const size_t pct = cred.find('%');
    t.user = cred.substr(0, pct);
    if (pct != std::string::npos) t.password = cred.substr(pct + 1);
    t.url.erase(auth, at + 1 - auth);
  }
  if (q == std::string::npos) return t;
  std::string secret_file;
  size_t i = q + 1;
  while (i < word.size()) {
    size_t end = word.find('&', i);
    if (end == std::string::npos) end = word.size();
    const std::string kv = word.substr(i, end - i);
    const size_t eq = kv.find('=');
    const std::string key = kv.substr(0, eq);
    const std::string val = eq == std::string::npos ? std::string() : kv.substr(eq + 1);
    if (key == "secret-file" && !val.empty()) {
      secret_file = val;
    } else if (key == "initiator" && !val.empty()) {
      t.initiator = val;
    } else {
      return err_inval("path " + t.shown + ": unknown parameter '" + key +
                       "' (known: secret-file=PATH, initiator=IQN)");
    }
    i = end + 1;
  }
  if (!secret_file.empty()) {
    if (t.user.empty()) return err_inval("path " + t.shown + ": secret-file needs a user name (iscsi://USER@HOST/...)");
    if (!t.password.empty())
      return err_inval("path " + t.shown + ": a password in the URI and a secret-file; give one");
    auto s = read_secret_file(secret_file);
    if (!s) return Error{s.error().code, "path " + t.shown + ": " + s.error().msg};
    t.password = std::move(*s);
  }
  return t;
}

}  // namespace mpathfs::iscsi
