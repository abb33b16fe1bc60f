// AtomicSharedPtr: loads racing stores see whole values and keep them alive
// (under ThreadSanitizer this is also the race check that libstdc++ 12's
// std::atomic<std::shared_ptr> fails).
#include <catch2/catch.hpp>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "core/atomic_shared_ptr.hpp"

using mpathfs::AtomicSharedPtr;

namespace {
struct Set {
  explicit Set(int v) : a(v), b(-v) {}
  int a, b;  // b == -a in every value ever stored
};
}  // namespace

TEST_CASE("atomic shared pointer: loads racing stores see whole values that stay alive", "[atomic]") {
  AtomicSharedPtr<const Set> p(std::make_shared<const Set>(0));
  std::atomic<bool> stop{false};
  std::atomic<long> torn{0}, loads{0};
  std::atomic<int> started{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r)
    readers.emplace_back([&] {
      started.fetch_add(1);
      while (!stop.load()) {
        auto s = p.load();
        if (!s || s->a != -s->b) torn.fetch_add(1);
        loads.fetch_add(1);
      }
    });
  // Stores only once every reader runs (a busy machine may start them late),
  // and until they have loaded many times.
  while (started.load() < 3) std::this_thread::yield();
  int i = 0;
  while (i < 20000 || loads.load() < 20000) p.store(std::make_shared<const Set>(++i));
  stop = true;
  for (auto& t : readers) t.join();
  CHECK(torn.load() == 0);
  CHECK(loads.load() > 0);
  auto last = p.load();
  REQUIRE(last);
  CHECK(last->a == i);
  CHECK(last.use_count() == 2);  // ours and the holder's: nothing leaked a reference
}
