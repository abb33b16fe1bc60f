// Test doubles for the core: FakePathIo (an in-memory path with fault
// injection), FakeVolume (a Volume over N fake paths to one disk) and
// LogCapture (counts spdlog lines, e.g. gmultipath's "restore" messages).
//
// Several FakePathIo over one FakeDisk are several paths to ONE disk, as in
// real multipath: a write through one path is read back through another.
#pragma once

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/io_context.hpp"
#include "core/path.hpp"
#include "core/path_io.hpp"
#include "core/volume.hpp"

namespace mpathfs::test {

// The bytes every path of one volume leads to.
struct FakeDisk {
  explicit FakeDisk(uint64_t size) : bytes(size) {}
  std::mutex mu;
  std::vector<std::byte> bytes;

  // Test-side access (not through a path).
  std::vector<std::byte> get(uint64_t off, size_t len) {
    std::lock_guard lk(mu);
    return {bytes.begin() + static_cast<ptrdiff_t>(off), bytes.begin() + static_cast<ptrdiff_t>(off + len)};
  }
  void fill(uint64_t off, size_t len, std::byte b) {
    std::lock_guard lk(mu);
    std::memset(bytes.data() + off, static_cast<int>(b), len);
  }
};

struct FakeOptions {
  uint64_t size = 1 << 20;    // what the path reports (the disk may be larger)
  uint32_t sector = 512;
  uint32_t align = 1;         // only used when direct
  bool direct = false;
  PathKind kind = PathKind::kRegularFile;
  bool holds_cut_writes = false;  // like NBD: holds_writes_after_abort()
  bool async = false;             // like NBD: submit() answers on a thread of its own
};


class FakePathIo final : public PathIo {
 public:
  enum class Op { kRead, kWrite, kSync };

  FakePathIo(std::shared_ptr<FakeDisk> disk, FakeOptions o)
      : disk_(std::move(disk)), o_(o) {}
  ~FakePathIo() override {
    release();
    while (pending_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  // ---- fault injection (atomics: tests flip them from other threads) ----
  std::atomic<int> read_errno{0};   // every read fails with it while non-zero
  std::atomic<int> write_errno{0};  // every write fails with it while non-zero
  std::atomic<int> sync_errno{0};   // every fdatasync fails with it while non-zero
  std::atomic<int> fail_next{0};    // the next N reads/writes fail with fail_next_errno
  std::atomic<int> fail_next_errno{EIO};
  std::atomic<bool> hang{false};    // reads/writes block until release()
  std::atomic<bool> sync_hang{false};  // fdatasync blocks until release()
  // Called (on the I/O thread) before each operation; set before use.
  std::function<void(Op, uint64_t off, size_t len)> hook;

  // ---- counters ----
  std::atomic<uint64_t> reads{0}, writes{0}, syncs{0};
  std::atomic<uint64_t> read_bytes{0}, write_bytes{0};
  std::atomic<uint64_t> errors{0}, unaligned{0};
  std::atomic<int> hung{0};         // calls blocked in hang right now
  std::atomic<uint64_t> submits{0}, finishes{0};  // async (o.async)

  void set_hang() { hang.store(true); }
  void release() {
    {
      std::lock_guard lk(hang_mu_);
      hang.store(false);
      sync_hang.store(false);
    }
    hang_cv_.notify_all();
  }
  // Waits until n calls are blocked in the hang (false after timeout).
  bool wait_hung(int n, std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) const {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (hung.load() < n) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }
  void set_size(uint64_t s) { o_.size = s; }

  // ---- PathIo ----
  ssize_t pread(void* buf, size_t len, uint64_t off) noexcept override {
    if (hook) hook(Op::kRead, off, len);
    maybe_hang();
    if (int e = injected(read_errno)) return -e;
    if (!aligned(buf, len, off)) return -EINVAL;
    if (off >= o_.size) {
      reads.fetch_add(1);
      return 0;
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(len, o_.size - off));
    {
      std::lock_guard lk(disk_->mu);
      std::memcpy(buf, disk_->bytes.data() + off, n);
    }
    reads.fetch_add(1);
    read_bytes.fetch_add(n);
    return static_cast<ssize_t>(n);
  }

  ssize_t pwrite(const void* buf, size_t len, uint64_t off) noexcept override {
    if (hook) hook(Op::kWrite, off, len);
    maybe_hang();
    if (int e = injected(write_errno)) return -e;
    if (!aligned(buf, len, off)) return -EINVAL;
    // A block device: nothing is written at or past its end.
    if (off >= o_.size) {
      errors.fetch_add(1);
      return -ENOSPC;
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(len, o_.size - off));
    {
      std::lock_guard lk(disk_->mu);
      std::memcpy(disk_->bytes.data() + off, buf, n);
    }
    writes.fetch_add(1);
    write_bytes.fetch_add(n);
    return static_cast<ssize_t>(n);
  }

  int fdatasync() noexcept override {
    if (hook) hook(Op::kSync, 0, 0);
    if (sync_hang.load()) {
      std::unique_lock lk(hang_mu_);
      hung.fetch_add(1);
      hang_cv_.wait(lk, [&] { return !sync_hang.load(); });
      hung.fetch_sub(1);
    }
    syncs.fetch_add(1);
    if (int e = sync_errno.load()) {
      errors.fetch_add(1);
      return -e;
    }
    return 0;
  }

  uint64_t size() const noexcept override { return o_.size; }
  uint32_t sector_size() const noexcept override { return o_.sector; }
  uint32_t align() const noexcept override { return o_.direct ? o_.align : 1; }
  bool direct() const noexcept override { return o_.direct; }
  PathKind kind() const noexcept override { return o_.kind; }
  bool holds_writes_after_abort() const noexcept override { return o_.holds_cut_writes; }

  // Async (o.async): each op on a thread of its own, through pread/pwrite
  // (faults and hangs included), answered from that thread.
  bool can_submit() const noexcept override { return o_.async; }
  bool submit(PathOp& op) noexcept override {
    if (!o_.async) return false;
    pending_.fetch_add(1);
    submits.fetch_add(1);
    try {
      std::thread([this, &op] {
        op.result = op.write ? pwrite(op.buf, op.len, op.off) : pread(op.buf, op.len, op.off);
        op.done(op);
        pending_.fetch_sub(1);  // the last touch: the destructor waits for it
      }).detach();
    } catch (...) {
      pending_.fetch_sub(1);
      submits.fetch_sub(1);
      return false;
    }
    return true;
  }
  void finish(PathOp&) noexcept override { finishes.fetch_add(1); }

 private:
  int injected(const std::atomic<int>& persistent) {
    if (int e = persistent.load()) {
      errors.fetch_add(1);
      return e;
    }
    int n = fail_next.load();
    while (n > 0) {
      if (fail_next.compare_exchange_weak(n, n - 1)) {
        errors.fetch_add(1);
        return fail_next_errno.load();
      }
    }
    return 0;
  }
  // Real O_DIRECT: buffer, offset and length must be multiples of the
  // alignment, else EINVAL.
  bool aligned(const void* buf, size_t len, uint64_t off) {
    if (!o_.direct || o_.align <= 1) return true;
    if (reinterpret_cast<uintptr_t>(buf) % o_.align || len % o_.align || off % o_.align) {
      unaligned.fetch_add(1);
      errors.fetch_add(1);
      return false;
    }
    return true;
  }
  void maybe_hang() {
    if (!hang.load()) return;
    std::unique_lock lk(hang_mu_);
    hung.fetch_add(1);
    hang_cv_.wait(lk, [&] { return !hang.load(); });
    hung.fetch_sub(1);
  }

  std::shared_ptr<FakeDisk> disk_;
  FakeOptions o_;
  std::mutex hang_mu_;
  std::condition_variable hang_cv_;
  std::atomic<int> pending_{0};  // submit threads still running
};

// A path named `name` over `disk`; *io_out (if given) is the fake, owned by the path.
inline std::shared_ptr<Path> make_fake_path(const std::string& name, std::shared_ptr<FakeDisk> disk,
                                            const FakeOptions& o, FakePathIo** io_out = nullptr) {
  auto io = std::make_unique<FakePathIo>(std::move(disk), o);
  if (io_out) *io_out = io.get();
  return std::make_shared<Path>(name, std::move(io));
}

inline VolumeSettings default_volume_settings(Mode m = Mode::kActivePassive) {
  VolumeSettings s;
  s.name = "vol0";
  s.mode = m;
  return s;
}

// A volume of N fake paths "p0".."pN-1" to one disk, and a worker context.
struct FakeVolume {
  // `clock`: a FakeClock for tests of time windows (fake_clock.hpp).
  explicit FakeVolume(size_t npaths, FakeOptions o = {}, VolumeSettings s = default_volume_settings(),
                      size_t max_io = 1 << 20, Clock& clock = Clock::real())
      : opts(o), disk(std::make_shared<FakeDisk>(o.size)), ctx(max_io) {
    vol = std::make_shared<Volume>(std::move(s), o.size, o.size, clock);
    for (size_t i = 0; i < npaths; ++i) {
      if (!add("p" + std::to_string(i))) throw std::runtime_error("FakeVolume: add_path failed");
    }
  }
  static VolumeSettings default_settings(Mode m = Mode::kActivePassive) { return default_volume_settings(m); }
  // Adds another path to the same disk; the result of add_path is returned.
  VoidResult add(const std::string& name) {
    FakePathIo* io = nullptr;
    auto p = make_fake_path(name, disk, opts, &io);
    auto st = vol->add_path(p);
    if (st) {
      paths.push_back(p);
      ios.push_back(io);
    }
    return st;
  }
  FakePathIo& io(size_t i) { return *ios.at(i); }
  Path& path(size_t i) { return *paths.at(i); }

  // Convenience I/O through the volume.
  ssize_t write(uint64_t off, const std::vector<std::byte>& data) {
    return vol->write(ctx, data.data(), data.size(), off).value();
  }
  ssize_t write(uint64_t off, size_t len, std::byte b) { return write(off, std::vector<std::byte>(len, b)); }
  // Reads into out (resized to what was read); returns the read's result.
  ssize_t read(uint64_t off, size_t len, std::vector<std::byte>* out = nullptr) {
    const std::byte* d = nullptr;
    ssize_t n = vol->read(ctx, len, off, &d).value();
    if (out) {
      out->clear();
      if (n > 0) out->assign(d, d + n);
    }
    return n;
  }
  PathState state_of(size_t i) const { return vol->status().paths.at(i).state; }
  std::string active() const { return vol->active_paths(); }

  FakeOptions opts;
  std::shared_ptr<FakeDisk> disk;
  std::shared_ptr<Volume> vol;
  std::vector<std::shared_ptr<Path>> paths;
  std::vector<FakePathIo*> ios;
  IoContext ctx;
};

inline std::vector<std::byte> pattern(size_t len, unsigned seed) {
  std::vector<std::byte> v(len);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& b : v) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<std::byte>(x >> 24);
  }
  return v;
}

// Captures what the core logs while it lives (replaces the default logger).
class LogCapture {
 public:
  LogCapture() : old_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(os_);
    auto lg = std::make_shared<spdlog::logger>("capture", sink);
    lg->set_level(spdlog::level::trace);
    spdlog::set_default_logger(lg);
  }
  ~LogCapture() { spdlog::set_default_logger(old_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::string text() {
    spdlog::default_logger()->flush();
    return os_.str();
  }
  size_t count(const std::string& needle) {
    std::string t = text();
    size_t n = 0;
    for (size_t at = t.find(needle); at != std::string::npos; at = t.find(needle, at + 1)) ++n;
    return n;
  }

 private:
  std::shared_ptr<spdlog::logger> old_;
  std::ostringstream os_;
};

// Polls cond every millisecond until true or the timeout passes.
template <typename F>
bool eventually(F cond, std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace mpathfs::test
