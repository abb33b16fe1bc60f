// Harness, files: the move-only Fd, aligned buffers, the TempDir every test
// lives in, deterministic pattern content, and whole-range reads and writes.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include "core/control_io.hpp"
#include "core/path_guard.hpp"
#include "e2e/harness.hpp"
#include "e2e/harness_internal.hpp"

namespace mpathfs::e2e {

using detail::sys_error;
using detail::throw_errno;

namespace fs = std::filesystem;

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

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
  std::vector<std::string> mps;
  for (auto& m : read_mountinfo()) mps.push_back(m.mount_point);
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

int try_read_file(const std::string& path, std::string& out) { return read_whole_file(path, out); }

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

}  // namespace mpathfs::e2e
