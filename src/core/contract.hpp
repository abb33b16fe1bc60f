// Contracts checked at the boundaries between layers (what a PathIo
// promises, what the volume hands it), like nbdkit's backend_pread checks.
// On in debug and sanitizer builds (MPATHFS_CONTRACTS), free in release.
#pragma once

#include <cstdio>
#include <cstdlib>

#if !defined(NDEBUG) && !defined(MPATHFS_CONTRACTS)
#define MPATHFS_CONTRACTS 1
#endif

#if MPATHFS_CONTRACTS
#define MPATHFS_EXPECT(cond)                                                                        \
  do {                                                                                              \
    if (!(cond)) {                                                                                  \
      std::fprintf(stderr, "mpathfs: contract broken at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                                 \
    }                                                                                               \
  } while (0)
#else
#define MPATHFS_EXPECT(cond) \
  do {                       \
  } while (0)
#endif
