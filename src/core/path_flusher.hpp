// PathFlusher: the thread that runs one path's fdatasync when asked, so
// Volume::flush() flushes every path in parallel and waits with a deadline
// (io_timeout) — without starting a thread per call, and without letting a
// path whose fdatasync hangs hold the caller (or any other path) with it.
//
// The thread starts at the first request and lives as long as the path.  A
// hung fdatasync keeps only this thread; if the path is destroyed meanwhile
// the thread is left to finish alone (it shares the PathIo, so the file stays
// open until the hung call returns).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <optional>

#include "core/mutex.hpp"
#include "core/clock.hpp"
#include "core/path_io.hpp"

namespace mpathfs {

class PathFlusher {
 public:
  explicit PathFlusher(std::shared_ptr<PathIo> io);
  ~PathFlusher();
  PathFlusher(const PathFlusher&) = delete;
  PathFlusher& operator=(const PathFlusher&) = delete;

  // Asks for an fdatasync that starts after this call (concurrent requests
  // share one).  Its ticket, or nullopt when no thread could be started.
  std::optional<uint64_t> request() noexcept;
  // Waits until the fdatasync of `ticket` answered (0 or -errno), or
  // returns nullopt once `clock` reached `deadline_ns`.
  std::optional<int> wait(uint64_t ticket, uint64_t deadline_ns, Clock& clock) noexcept;
  // An fdatasync is running now (a hung path shows it for as long as it hangs).
  bool busy() const noexcept;

 private:
  struct State {
    std::shared_ptr<PathIo> io;
    mutable Mutex mu;
    CondVar wake;  // a request, or stop
    CondVar done_cv;
    uint64_t requested GUARDED_BY(mu) = 0;  // tickets handed out
    uint64_t done GUARDED_BY(mu) = 0;       // every ticket <= done is answered
    int rc GUARDED_BY(mu) = 0;              // the answer of the fdatasync that answered `done`
    bool running GUARDED_BY(mu) = false;    // inside fdatasync
    bool started GUARDED_BY(mu) = false;    // the thread exists
    bool stop GUARDED_BY(mu) = false;
  };
  static void run(std::shared_ptr<State> st) noexcept;

  std::shared_ptr<State> st_;
};

}  // namespace mpathfs
