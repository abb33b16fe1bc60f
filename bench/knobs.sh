#!/usr/bin/env bash
# Sweeps mpathfs's own knobs (-o workers=N, -o direct=on|off) with run.sh,
# passthrough_ll measured in the same run each time (so a busy machine skews
# both sides alike), and prints one line per setting and job.
#   bench/knobs.sh [--workers "1 2 4 8"] [--direct "on off"] [--target mpathfs-aa]
#                  [--jobs LIST] [--runtime S] [--size SIZE] [--repeat N] [--mpathfs PATH] [--out DIR]
# srv_us/io (the daemon's CPU per I/O) is the figure a busy machine disturbs least.
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORKERS="1 2 4 8"
DIRECT="on off"
TARGET=mpathfs-aa
JOBS=seqread,seqwrite,randread,randwrite
RUNTIME=10
SIZE=1G
MPATHFS=./build/src/mpathfs
OUT=""
REPEAT=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --workers) WORKERS=$2; shift 2 ;;
    --direct) DIRECT=$2; shift 2 ;;
    --target) TARGET=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --runtime) RUNTIME=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --mpathfs) MPATHFS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    -h | --help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/mpathfs-knobs.XXXXXX")}
mkdir -p "$OUT"
printf '%-22s %-10s %9s %8s %5s %7s %9s %9s  %s\n' setting job MiB/s IOPS +-% x_ptll srv_us/io fio_us/io loadavg
for d in $DIRECT; do
  for w in $WORKERS; do
    j=$OUT/w$w-direct-$d.json
    "$HERE/run.sh" --only "passthrough_ll,$TARGET" --jobs "$JOBS" --runtime "$RUNTIME" --size "$SIZE" \
      --repeat "$REPEAT" --mpathfs "$MPATHFS" --mpathfs-opts "workers=$w,direct=$d" --json "$j" >"$j.txt" 2>&1 ||
      { echo "run failed: see $j.txt" >&2; continue; }
    jq -r --arg s "workers=$w,direct=$d" --arg t "$TARGET" \
      '.loadavg_before as $l | .results[] | select(.target == $t) |
       [$s, .job, .mib_s, .iops, .spread_pct, .x_passthrough_ll, .server_cpu_us_per_io, .fio_cpu_us_per_io, $l]
       | map(tostring) | @tsv' "$j" |
      while IFS=$'\t' read -r s job mib iops sp x su fu l; do
        printf '%-22s %-10s %9s %8s %5s %7s %9s %9s  %s\n' "$s" "$job" "$mib" "$iops" "$sp" "$x" "$su" "$fu" "$l"
      done
  done
done
echo "results: $OUT"
