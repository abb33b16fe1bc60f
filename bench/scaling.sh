#!/usr/bin/env bash
# Active-active over limited paths (issue 6): does a second path give a
# second path's worth of throughput when the paths are the bottleneck?
#
# One image on tmpfs; two nbdkit servers on it (file plugin + rate filter, or
# delay filter), each exposed as a file by nbdfuse: two throttled "paths" to
# one disk.  The 1 MiB sequential-read job of run.sh runs on each path
# directly (its limit), then on an mpathfs volume of 1 path and of 2 paths
# (active-active).  Target: 2 paths >= 1.8x 1 path.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

usage() {
  cat <<EOF
usage: bench/scaling.sh [options]
  --runtime S       seconds per fio run (default 10)
  --ramp S          fio ramp_time (default 3: drains the rate filter's 2 s burst bucket)
  --size SIZE       image size on tmpfs (default 256M)
  --rate BITS       nbdkit rate filter per path, in bits/s (default 400M = 50 MB/s)
  --delay MS        use the delay filter instead (delay-read=MS ms) with nbdfuse -C 1 -s,
                    so each path serves one request at a time
  --mpathfs PATH    the daemon (default ./build/src/mpathfs)
  --mpathfs-opts O  extra -o options for mpathfs
  --json FILE       also write the results as JSON
EOF
}

RUNTIME=10
RAMP=3
SIZE=256M
RATE=400M
DELAY=""
MPATHFS=./build/src/mpathfs
MPATHFS_OPTS=""
JSON_OUT=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --runtime) RUNTIME=$2; shift 2 ;;
    --ramp) RAMP=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --delay) DELAY=$2; shift 2 ;;
    --mpathfs) MPATHFS=$2; shift 2 ;;
    --mpathfs-opts) MPATHFS_OPTS=$2; shift 2 ;;
    --json) JSON_OUT=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

bench_need fio jq fusermount3 mountpoint numfmt nbdkit nbdfuse
[[ -x $MPATHFS ]] || bench_die "mpathfs not found at $MPATHFS (build it, or pass --mpathfs PATH)"
MPATHFS=$(cd "$(dirname "$MPATHFS")" && pwd)/$(basename "$MPATHFS")
SIZE_BYTES=$(bench_bytes "$SIZE")
SIZE_BYTES=$((SIZE_BYTES & ~((1 << 20) - 1)))

bench_install_traps
bench_make_tmp "$SIZE_BYTES"
T=$BENCH_TMP
IMG=$BENCH_DATA/img
mkdir -p "$T/out" "$T/log"
fallocate -l "$SIZE_BYTES" "$IMG" 2>/dev/null || dd if=/dev/zero of="$IMG" bs=1M count=$((SIZE_BYTES >> 20)) status=none

if [[ -n $DELAY ]]; then
  FILTER=(--filter=delay file file="$IMG" delay-read="${DELAY}ms")
  NBDFUSE_OPTS=(-C 1 -s)
  LIMIT="delay-read=${DELAY}ms, nbdfuse -C 1 -s"
else
  FILTER=(--filter=rate file file="$IMG" rate="$RATE")
  NBDFUSE_OPTS=()
  LIMIT="rate=$RATE bits/s"
fi

# The two throttled paths (they live for the whole run).
for p in a b; do
  mkdir -p "$T/path-$p"
  bench_spawn "$T/log/nbdkit-$p.log" nbdkit --foreground --exit-with-parent --unix "$T/nbd-$p.sock" "${FILTER[@]}"
  bench_wait_socket "$T/nbd-$p.sock" "$BENCH_LAST_PID" "$T/log/nbdkit-$p.log"
  bench_spawn "$T/log/nbdfuse-$p.log" nbdfuse "${NBDFUSE_OPTS[@]}" "$T/path-$p/img" --unix "$T/nbd-$p.sock"
  bench_wait_mount "$T/path-$p" "$T/path-$p/img" "$BENCH_LAST_PID" "$T/log/nbdfuse-$p.log"
done
PATH_A=$T/path-a/img
PATH_B=$T/path-b/img

# measure NAME FILE -> bytes/s on stdout
measure() {
  local res bw err
  res=$(bench_fio "$T/out/$1.json" "$2" seqread "$RUNTIME" "$RAMP" "$SIZE_BYTES") || bench_die "fio failed on $1"
  read -r bw _ err <<<"$res"
  [[ $err == 0 ]] || bench_die "fio error $err on $1"
  printf '%s\n' "$bw"
}

# An mpathfs volume over the given paths, measured in a subshell that stops
# the daemon (before the paths below it) whatever happens.
measure_mpathfs() {
  local name=$1
  shift
  (
    trap bench_teardown EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    BENCH_PIDS=() BENCH_FUSE=() BENCH_LOOPS=()
    mnt=$T/m-$name
    mkdir -p "$mnt"
    jq -n '{options: {}, volumes: [{name: "v", mode: "active-active", paths: $ARGS.positional}]}' \
      --args "$@" >"$T/$name.json"
    mo="log=$T/log/$name.log"
    [[ -n $MPATHFS_OPTS ]] && mo="$MPATHFS_OPTS,$mo"
    bench_spawn "$T/log/$name.stderr" "$MPATHFS" -f -o "$mo" "$T/$name.json" "$mnt"
    bench_wait_mount "$mnt" "$mnt/v" "$BENCH_LAST_PID" "$T/log/$name.stderr"
    measure "$name" "$mnt/v"
  )
}

mib() { awk -v b="$1" 'BEGIN{printf "%.1f", b/1048576}'; }

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
bench_log "paths: $LIMIT each; seqread 1M QD16 x2 jobs, ${RUNTIME}s (+${RAMP}s ramp)"
bench_log "== path a alone";    BW_A=$(measure path-a "$PATH_A");                     bench_log "   $(mib "$BW_A") MiB/s"
bench_log "== path b alone";    BW_B=$(measure path-b "$PATH_B");                     bench_log "   $(mib "$BW_B") MiB/s"
bench_log "== mpathfs 1 path";  BW_1=$(measure_mpathfs one "$PATH_A");               bench_log "   $(mib "$BW_1") MiB/s"
bench_log "== mpathfs 2 paths"; BW_2=$(measure_mpathfs two "$PATH_A" "$PATH_B");     bench_log "   $(mib "$BW_2") MiB/s"

RATIO=$(awk -v a="$BW_2" -v b="$BW_1" 'BEGIN{printf "%.2f", a/b}')
OK=$(awk -v r="$RATIO" 'BEGIN{print (r >= 1.8) ? "ok" : "MISS"}')
printf '\n%-26s %10s\n' "seqread 1M QD16 x2" "MiB/s"
printf '%-26s %10s\n' "path a (direct)" "$(mib "$BW_A")" "path b (direct)" "$(mib "$BW_B")" \
  "mpathfs aa, 1 path" "$(mib "$BW_1")" "mpathfs aa, 2 paths" "$(mib "$BW_2")"
printf '%-26s %10s  %s\n' "2 paths / 1 path" "${RATIO}x" "$OK (target >= 1.8x)"
echo "paths: $LIMIT each (nbdkit $(nbdkit --version | awk '{print $2}') + nbdfuse over one tmpfs image);" \
  "mpathfs -o ${MPATHFS_OPTS:-(defaults)}; loadavg before: $LOAD0, after: $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ -n $JSON_OUT ]]; then
  jq -n --arg limit "$LIMIT" --argjson a "$BW_A" --argjson b "$BW_B" --argjson one "$BW_1" --argjson two "$BW_2" \
    --argjson ratio "$RATIO" --arg ok "$OK" --arg rt "$RUNTIME" --arg mo "$MPATHFS_OPTS" \
    '{limit: $limit, runtime_s: ($rt | tonumber), mpathfs_opts: $mo, job: "seqread 1M QD16 x2",
      bw_bytes: {path_a: $a, path_b: $b, mpathfs_1_path: $one, mpathfs_2_paths: $two},
      ratio_2_over_1: $ratio, check: $ok}' >"$JSON_OUT"
  echo "JSON: $JSON_OUT"
fi
