// A volume request as a type: what is asked, how it is answered, and what it
// remembers across retries (Request), and how it ended (IoResult).
//
// A Request lives on the serving thread's stack (a worker, or the watchdog's
// rescue thread): no allocation per request.  The bytes it reads land in the
// serving context's scratch buffer.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/contract.hpp"
#include "core/inflight.hpp"
#include "core/io_context.hpp"
#include "core/routing.hpp"

namespace mpathfs {

class Path;

// The most paths one volume holds (routing tracks paths in a 64-bit mask).
inline constexpr size_t kMaxPaths = 32;

// How a volume request ended: `bytes` done, an error (errno > 0), or taken
// over by the watchdog — its rescue answers the caller, who must not.
class IoResult {
 public:
  static constexpr IoResult done(size_t bytes) { return IoResult(Kind::kDone, static_cast<ssize_t>(bytes)); }
  static constexpr IoResult error(int err) { return IoResult(Kind::kError, err); }
  static constexpr IoResult taken_over() { return IoResult(Kind::kTakenOver, 0); }
  // A path's answer (bytes or -errno, the PathIo convention).
  static constexpr IoResult from_path(ssize_t n) {
    return n >= 0 ? done(static_cast<size_t>(n)) : error(static_cast<int>(-n));
  }

  constexpr bool ok() const { return kind_ == Kind::kDone; }
  constexpr bool failed() const { return kind_ == Kind::kError; }
  constexpr bool is_taken_over() const { return kind_ == Kind::kTakenOver; }
  constexpr size_t bytes() const { return ok() ? static_cast<size_t>(v_) : 0; }
  constexpr int err() const { return failed() ? static_cast<int>(v_) : 0; }
  // Bytes, or -errno: what a reply carries.  Not for a request taken over.
  constexpr ssize_t value() const { return failed() ? -v_ : v_; }

 private:
  enum class Kind : uint8_t { kDone, kError, kTakenOver };
  constexpr IoResult(Kind k, ssize_t v) : kind_(k), v_(v) {}
  Kind kind_;
  ssize_t v_;
};

struct Request {
  Request(IoContext& c, IoKind k, uint64_t o, size_t l, const IoReply* rep, const RequestOrigin& origin)
      : ctx(c), kind(k), off(o), len(l), reply(rep), restored(origin.restored) {}
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;

  // ---- what is asked ----
  IoContext& ctx;                     // the serving thread's buffer and in-flight slot
  const IoKind kind;
  const uint64_t off;
  const size_t len;
  const std::byte* wdata = nullptr;   // a write's payload
  const std::byte* rdata = nullptr;   // a read's answer (in ctx's scratch)
  const IoReply* const reply;         // lets the watchdog answer it (nullptr: nobody else can)
  uint64_t fence_epoch = 0;           // a write waits for stale writes older than this

  // ---- what it remembers across retries (failover) ----
  std::array<const Path*, kMaxPaths * 2> tried;  // the first ntried are set (not zeroed: hot path)
  size_t ntried = 0;
  bool restored = false;        // this request already ran the restore-all rule
  int rounds = 0;               // safety bound on retries
  uint64_t deadline = 0;        // no_path_retry deadline (0 = not waiting yet)
  uint64_t first_fail_ns = 0;   // when this request first saw a path fail
  // The volume's latency sample reuses the paths' clock reads: issued at the
  // first attempt, answered when the last path answered (0: not yet).
  uint64_t t_issued = 0;
  uint64_t t_answered = 0;
  uint64_t t_attempt = 0;       // when the current attempt was issued

  bool excluded(const Path* p) const {
    for (size_t i = 0; i < ntried; ++i)
      if (tried[i] == p) return true;
    return false;
  }
  void note_tried(const Path* p) {
    if (ntried < tried.size()) tried[ntried++] = p;
  }
};

}  // namespace mpathfs
