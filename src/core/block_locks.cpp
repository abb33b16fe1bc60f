#include "core/block_locks.hpp"

#include "core/io_context.hpp"

namespace mpathfs {

uint64_t BlockLocks::stripes_of(uint64_t off, uint64_t end) {
  const uint64_t r0 = off >> kRegionShift;
  const uint64_t r1 = (end - 1) >> kRegionShift;
  if (r1 - r0 + 1 >= kStripes) return ~0ull;
  uint64_t mask = 0;
  for (uint64_t r = r0; r <= r1; ++r) mask |= 1ull << (r % kStripes);
  return mask;
}

BlockLocks::Hold BlockLocks::acquire(uint64_t mask, bool exclusive, BlockingObserver* waiting) {
  bool told = false;
  auto wait = [&](Stripe& s, std::unique_lock<Mutex>& lk) {
    // lk holds s.m; clang 14 cannot map REQUIRES(s.m) on a lambda's
    // parameter at its call site, so the lambda asserts it instead.
    s.m.assert_held();
    if (waiting && !told) {
      waiting->busy_begin();
      told = true;
    }
    ++s.waiting;
    s.cv.wait(lk);
    --s.waiting;
  };
  for (uint64_t m = mask; m; m &= m - 1) {
    Stripe& s = stripes_[__builtin_ctzll(m)];
    std::unique_lock lk(s.m);
    if (exclusive) {
      while (s.writer || s.readers > 0) wait(s, lk);
      s.writer = true;
    } else {
      while (s.writer) wait(s, lk);
      ++s.readers;
    }
  }
  if (told) waiting->busy_end();
  return Hold{mask, exclusive};
}

void BlockLocks::release(const Hold& h) {
  for (uint64_t m = h.mask; m; m &= m - 1) {
    Stripe& s = stripes_[__builtin_ctzll(m)];
    std::lock_guard lk(s.m);
    if (h.exclusive) s.writer = false;
    else --s.readers;
    if (s.waiting) s.cv.notify_all();
  }
}

}  // namespace mpathfs
