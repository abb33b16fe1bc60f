#!/usr/bin/env bash
# Builds mpathfs with AddressSanitizer+UBSan and with ThreadSanitizer and
# runs the unit tests and the end-to-end tests (whose daemon is then the
# instrumented one) under each.  Called by .ci/run after the plain suite.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
status=0
for san in asan tsan; do
  build="$top/build-$san"
  opt=-DMPATHFS_ASAN=ON
  [ "$san" = tsan ] && opt=-DMPATHFS_TSAN=ON
  echo "=== $san: build"
  BUILD_DIR="$build" BUILD_TYPE=Debug "$top/scripts/build.sh" "$opt"
  echo "=== $san: tests"
  # halt_on_error: a report fails the test.  detect_leaks=0: threads stuck
  # in hung paths are deliberately never joined.
  export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  # The torture test and the "soak" tests (long fio runs across failing
  # links) run in the plain build only: their length is the point, and the
  # short tests of the same code run here.  The package test builds and
  # installs a .deb: it checks packaging, which an instrumented build only blurs.
  (cd "$build" && ctest --output-on-failure --timeout 900 -E 'torture|soak|^package$' "$@") || status=1
done
exit $status
