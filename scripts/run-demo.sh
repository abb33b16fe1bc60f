#!/usr/bin/env bash
# The main job: install what is missing, build, and run the demo — a volume
# over two file paths to one image: mount, write, fail a path under running
# I/O, keep going, show status, restore, verify, unmount.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
"$top/scripts/build.sh"
exec "$top/examples/demo.sh" "${BUILD_DIR:-$top/build}/src/mpathfs"
