// BlockLocks: keeps a read-modify-write of a partial block from racing any
// other write into that block.
//
// An O_DIRECT path can only write whole blocks, so an unaligned write reads
// its edge blocks, patches them and writes them back; a write landing in
// between would be undone.  Writes hold 1 MiB regions (hashed onto 64
// stripes): a read-modify-write exclusively (its edge blocks' regions),
// every other write shared (the regions it covers).  Volumes whose paths
// are all buffered never read-modify-write and take no lock at all.
//
// The locks have no owner thread on purpose: when the watchdog takes over a
// write stuck in a hung path, it releases that write's hold (after fencing
// the blocks), so the rescue and later writers are not held up by a call
// that may never return.
#pragma once

#include <array>
#include <cstdint>

#include "core/mutex.hpp"

namespace mpathfs {

class BlockingObserver;

class BlockLocks {
 public:
  static constexpr unsigned kRegionShift = 20;  // 1 MiB regions
  static constexpr unsigned kStripes = 64;      // a bit each in a Hold's mask

  struct Hold {
    uint64_t mask = 0;  // stripes held
    bool exclusive = false;
    bool empty() const { return mask == 0; }
  };

  // Stripes covering the regions of [off, end) (end > off).
  static uint64_t stripes_of(uint64_t off, uint64_t end);

  // Waits until the stripes in `mask` can be held; stripes are taken in
  // ascending order, so two holders never deadlock.
  // `waiting`, if given, hears busy_begin/busy_end around a wait: a worker
  // that waits here for long lets its pool serve with another.
  Hold acquire(uint64_t mask, bool exclusive, BlockingObserver* waiting = nullptr);
  void release(const Hold& h);

 private:
  struct alignas(64) Stripe {
    Mutex m;
    CondVar cv;
    int readers GUARDED_BY(m) = 0;
    bool writer GUARDED_BY(m) = false;
    int waiting GUARDED_BY(m) = 0;
  };
  std::array<Stripe, kStripes> stripes_;
};

}  // namespace mpathfs
