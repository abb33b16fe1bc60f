#include "core/taste_retries.hpp"

#include <algorithm>

namespace mpathfs {

void TasteRetries::add(const std::string& dev, Clock::time_point now) {
  for (auto& e : q_)
    if (e.dev == dev) return;
  q_.push_back(Entry{dev, 0, now + kFirstDelay});
}

std::vector<TasteRetries::Entry> TasteRetries::take_due(Clock::time_point now) {
  std::vector<Entry> due;
  auto it = std::stable_partition(q_.begin(), q_.end(), [&](const Entry& e) { return e.at > now; });
  std::move(it, q_.end(), std::back_inserter(due));
  q_.erase(it, q_.end());
  return due;
}

bool TasteRetries::again(Entry e, Clock::time_point now) {
  if (++e.tries >= kMaxTries) return false;
  for (auto& q : q_)
    if (q.dev == e.dev) return true;  // queued again meanwhile (by add): never twice
  e.at = now + kFirstDelay * (1 << e.tries);
  q_.push_back(std::move(e));
  return true;
}

std::optional<TasteRetries::Clock::duration> TasteRetries::next_in(Clock::time_point now) const {
  if (q_.empty()) return std::nullopt;
  Clock::time_point first = q_.front().at;
  for (auto& e : q_) first = std::min(first, e.at);
  return first > now ? first - now : Clock::duration::zero();
}

}  // namespace mpathfs
