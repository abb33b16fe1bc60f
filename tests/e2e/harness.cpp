#include "e2e/harness.hpp"

#include "e2e/tools.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef MPATHFS_BIN
#define MPATHFS_BIN "mpathfs"
#endif

namespace mpathfs::e2e {

namespace fs = std::filesystem;

namespace {

std::string sys_error(const std::string& what, int e) { return what + ": " + errno_name(e) + " (" + std::strerror(e) + ")"; }

[[noreturn]] void throw_errno(const std::string& what) { throw std::runtime_error(sys_error(what, errno)); }

std::atomic<bool> g_test_failed{false};

bool should_dump_logs() { return g_test_failed.load() || std::uncaught_exceptions() > 0; }

void dump_log(const std::string& title, const std::string& text) {
  std::cerr << "----- " << title << " -----\n" << text;
  if (!text.empty() && text.back() != '\n') std::cerr << '\n';
  std::cerr << "----- end of " << title << " -----\n";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<char*> make_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (auto& a : v) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

// Child side of a fork: only async-signal-safe calls.
[[noreturn]] void exec_child(char* const* argv, int out_fd, int death_sig, pid_t parent) {
  if (death_sig > 0) ::prctl(PR_SET_PDEATHSIG, death_sig);
  if (::getppid() != parent) ::_exit(126);  // the parent died before prctl
  int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) ::dup2(devnull, 0);
  ::dup2(out_fd, 1);
  ::dup2(out_fd, 2);
  ::execvp(argv[0], argv);
  const char msg[] = "exec failed\n";
  (void)!::write(2, msg, sizeof msg - 1);
  ::_exit(127);
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::vector<std::string> mountpoints() {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string id, parent, dev, root, mnt;
    ls >> id >> parent >> dev >> root >> mnt;
    // Unescape \040 etc.
    std::string u;
    for (size_t i = 0; i < mnt.size(); ++i) {
      if (mnt[i] == '\\' && i + 3 < mnt.size() && std::isdigit(static_cast<unsigned char>(mnt[i + 1]))) {
        u.push_back(static_cast<char>((mnt[i + 1] - '0') * 64 + (mnt[i + 2] - '0') * 8 + (mnt[i + 3] - '0')));
        i += 3;
      } else {
        u.push_back(mnt[i]);
      }
    }
    out.push_back(u);
  }
  return out;
}

std::mutex g_nbd_mu;
std::vector<NbdPath*> g_nbd_live;

}  // namespace

// ================================================================ processes

bool RunResult::exited() const { return !timed_out && WIFEXITED(status); }
int RunResult::exit_code() const { return exited() ? WEXITSTATUS(status) : -1; }
std::string RunResult::describe() const {
  std::string s;
  if (timed_out)
    s = "timed out";
  else if (WIFEXITED(status))
    s = "exit " + std::to_string(WEXITSTATUS(status));
  else if (WIFSIGNALED(status))
    s = "signal " + std::to_string(WTERMSIG(status));
  else
    s = "status " + std::to_string(status);
  return s + "; output:\n" + output;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

RunResult run(const std::vector<std::string>& argv, double timeout_s) {
  RunResult r;
  // A missing tool reads as "install PACKAGE", not as exec's exit 127 alone.
  if (std::string miss = missing_tool_message(argv.at(0)); !miss.empty()) {
    r.status = 127 << 8;
    r.output = miss + "\n";
    return r;
  }
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe2");
  auto cargv = make_argv(argv);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) exec_child(cargv.data(), p[1], SIGKILL, parent);
  ::close(p[1]);
  ::fcntl(p[0], F_SETFL, O_NONBLOCK);
  double deadline = now_s() + timeout_s;
  bool reaped = false;
  char buf[4096];
  for (;;) {
    // Drain what is there.
    for (;;) {
      ssize_t n = ::read(p[0], buf, sizeof buf);
      if (n > 0) {
        r.output.append(buf, static_cast<size_t>(n));
        continue;
      }
      break;
    }
    if (reaped) break;  // drained after exit (a daemonized grandchild may hold the pipe)
    int st = 0;
    pid_t w = ::waitpid(pid, &st, WNOHANG);
    if (w == pid) {
      r.status = st;
      reaped = true;
      continue;  // one more drain
    }
    if (now_s() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      r.status = st;
      r.timed_out = true;
      break;
    }
    pollfd pfd{p[0], POLLIN, 0};
    ::poll(&pfd, 1, 10);
  }
  ::close(p[0]);
  return r;
}

pid_t spawn(const std::vector<std::string>& argv, const std::string& log_file, int death_sig) {
  require_tool(argv.at(0));
  int out = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) throw_errno("open " + log_file);
  auto cargv = make_argv(argv);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(out);
    throw std::runtime_error(sys_error("fork", e));
  }
  if (pid == 0) exec_child(cargv.data(), out, death_sig, parent);
  ::close(out);
  return pid;
}

bool wait_child(pid_t pid, double timeout_s, int* status) {
  if (pid <= 0) return true;
  double deadline = now_s() + timeout_s;
  for (;;) {
    int st = 0;
    pid_t w = ::waitpid(pid, &st, WNOHANG);
    if (w == pid || (w < 0 && errno == ECHILD)) {
      if (status) *status = st;
      return true;
    }
    if (now_s() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void stop_child(pid_t pid, double grace_s, int first_sig) {
  if (pid <= 0) return;
  if (wait_child(pid, 0)) return;
  ::kill(pid, first_sig > 0 ? first_sig : SIGTERM);
  if (wait_child(pid, grace_s)) return;
  ::kill(pid, SIGKILL);
  int st;
  ::waitpid(pid, &st, 0);
}

bool wait_gone(pid_t pid, double timeout_s) {
  if (pid <= 0) return true;
  return wait_until(
      [&] {
        if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
        // A zombie has exited; its parent (not us) reaps it when it likes.
        std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
        auto rp = stat.rfind(')');
        return rp != std::string::npos && rp + 2 < stat.size() && stat[rp + 2] == 'Z';
      },
      timeout_s);
}

bool wait_until(const std::function<bool()>& pred, double timeout_s, double step_s) {
  double deadline = now_s() + timeout_s;
  for (;;) {
    if (pred()) return true;
    if (now_s() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::duration<double>(step_s));
  }
}

// ================================================================ files

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = o.release();
  }
  return *this;
}
Fd::~Fd() { close(); }
void Fd::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Fd open_fd(const std::string& path, int flags, mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) throw_errno("open " + path);
  return Fd(fd);
}

int try_open(const std::string& path, int flags, Fd& out) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  out = Fd(fd);
  return 0;
}

AlignedBuf::AlignedBuf(size_t n, size_t align) : n_(n) {
  void* p = nullptr;
  if (::posix_memalign(&p, align, std::max<size_t>(n, align)) != 0) throw std::bad_alloc();
  p_ = static_cast<uint8_t*>(p);
  std::memset(p_, 0, std::max<size_t>(n, align));
}
AlignedBuf::~AlignedBuf() { std::free(p_); }

TempDir::TempDir(std::string_view tag) {
  std::string templ = "/tmp/" + std::string(tag) + ".XXXXXX";
  if (!::mkdtemp(templ.data())) throw_errno("mkdtemp " + templ);
  path_ = templ;
}

TempDir::~TempDir() {
  // Whatever a crashed test left: loop devices on our files, then mounts
  // (deepest first), then the tree.
  std::error_code ec;
  for (auto& e : fs::directory_iterator("/sys/block", ec)) {
    std::string name = e.path().filename();
    if (name.rfind("loop", 0) != 0) continue;
    std::ifstream bf(e.path() / "loop" / "backing_file");
    std::string backing;
    if (std::getline(bf, backing) && backing.rfind(path_ + "/", 0) == 0)
      run({"losetup", "-d", "/dev/" + name}, 10);
  }
  auto mps = mountpoints();
  std::sort(mps.begin(), mps.end(), [](auto& a, auto& b) { return a.size() > b.size(); });
  for (auto& m : mps)
    if (m.rfind(path_ + "/", 0) == 0) unmount(m);
  fs::remove_all(path_, ec);
  if (ec) std::cerr << "TempDir: cannot remove " << path_ << ": " << ec.message() << "\n";
}

std::string TempDir::mkdir(std::string_view name) const {
  std::string p = *this / name;
  if (::mkdir(p.c_str(), 0755) != 0 && errno != EEXIST) throw_errno("mkdir " + p);
  return p;
}

void fill_pattern(uint8_t* dst, uint64_t seed, uint64_t off, size_t len) {
  uint64_t salt = splitmix64(seed * 0x2545f4914f6cdd1dull + 0x1234567ull);
  size_t i = 0;
  while (i < len) {
    uint64_t pos = off + i;
    uint64_t word = splitmix64(salt ^ (pos >> 3));
    unsigned b = static_cast<unsigned>(pos & 7);
    for (; b < 8 && i < len; ++b, ++i) dst[i] = static_cast<uint8_t>(word >> (8 * b));
  }
}

Bytes pattern(uint64_t seed, uint64_t off, size_t len) {
  Bytes b(len);
  fill_pattern(b.data(), seed, off, len);
  return b;
}

std::string make_pattern_file(const std::string& path, uint64_t size, uint64_t seed) {
  Fd f = open_fd(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  Bytes chunk(MiB);
  for (uint64_t off = 0; off < size; off += chunk.size()) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(chunk.size(), size - off));
    fill_pattern(chunk.data(), seed, off, n);
    if (int e = pwrite_all(f.get(), chunk.data(), n, off)) throw std::runtime_error(sys_error("write " + path, e));
  }
  if (::fsync(f.get()) != 0) throw_errno("fsync " + path);
  return path;
}

std::string make_zero_file(const std::string& path, uint64_t size) {
  Fd f = open_fd(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (::ftruncate(f.get(), static_cast<off_t>(size)) != 0) throw_errno("ftruncate " + path);
  return path;
}

int pwrite_all(int fd, const void* buf, size_t len, uint64_t off) {
  auto p = static_cast<const uint8_t*>(buf);
  while (len > 0) {
    ssize_t n = ::pwrite(fd, p, len, static_cast<off_t>(off));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    p += n;
    len -= static_cast<size_t>(n);
    off += static_cast<uint64_t>(n);
  }
  return 0;
}

ssize_t pread_all(int fd, void* buf, size_t len, uint64_t off) {
  auto p = static_cast<uint8_t*>(buf);
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::pread(fd, p + done, len - done, static_cast<off_t>(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

Bytes read_range(const std::string& path, uint64_t off, size_t len, bool direct) {
  Fd f;
  bool is_direct = false;
  if (direct && try_open(path, O_RDONLY | O_DIRECT, f) == 0) is_direct = true;
  if (!is_direct) f = open_fd(path, O_RDONLY);
  Bytes out;
  if (!is_direct) {
    out.resize(len);
    ssize_t n = pread_all(f.get(), out.data(), len, off);
    if (n < 0) throw std::runtime_error(sys_error("read " + path, static_cast<int>(-n)));
    out.resize(static_cast<size_t>(n));
    return out;
  }
  constexpr uint64_t kA = 4096;
  uint64_t a0 = off & ~(kA - 1);
  uint64_t a1 = (off + len + kA - 1) & ~(kA - 1);
  AlignedBuf buf(static_cast<size_t>(a1 - a0));
  ssize_t n = pread_all(f.get(), buf.data(), buf.size(), a0);
  if (n < 0) throw std::runtime_error(sys_error("read (O_DIRECT) " + path, static_cast<int>(-n)));
  uint64_t got_end = a0 + static_cast<uint64_t>(n);
  if (got_end <= off) return out;
  size_t m = static_cast<size_t>(std::min<uint64_t>(off + len, got_end) - off);
  out.assign(buf.data() + (off - a0), buf.data() + (off - a0) + m);
  return out;
}

uint64_t fnv1a(const uint8_t* p, size_t n, uint64_t h) {
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

std::string first_difference(const Bytes& got, const Bytes& want, uint64_t base_off) {
  if (got == want) return "";
  std::ostringstream ss;
  if (got.size() != want.size()) ss << "size " << got.size() << " != expected " << want.size() << "; ";
  size_t n = std::min(got.size(), want.size());
  for (size_t i = 0; i < n; ++i) {
    if (got[i] != want[i]) {
      size_t j = i;
      while (j < n && got[j] != want[j]) ++j;
      ss << "first difference at offset " << (base_off + i) << " (got 0x" << std::hex << int(got[i])
         << ", want 0x" << int(want[i]) << std::dec << "), differing run of " << (j - i) << " bytes";
      return ss.str();
    }
  }
  return ss.str();
}

std::string read_file(const std::string& path) {
  std::string out;
  if (int e = try_read_file(path, out)) throw std::runtime_error(sys_error("read " + path, e));
  return out;
}

int try_read_file(const std::string& path, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  Fd f(fd);
  out.clear();
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return 0;
}

void write_text_file(const std::string& path, std::string_view text) {
  Fd f = open_fd(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (int e = pwrite_all(f.get(), text.data(), text.size(), 0)) throw std::runtime_error(sys_error("write " + path, e));
}

uint64_t file_size(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) throw_errno("stat " + path);
  if (S_ISBLK(st.st_mode)) {
    Fd f = open_fd(path, O_RDONLY);
    uint64_t sz = 0;
    if (::ioctl(f.get(), BLKGETSIZE64, &sz) != 0) throw_errno("BLKGETSIZE64 " + path);
    return sz;
  }
  return static_cast<uint64_t>(st.st_size);
}

// ================================================================ control

int ctl_write(const std::string& path, std::string_view text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  Fd f(fd);
  ssize_t n = ::write(fd, text.data(), text.size());  // exactly one write()
  if (n < 0) return errno;
  if (static_cast<size_t>(n) != text.size()) return -1;
  return 0;
}

std::string errno_name(int e) {
  if (e == 0) return "0";
  if (e == -1) return "-1 (short write)";
  if (const char* n = ::strerrorname_np(e)) return n;
  return "errno " + std::to_string(e);
}

const StatusVolume* StatusTable::find(std::string_view name) const {
  for (auto& v : volumes)
    if (v.name == name) return &v;
  return nullptr;
}

namespace {
std::pair<std::string, std::string> parse_component(const std::string& raw, const std::string& line) {
  std::string c = raw;
  while (!c.empty() && (c.back() == ' ' || c.back() == '\t')) c.pop_back();
  auto open = c.rfind(" (");
  if (open == std::string::npos || c.empty() || c.back() != ')')
    throw std::runtime_error("status: cannot parse component in line: '" + line + "'");
  std::string path = c.substr(0, open);
  while (!path.empty() && path.back() == ' ') path.pop_back();
  return {path, c.substr(open + 2, c.size() - open - 3)};
}
}  // namespace

StatusTable parse_status(const std::string& text) {
  StatusTable t;
  std::istringstream in(text);
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (header) {
      t.header = line;
      header = false;
      continue;
    }
    if (line[0] != ' ' && line[0] != '\t') {
      std::istringstream ls(line);
      StatusVolume v;
      ls >> v.name >> v.state;
      if (v.state.empty()) throw std::runtime_error("status: no state in line: '" + line + "'");
      std::string rest;
      std::getline(ls, rest);
      size_t s = rest.find_first_not_of(" \t");
      if (s != std::string::npos) v.paths.push_back(parse_component(rest.substr(s), line));
      t.volumes.push_back(std::move(v));
    } else {
      if (t.volumes.empty()) throw std::runtime_error("status: component before any volume: '" + line + "'");
      size_t s = line.find_first_not_of(" \t");
      t.volumes.back().paths.push_back(parse_component(line.substr(s), line));
    }
  }
  if (header) throw std::runtime_error("status: empty (no header line)");
  return t;
}

json status_json(const std::string& mnt, const std::string& vol) {
  std::string text = read_file(mnt + "/ctl/" + vol + "/status.json");
  try {
    return json::parse(text);
  } catch (const std::exception& e) {
    throw std::runtime_error("status.json of " + vol + " does not parse (" + e.what() + "): " + text);
  }
}

const json& path_entry(const json& st, const std::string& path) {
  for (auto& p : st.at("paths"))
    if (p.at("path") == path) return p;
  throw std::runtime_error("path " + path + " not in status.json: " + st.dump());
}

std::string path_state(const json& st, const std::string& path) { return path_entry(st, path).at("state"); }

std::vector<std::string> path_names(const json& st) {
  std::vector<std::string> v;
  for (auto& p : st.at("paths")) v.push_back(p.at("path"));
  return v;
}

std::vector<std::string> path_states(const json& st) {
  std::vector<std::string> v;
  for (auto& p : st.at("paths")) v.push_back(p.at("state"));
  return v;
}

// ================================================================ config

json volume_spec(const std::string& name, const std::vector<std::string>& paths, const std::string& mode) {
  json v = {{"name", name}, {"paths", paths}};
  if (!mode.empty()) v["mode"] = mode;
  return v;
}

std::string write_config(const TempDir& tmp, const json& options, const json& volumes, const std::string& name) {
  json cfg = {{"options", options}, {"volumes", volumes}};
  std::string p = tmp / name;
  write_text_file(p, cfg.dump(2));
  return p;
}

json quiet_options() {
  return {{"workers", 4}, {"check_interval", 60}, {"no_path_retry", 0}, {"failback", "manual"}, {"io_timeout", 10}};
}

std::vector<std::string> make_path_files(const TempDir& tmp, int n, uint64_t size, uint64_t seed,
                                         const std::string& prefix) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(make_pattern_file(tmp / (prefix + std::to_string(i) + ".img"), size, seed));
  return out;
}

// ================================================================ mounts

bool is_mountpoint(const std::string& dir) {
  std::string real = dir;
  char buf[PATH_MAX];
  // realpath() would stat the mount point itself, which may hang on a dead
  // FUSE server: resolve the parent instead.
  fs::path p(dir);
  if (::realpath(p.parent_path().c_str(), buf)) real = (fs::path(buf) / p.filename()).string();
  for (auto& m : mountpoints())
    if (m == real) return true;
  return false;
}

void unmount(const std::string& dir) {
  if (!is_mountpoint(dir)) return;
  run({"fusermount3", "-u", dir}, 10);
  if (!is_mountpoint(dir)) return;
  run({"fusermount3", "-uz", dir}, 10);
  if (is_mountpoint(dir)) run({"umount", "-l", dir}, 10);
}

// ================================================================ the daemon

Daemon::Daemon(const TempDir& tmp, Options o) {
  mnt_ = o.mnt.empty() ? tmp.mkdir("mnt") : o.mnt;
  if (!fs::exists(mnt_)) fs::create_directories(mnt_);
  log_file_ = tmp / ("daemon-" + fs::path(mnt_).filename().string() + ".log");
  std::vector<std::string> argv = {MPATHFS_BIN, "-f"};
  for (auto& a : o.extra_args) argv.push_back(a);
  if (!o.opts.empty()) {
    argv.push_back("-o");
    argv.push_back(o.opts);
  }
  argv.push_back(o.source);
  argv.push_back(mnt_);
  {
    std::ofstream lf(log_file_, std::ios::app);
    lf << "# " << join(argv) << "\n";
  }
  pid_ = spawn(argv, log_file_, SIGTERM);
  try {
    wait_ready(o.ready_timeout);
  } catch (...) {
    shutdown();
    throw;
  }
}

std::unique_ptr<Daemon> Daemon::adopt(const TempDir&, const std::string& mnt, pid_t pid, const std::string& log_file) {
  std::unique_ptr<Daemon> d(new Daemon());
  d->mnt_ = mnt;
  d->pid_ = pid;
  d->child_ = false;
  d->log_file_ = log_file;
  return d;
}

void Daemon::wait_ready(double timeout_s) {
  double deadline = now_s() + timeout_s;
  std::string parent = fs::path(mnt_).parent_path();
  for (;;) {
    int st = 0;
    pid_t w = ::waitpid(pid_, &st, WNOHANG);
    if (w == pid_) {
      pid_ = -1;
      RunResult r;
      r.status = st;
      throw std::runtime_error("mpathfs exited before its mount was ready (" + r.describe() + log() + ")");
    }
    struct stat sm{}, sp{};
    if (::stat(mnt_.c_str(), &sm) == 0 && ::stat(parent.c_str(), &sp) == 0 && sm.st_dev != sp.st_dev) {
      std::string text;
      if (try_read_file(mnt_ + "/status", text) == 0) return;
    }
    if (now_s() >= deadline)
      throw std::runtime_error("mpathfs mount " + mnt_ + " not ready after " + std::to_string(timeout_s) +
                               " s; log:\n" + log());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Daemon::~Daemon() { shutdown(); }

std::string Daemon::log() const { return log_file_.empty() ? std::string() : slurp(log_file_); }

bool Daemon::alive() const {
  if (pid_ <= 0) return false;
  if (child_) {
    int st;
    return ::waitpid(pid_, &st, WNOHANG) == 0;
  }
  return ::kill(pid_, 0) == 0;
}

int Daemon::signal_and_wait(int sig, double timeout_s) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, sig);
  if (child_) {
    int st = 0;
    if (!wait_child(pid_, timeout_s, &st)) return -1;
    pid_ = -1;
    return st;
  }
  if (!wait_gone(pid_, timeout_s)) return -1;
  pid_ = -1;
  return 0;
}

void Daemon::shutdown() {
  if (done_) return;
  done_ = true;
  const bool trace = std::getenv("MPATHFS_E2E_TRACE") != nullptr;
  double t0 = now_s();
  NbdPath::thaw_all();
  unmount(mnt_);
  if (trace) std::cerr << "[e2e] " << mnt_ << ": unmounted after " << now_s() - t0 << " s\n";
  if (pid_ > 0) {
    if (child_) {
      if (!wait_child(pid_, 3)) {
        std::cerr << "[e2e] mpathfs (pid " << pid_ << ") still running 3 s after unmount: SIGTERM\n";
        stop_child(pid_, 5, SIGTERM);
      }
      if (trace) std::cerr << "[e2e] " << mnt_ << ": daemon reaped after " << now_s() - t0 << " s\n";
    } else {
      if (!wait_gone(pid_, 3)) {
        ::kill(pid_, SIGTERM);
        if (!wait_gone(pid_, 5)) {
          ::kill(pid_, SIGKILL);
          wait_gone(pid_, 5);
        }
      }
    }
    pid_ = -1;
  }
  if (should_dump_logs()) dump_log("mpathfs log (" + mnt_ + ")", log());
}

StartResult start_daemonizing(const std::string& source, const std::string& mnt, const std::string& opts,
                              double timeout_s) {
  std::vector<std::string> argv = {MPATHFS_BIN};
  if (!opts.empty()) {
    argv.push_back("-o");
    argv.push_back(opts);
  }
  argv.push_back(source);
  argv.push_back(mnt);
  StartResult r;
  r.run = run(argv, timeout_s);
  r.daemon_pid = find_daemon_pid(mnt);
  return r;
}

pid_t find_daemon_pid(const std::string& mnt) {
  std::error_code ec;
  pid_t self = ::getpid();
  for (auto& e : fs::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid == self) continue;
    std::string cmd = slurp("/proc/" + name + "/cmdline");
    std::vector<std::string> args;
    size_t s = 0;
    for (size_t i = 0; i < cmd.size(); ++i)
      if (cmd[i] == '\0') {
        args.push_back(cmd.substr(s, i - s));
        s = i + 1;
      }
    if (args.empty() || fs::path(args[0]).filename() != "mpathfs") continue;
    if (std::find(args.begin(), args.end(), mnt) != args.end()) return pid;
  }
  return -1;
}

// ================================================================ loop devices

LoopDevice::LoopDevice(const std::string& file, bool direct_io) {
  std::vector<std::string> argv = {"losetup"};
  if (direct_io) argv.push_back("--direct-io=on");
  argv.insert(argv.end(), {"-f", "--show", file});
  auto r = run(argv, 20);
  if (r.exit_code() != 0) throw std::runtime_error("losetup " + file + " failed: " + r.describe());
  dev_ = r.output;
  while (!dev_.empty() && (dev_.back() == '\n' || dev_.back() == ' ')) dev_.pop_back();
  if (dev_.rfind("/dev/loop", 0) != 0) throw std::runtime_error("losetup printed: " + r.output);
}

LoopDevice::~LoopDevice() { detach(); }

void LoopDevice::detach() {
  if (dev_.empty()) return;
  for (int i = 0; i < 50; ++i) {
    if (run({"losetup", "-d", dev_}, 10).exit_code() == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  dev_.clear();
}

// ================================================================ nbd paths

NbdPath::NbdPath(const TempDir& tmp, const std::string& image, const std::string& name, Options o) {
  dir_ = tmp.mkdir("nbd-" + name);
  sock_ = dir_ + "/sock";
  mntdir_ = dir_ + "/m";
  file_ = mntdir_ + "/disk";
  trigger_ = dir_ + "/fail-trigger";
  log_ = dir_ + "/nbdkit.log";
  if (::mkdir(mntdir_.c_str(), 0755) != 0 && errno != EEXIST) throw_errno("mkdir " + mntdir_);

  // nbdkit writes its pid file only once it accepts connections (a socket
  // that merely exists may still refuse them: seen under load).
  const std::string pidfile = dir_ + "/nbdkit.pid";
  std::vector<std::string> argv = {"nbdkit", "--foreground", "-U", sock_, "-P", pidfile, "--filter=error"};
  bool delay = !o.delay_read.empty() || !o.delay_write.empty();
  if (delay) argv.push_back("--filter=delay");
  argv.insert(argv.end(), {"file", image, "error=EIO", "error-rate=100%", "error-file=" + trigger_});
  if (!o.delay_read.empty()) argv.push_back("delay-read=" + o.delay_read);
  if (!o.delay_write.empty()) argv.push_back("delay-write=" + o.delay_write);

  {
    std::lock_guard lk(g_nbd_mu);
    g_nbd_live.push_back(this);
  }
  try {
    nbdkit_ = spawn(argv, log_, SIGKILL);
    bool up = wait_until(
        [&] {
          struct stat st{};
          return ::stat(pidfile.c_str(), &st) == 0 && st.st_size > 0 && ::stat(sock_.c_str(), &st) == 0 &&
                 S_ISSOCK(st.st_mode);
        },
        10, 0.002);
    if (!up || wait_child(nbdkit_, 0)) {
      if (wait_child(nbdkit_, 0)) nbdkit_ = -1;
      throw std::runtime_error("nbdkit did not come up: " + join(argv) + "\n" + log());
    }
    std::vector<std::string> fargv = {"nbdfuse"};
    if (o.connections > 0) {
      fargv.push_back("-C");
      fargv.push_back(std::to_string(o.connections));
    }
    fargv.insert(fargv.end(), {file_, "--unix", sock_});
    // Retried: nbdfuse gives up at once when its first connect fails.
    for (int attempt = 0; attempt < 3; ++attempt) {
      nbdfuse_ = spawn(fargv, log_ + ".nbdfuse", SIGTERM);
      up = wait_until(
          [&] {
            struct stat sm{}, sd{}, sf{};
            return wait_child(nbdfuse_, 0) ||
                   (::stat(mntdir_.c_str(), &sm) == 0 && ::stat(dir_.c_str(), &sd) == 0 && sm.st_dev != sd.st_dev &&
                    ::stat(file_.c_str(), &sf) == 0);
          },
          10, 0.002);
      if (!wait_child(nbdfuse_, 0)) break;
      nbdfuse_ = -1;  // exited (and reaped): try again
      up = false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!up) {
      if (wait_child(nbdfuse_, 0)) nbdfuse_ = -1;
      throw std::runtime_error("nbdfuse did not come up: " + join(fargv) + "\n" + log());
    }
  } catch (...) {
    cleanup();
    throw;
  }
}

NbdPath::~NbdPath() { cleanup(); }

void NbdPath::cleanup() {
  {
    std::lock_guard lk(g_nbd_mu);
    g_nbd_live.erase(std::remove(g_nbd_live.begin(), g_nbd_live.end(), this), g_nbd_live.end());
  }
  if (frozen_) thaw();
  loop_.reset();
  if (!mntdir_.empty()) unmount(mntdir_);
  stop_child(nbdfuse_, 3);
  nbdfuse_ = -1;
  stop_child(nbdkit_, 3);
  nbdkit_ = -1;
  if (should_dump_logs() && !log_.empty()) {
    dump_log("nbd path " + dir_ + " log", log());
    log_.clear();
  }
}

void NbdPath::fail() { write_text_file(trigger_, "fail\n"); }
void NbdPath::heal() { ::unlink(trigger_.c_str()); }

void NbdPath::freeze() {
  if (nbdkit_ <= 0 || ::kill(nbdkit_, SIGSTOP) != 0) return;
  frozen_ = true;
  // kill() returns before the group stop has reached every thread: on a
  // loaded machine a worker served a request after it.  Wait until every
  // thread shows 'T' (stopped).
  const std::string task_dir = "/proc/" + std::to_string(nbdkit_) + "/task";
  bool all = wait_until(
      [&] {
        std::error_code ec;
        int n = 0;
        for (auto& t : fs::directory_iterator(task_dir, ec)) {
          std::string stat = slurp((t.path() / "stat").string());
          auto rp = stat.rfind(')');
          if (rp == std::string::npos || rp + 2 >= stat.size()) continue;  // thread gone
          char st = stat[rp + 2];
          if (st != 'T' && st != 't') return false;
          ++n;
        }
        return !ec && n > 0;
      },
      5, 0.001);
  if (!all) std::cerr << "NbdPath::freeze: nbdkit " << nbdkit_ << " not stopped after 5 s\n";
}

void NbdPath::thaw() {
  if (nbdkit_ > 0) ::kill(nbdkit_, SIGCONT);
  frozen_ = false;
}

void NbdPath::kill_server() {
  if (nbdkit_ <= 0) return;
  ::kill(nbdkit_, SIGKILL);
  int st;
  ::waitpid(nbdkit_, &st, 0);
  nbdkit_ = -1;
  frozen_ = false;
}

const std::string& NbdPath::attach_loop() {
  if (!loop_) loop_ = std::make_unique<LoopDevice>(file_, true);
  return loop_->dev();
}

std::string NbdPath::log() const { return slurp(log_) + slurp(log_ + ".nbdfuse"); }

void NbdPath::thaw_all() {
  std::lock_guard lk(g_nbd_mu);
  for (auto* p : g_nbd_live)
    if (p->frozen_) p->thaw();
}

// ================================================================ test glue

bool current_test_failed() { return g_test_failed.load(); }
void set_current_test_failed(bool v) { g_test_failed.store(v); }

}  // namespace mpathfs::e2e
