#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit + end-to-end).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
"$top/scripts/setup.sh"
"$top/scripts/build.sh"
cd "$build"
ctest --output-on-failure --timeout 900 "$@"
