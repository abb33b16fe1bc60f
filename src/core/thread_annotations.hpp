// Clang's thread-safety attributes, spelled as macros that gcc ignores.
//
// clang -Wthread-safety (scripts/build-clang-tsa.sh, in CI) checks them at
// compile time: a GUARDED_BY field read without its mutex, a *_locked
// function called without REQUIRES(mu_), a lock taken against the
// documented order.  They cost nothing at run time.  The mutex they talk
// about is mpathfs::Mutex (core/mutex.hpp): libstdc++'s std::mutex is not
// annotated as a capability.
//
// Escape hatches, narrowest first: REQUIRES on a lambda that runs under its
// caller's lock; Mutex::assert_held() where the lock is held for a reason
// the analysis cannot see; NO_THREAD_SAFETY_ANALYSIS on one function, with a
// comment that says why.
#pragma once

#if defined(__clang__)
#define MPATHFS_TSA(x) __attribute__((x))
#else
#define MPATHFS_TSA(x)
#endif

#define CAPABILITY(x) MPATHFS_TSA(capability(x))
#define SCOPED_CAPABILITY MPATHFS_TSA(scoped_lockable)
#define GUARDED_BY(x) MPATHFS_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) MPATHFS_TSA(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) MPATHFS_TSA(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) MPATHFS_TSA(acquired_after(__VA_ARGS__))
#define REQUIRES(...) MPATHFS_TSA(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) MPATHFS_TSA(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) MPATHFS_TSA(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) MPATHFS_TSA(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) MPATHFS_TSA(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) MPATHFS_TSA(release_shared_capability(__VA_ARGS__))
#define RELEASE_GENERIC(...) MPATHFS_TSA(release_generic_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) MPATHFS_TSA(try_acquire_capability(__VA_ARGS__))
#define TRY_ACQUIRE_SHARED(...) MPATHFS_TSA(try_acquire_shared_capability(__VA_ARGS__))
#define EXCLUDES(...) MPATHFS_TSA(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) MPATHFS_TSA(assert_capability(x))
#define RETURN_CAPABILITY(x) MPATHFS_TSA(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS MPATHFS_TSA(no_thread_safety_analysis)
