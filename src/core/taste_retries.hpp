// TasteRetries: devices whose uevent came before they could be tasted.
// A loop device reports "change" before its size is set, and holds an
// exclusive claim on itself while it is configured (an O_EXCL open gets
// EBUSY): tasted at the event, it looks empty or taken.  Each such device
// is tasted again after 50, 100, 200, ... ms, kMaxTries times in all, then
// left to its next uevent or ctl/rescan.  Used by the uevent thread only;
// time is passed in, so the schedule is testable without sleeping.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace mpathfs {

class TasteRetries {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr int kMaxTries = 7;  // 50 ms .. 3.2 s: 6.35 s in all
  static constexpr std::chrono::milliseconds kFirstDelay{50};

  struct Entry {
    std::string dev;
    int tries = 0;  // retries already made
    Clock::time_point at;
  };

  // A device not ready at its uevent: queued unless it is already.
  void add(const std::string& dev, Clock::time_point now);
  // Takes out and returns the entries due at `now`.
  std::vector<Entry> take_due(Clock::time_point now);
  // A retried device still not ready: queued again with a doubled delay;
  // false (and dropped) once it has had kMaxTries.
  bool again(Entry e, Clock::time_point now);
  // How long until the next one is due (zero when overdue), none if empty.
  std::optional<Clock::duration> next_in(Clock::time_point now) const;
  size_t size() const { return q_.size(); }

 private:
  std::vector<Entry> q_;  // a handful at most: a linear scan is enough
};

}  // namespace mpathfs
