#!/usr/bin/env bash
# Builds the daemon, the core and the unit tests with clang++ and
# -Wthread-safety -Werror into ./build-clang (or $CLANG_BUILD_DIR; not
# $BUILD_DIR, which names the gcc build run-tests.sh just made): the compiler
# checks the GUARDED_BY / REQUIRES / lock-order annotations
# (src/core/thread_annotations.hpp).  Needs Debian's `clang` package.
# Extra arguments go to cmake.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${CLANG_BUILD_DIR:-$top/build-clang}
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} \
  -DCMAKE_CXX_COMPILER="${CLANGXX:-clang++}" -DMPATHFS_WERROR=ON "${launcher[@]}" "$@" >/dev/null
cmake --build "$build" -j"$(nproc)" --target mpathfs mpathfs_core mpathfs_unit
