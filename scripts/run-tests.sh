#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the unit tests of
# the core and the end-to-end tests that mount for real, then the same
# again under AddressSanitizer+UBSan and ThreadSanitizer
# (MPATHFS_SANITIZERS=0 skips those).  The plain build fails on any compiler
# warning (-Werror); between the plain suite and the sanitizer rounds a clang
# build checks the thread-safety annotations (MPATHFS_TSA=0 skips it).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
"$top/scripts/setup.sh"
"$top/scripts/build.sh" -DMPATHFS_WERROR=ON
(cd "$build" && ctest --output-on-failure --timeout 900 "$@")
if [ "${MPATHFS_TSA:-1}" != 0 ]; then
  "$top/scripts/build-clang-tsa.sh"
fi
if [ "${MPATHFS_SANITIZERS:-1}" != 0 ]; then
  "$top/scripts/run-sanitizers.sh" "$@"
fi
