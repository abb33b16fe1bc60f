#include "core/io_context.hpp"

#include "core/watchdog.hpp"

namespace mpathfs {

IoContext::IoContext(size_t max_io, BlockingObserver* observer, Watchdog* watchdog)
    : buf_(max_io + 2 * kMaxAlign, kMaxAlign), max_io_(max_io), observer_(observer), watchdog_(watchdog) {
  if (watchdog_) watchdog_->attach(&slot_);
}

IoContext::~IoContext() {
  if (watchdog_) watchdog_->detach(&slot_);
  // A slow mark the worker never saw (see Watchdog::scan) must not outlive it.
  if (slot_.slow.exchange(false) && observer_) observer_->busy_end();
}

}  // namespace mpathfs
