// AtomicSharedPtr<T>: a shared_ptr that threads load and store at once.
// std::atomic<std::shared_ptr<T>> in libstdc++ 12 (Debian 12's) is the same
// design — a spin lock around the pointer — but its load() releases the
// lock with a relaxed store, so nothing orders the read of the pointer
// before a later store's write of it (GCC 13 fixed it; ThreadSanitizer
// reports it as the data race it formally is).  Here both sides acquire
// and release.  The lock is held for a reference-count increment only; a
// store drops the old value after releasing it.
#pragma once

#include <atomic>
#include <memory>
#include <thread>

namespace mpathfs {

template <class T>
class AtomicSharedPtr {
 public:
  AtomicSharedPtr() = default;
  explicit AtomicSharedPtr(std::shared_ptr<T> p) : p_(std::move(p)) {}
  AtomicSharedPtr(const AtomicSharedPtr&) = delete;
  AtomicSharedPtr& operator=(const AtomicSharedPtr&) = delete;

  std::shared_ptr<T> load() const noexcept {
    lock();
    std::shared_ptr<T> r = p_;
    unlock();
    return r;
  }
  void store(std::shared_ptr<T> v) noexcept {
    lock();
    p_.swap(v);
    unlock();
  }  // v, the old value, is released after the lock is

 private:
  void lock() const noexcept {
    for (int spins = 0; busy_.exchange(true, std::memory_order_acquire);) {
      // The holder may be descheduled (more threads than cores): yield
      // after a short spin rather than burn its time slice.
      while (busy_.load(std::memory_order_relaxed)) {
        if (++spins > 64) std::this_thread::yield();
#if defined(__x86_64__) || defined(__i386__)
        else __builtin_ia32_pause();
#endif
      }
    }
  }
  void unlock() const noexcept { busy_.store(false, std::memory_order_release); }

  mutable std::atomic<bool> busy_{false};
  std::shared_ptr<T> p_;
};

}  // namespace mpathfs
