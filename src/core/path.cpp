#include "core/path.hpp"

namespace mpathfs {

const char* checker_state_name(CheckerState s) {
  switch (s) {
    case CheckerState::kUp: return "up";
    case CheckerState::kDown: return "down";
    case CheckerState::kPending: return "pending";
    case CheckerState::kUnknown: break;
  }
  return "unknown";
}

Path::Path(std::string name, std::unique_ptr<PathIo> io)
    : name_(std::move(name)), io_(std::move(io)), flusher_(io_) {}

void Path::end_io(bool write, uint64_t bytes, uint64_t start_ns, uint64_t end_ns, bool error) {
  constexpr auto r = std::memory_order_relaxed;
  if (error) {
    hot_.errors.fetch_add(1, r);
  } else if (write) {
    hot_.last_ok_ns.store(end_ns, r);
    hot_.writes.fetch_add(1, r);
    hot_.write_bytes.fetch_add(bytes, r);
    write_lat_.record(end_ns - start_ns);
  } else {
    hot_.last_ok_ns.store(end_ns, r);
    hot_.reads.fetch_add(1, r);
    hot_.read_bytes.fetch_add(bytes, r);
    read_lat_.record(end_ns - start_ns);
  }
  const uint64_t took = end_ns - start_ns;
  hot_.latency_ns.fetch_add(took, r);
  // 1/8 weight; racy updates lose a sample now and then, which is fine.
  const int64_t old = hot_.recent_ns.load(r);
  const int64_t sample = took > UINT32_MAX ? UINT32_MAX : static_cast<int64_t>(took);
  hot_.recent_ns.store(static_cast<uint32_t>(old + (sample - old) / 8), r);
  hot_.completed.fetch_add(1, r);
  hot_.inflight.fetch_sub(1, r);
}

Path::Counters Path::counters() const {
  constexpr auto r = std::memory_order_relaxed;
  return {hot_.reads.load(r),  hot_.writes.load(r),     hot_.read_bytes.load(r), hot_.write_bytes.load(r),
          hot_.errors.load(r), hot_.latency_ns.load(r), hot_.completed.load(r)};
}

Path::Events Path::events() const {
  constexpr auto r = std::memory_order_relaxed;
  return {failures_.load(r), io_timeouts_.load(r), rescued_.load(r)};
}

}  // namespace mpathfs
