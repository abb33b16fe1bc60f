#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the unit tests of
# the core and the end-to-end tests that mount for real, then the same
# again under AddressSanitizer+UBSan and ThreadSanitizer
# (MPATHFS_SANITIZERS=0 skips those).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
"$top/scripts/setup.sh"
"$top/scripts/build.sh"
(cd "$build" && ctest --output-on-failure --timeout 900 "$@")
if [ "${MPATHFS_SANITIZERS:-1}" != 0 ]; then
  "$top/scripts/run-sanitizers.sh" "$@"
fi
