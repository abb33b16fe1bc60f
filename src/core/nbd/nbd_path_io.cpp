// The NBD backend of PathIo: a set of connections per path, the
// least-loaded one per request; the checker's reconnect swaps in a fresh set.
//
// Connection lifetime: the current set is an array of atomic pointers that
// workers read without a lock.  reconnect() retires the old connections and
// releases each (loop stopped, handle closed) once nobody is inside it; the
// small NbdConn object itself is kept until the path goes, because a worker
// may still hold its address (NbdConn::enter is the handshake).
#include "core/nbd/nbd_path_io.hpp"

#include <libnbd.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <array>
#include <atomic>
#include <thread>
#include <vector>

#include "core/mutex.hpp"
#include "core/nbd/nbd_conn.hpp"
#include "core/path_open.hpp"

namespace mpathfs {

FaultClass classify_nbd_error(int err) noexcept {
  switch (err) {
    // The server says the request is wrong: past the end, no space, a
    // write to a read-only export, an unsupported command.
    case EINVAL: case ENOSPC: case EPERM: case EROFS: case EFBIG: case EOVERFLOW: case ENOTSUP:
      return FaultClass::kRequest;
    // Everything else, the connection's errors first (ENOTCONN, ECONNRESET,
    // EPIPE, ETIMEDOUT, ...) and the server's EIO: the path is broken.
    default: return FaultClass::kPath;
  }
}

namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The value of query parameter `key` in a URI, percent-decoded; empty when absent.
std::string query_param(const std::string& uri, std::string_view key) {
  const size_t q = uri.find('?');
  if (q == std::string::npos) return {};
  size_t i = q + 1;
  while (i <= uri.size()) {
    size_t end = uri.find('&', i);
    if (end == std::string::npos) end = uri.size();
    const std::string_view item(uri.data() + i, end - i);
    if (item.size() > key.size() && item.substr(0, key.size()) == key && item[key.size()] == '=') {
      std::string out;
      for (size_t k = key.size() + 1; k < item.size(); ++k) {
        int hi, lo;
        if (item[k] == '%' && k + 2 < item.size() && (hi = hex(item[k + 1])) >= 0 && (lo = hex(item[k + 2])) >= 0) {
          out += static_cast<char>(hi * 16 + lo);
          k += 2;
        } else {
          out += item[k];
        }
      }
      return out;
    }
    i = end + 1;
  }
  return {};
}

VoidResult check_private(const std::string& file, const std::string& shown, bool must_exist) {
  struct stat st{};
  if (::stat(file.c_str(), &st) != 0) {
    if (!must_exist && errno == ENOENT) return {};
    return Error{errno, "path " + shown + ": cannot use key file " + file};
  }
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Error{EACCES, "path " + shown + ": key file " + file + " has mode " + mode +
                             " (readable by group or others); refusing it: chmod 600 " + file};
  }
  return {};
}

class NbdPathIo final : public PathIo {
 public:
  NbdPathIo(std::string uri, std::string shown) : uri_(std::move(uri)), shown_(std::move(shown)) {}
  ~NbdPathIo() override {
    std::lock_guard lk(mu_);
    for (auto& c : owned_) c->give_up_holds();
    for (auto& c : owned_) c->retire();
    for (auto& c : owned_) {
      while (c->users() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      c->release();
    }
  }
  NbdPathIo(const NbdPathIo&) = delete;
  NbdPathIo& operator=(const NbdPathIo&) = delete;

  // The first connection is given; more join when the server allows them.
  VoidResult start(std::unique_ptr<NbdConn> first, int timeout_ms) {
    size_ = first->size();
    sector_ = std::max<uint32_t>(512, std::min<uint32_t>(first->min_block(), kMaxAlign));
    auto set = open_more(std::move(first), timeout_ms);
    if (!set) return set.error();
    std::lock_guard lk(mu_);
    install_locked(std::move(set.value()));
    return {};
  }

  ssize_t pread(void* buf, size_t len, uint64_t off) noexcept override {
    NbdConn* c = pick();
    if (!c) return -ENOTCONN;
    if (off >= size_) len = 0;
    else if (len > size_ - off) len = static_cast<size_t>(size_ - off);
    const ssize_t r = len ? c->pread(buf, len, off) : 0;
    c->leave();
    return r;
  }
  ssize_t pwrite(const void* buf, size_t len, uint64_t off) noexcept override {
    if (off + len > size_) return -ENOSPC;
    NbdConn* c = pick();
    if (!c) return -ENOTCONN;
    const ssize_t r = c->pwrite(buf, len, off);
    c->leave();
    return r;
  }
  // A request in flight holds no thread: the connection's loop answers it.
  bool can_submit() const noexcept override { return true; }
  bool submit(PathOp& op) noexcept override {
    NbdConn* c = pick();  // the op's reference, given back in finish()
    if (!c) return false;
    // The op may be answered and finished on another thread before
    // NbdConn::submit returns: our own reference keeps the connection.
    c->pin();
    const bool issued = c->submit(op);
    c->leave();
    if (!issued) c->leave();
    return issued;
  }
  void finish(PathOp& op) noexcept override {
    auto* c = static_cast<NbdConn*>(op.backend);
    c->hold_failed_write(op);
    c->leave();
  }

  // With multi-conn a flush covers the writes completed on every
  // connection; without it there is only one connection.
  int fdatasync() noexcept override {
    NbdConn* c = pick();
    if (!c) return -ENOTCONN;
    const int r = c->flush();
    c->leave();
    return r;
  }

  uint64_t size() const noexcept override { return size_; }
  uint32_t sector_size() const noexcept override { return sector_; }
  uint32_t align() const noexcept override { return 1; }
  bool direct() const noexcept override { return false; }
  PathKind kind() const noexcept override { return PathKind::kNbd; }
  FaultClass classify(int err) const noexcept override { return classify_nbd_error(err); }

  // A small read on each current connection: one broken connection fails the path.
  int probe(void* scratch) noexcept override {
    const size_t len = static_cast<size_t>(std::min<uint64_t>(512, size_));
    const int n = nconns_.load(std::memory_order_acquire);
    for (int i = 0; i < n; ++i) {
      NbdConn* c = conns_[i].load(std::memory_order_acquire);
      if (!c || !c->enter()) return -ENOTCONN;
      const ssize_t r = c->dead() ? -ENOTCONN : c->pread(scratch, len, 0);
      c->leave();
      if (r < 0) return static_cast<int>(r);
    }
    return n > 0 ? 0 : -ENOTCONN;
  }

  int current_size(uint64_t& out) const noexcept override {
    out = size_;
    return 0;
  }

  // A FAIL path: a working set stays; a dead one is replaced by a fresh set
  // whose size must be the one the path joined with.
  int reconnect() noexcept override {
    if (!any_dead()) return 0;
    auto first = NbdConn::connect(uri_, shown_, kNbdReconnectTimeoutMs);
    if (!first) {
      spdlog::debug("{}", first.error().describe());
      return -first.error().code;
    }
    if (first.value()->size() != size_) {
      spdlog::error("path {}: the export now has {} bytes, it joined with {}; not reconnecting", shown_,
                    first.value()->size(), size_);
      return -EINVAL;
    }
    auto set = open_more(std::move(first.value()), kNbdReconnectTimeoutMs);
    if (!set) return -set.error().code;
    std::lock_guard lk(mu_);
    install_locked(std::move(set.value()));
    return 0;
  }

  // io_timeout or a flush timeout: every command in flight fails at once.
  // A write cut loose waits in NbdConn::pwrite until the connection is
  // settled — on a cut link about a second after the abort (TCP user
  // timeout), when it fails over by itself.  Not holds_writes_after_abort():
  // rescuing such writes at once measured no gain across a cut link and made
  // a frozen server's path return ~20 s late in one run of three.

  void abort_inflight() noexcept override {
    const int n = nconns_.load(std::memory_order_acquire);
    for (int i = 0; i < n; ++i)
      if (NbdConn* c = conns_[i].load(std::memory_order_acquire)) c->abort();
  }

 private:
  using Set = std::vector<std::unique_ptr<NbdConn>>;

  Result<Set> open_more(std::unique_ptr<NbdConn> first, int timeout_ms) {
    Set set;
    const bool many = first->multi_conn() || first->read_only();
    set.push_back(std::move(first));
    // Never several connections to a writable export without multi-conn:
    // the server would not keep their caches coherent.
    for (int i = 1; many && i < kNbdMaxConns; ++i) {
      auto c = NbdConn::connect(uri_, shown_, timeout_ms);
      if (!c) break;  // fewer connections, still a path
      set.push_back(std::move(c.value()));
    }
    return set;
  }

  void install_locked(Set set) REQUIRES(mu_) {
    const int old = nconns_.load(std::memory_order_relaxed);
    for (int i = 0; i < old; ++i) conns_[i].load(std::memory_order_relaxed)->retire();
    const int n = static_cast<int>(std::min<size_t>(set.size(), kNbdMaxConns));
    for (int i = 0; i < n; ++i) conns_[i].store(set[i].get(), std::memory_order_release);
    nconns_.store(n, std::memory_order_release);
    for (auto& c : set) owned_.push_back(std::move(c));
    // Release what nobody uses any more (a held write keeps its connection).
    for (auto& c : owned_)
      if (c->idle_retired()) c->release();
  }

  bool any_dead() const noexcept {
    const int n = nconns_.load(std::memory_order_acquire);
    if (n == 0) return true;
    for (int i = 0; i < n; ++i)
      if (conns_[i].load(std::memory_order_acquire)->dead()) return true;
    return false;
  }

  // The least-loaded live connection, entered; nullptr when none.
  NbdConn* pick() noexcept {
    for (int attempt = 0; attempt < 2; ++attempt) {
      const int n = nconns_.load(std::memory_order_acquire);
      NbdConn* best = nullptr;
      int best_users = 0;
      for (int i = 0; i < n; ++i) {
        NbdConn* c = conns_[i].load(std::memory_order_acquire);
        if (c->dead()) continue;
        const int u = c->users();
        if (!best || u < best_users) best = c, best_users = u;
      }
      if (!best && n > 0) best = conns_[0].load(std::memory_order_acquire);  // answers ENOTCONN
      if (best && best->enter()) return best;
    }
    return nullptr;
  }

  const std::string uri_;    // secrets included: never logged
  const std::string shown_;  // redacted
  uint64_t size_ = 0;
  uint32_t sector_ = 512;
  std::array<std::atomic<NbdConn*>, kNbdMaxConns> conns_{};
  std::atomic<int> nconns_{0};
  Mutex mu_;  // serialises reconnects and owns every connection ever opened
  std::vector<std::unique_ptr<NbdConn>> owned_ GUARDED_BY(mu_);
};

}  // namespace

VoidResult check_nbd_key_files(const std::string& uri, const std::string& shown) {
  if (std::string f = query_param(uri, "tls-psk-file"); !f.empty())
    if (auto r = check_private(f, shown, true); !r) return r;
  if (std::string d = query_param(uri, "tls-certificates"); !d.empty())
    if (auto r = check_private(d + "/key.pem", shown, false); !r) return r;
  return {};
}

Result<std::unique_ptr<PathIo>> open_nbd_path(const std::string& word, const OpenOptions& opt) {
  const std::string shown = redact_secrets(word);
  if (auto r = check_nbd_key_files(word, shown); !r) return r.error();
  auto first = NbdConn::connect(word, shown, kNbdOpenTimeoutMs);
  if (!first) return first.error();
  auto io = std::make_unique<NbdPathIo>(word, shown);
  if (auto r = io->start(std::move(first.value()), kNbdOpenTimeoutMs); !r) return r.error();
  return std::unique_ptr<PathIo>(std::move(io));
}

}  // namespace mpathfs
