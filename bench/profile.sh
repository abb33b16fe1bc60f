#!/usr/bin/env bash
# Profiles mpathfs on one fio job of run.sh (default: 4k randread).
#   --tool perf       perf record -e cpu-clock -g on the daemon's PID (user +
#                     kernel stacks); this VM has no hardware counters, so
#                     cpu-clock sampling is what perf can do here.
#   --tool perf-all   the same, system-wide (-a): fio, the FUSE kernel side,
#                     the daemon; shows where the CPUs go, not just the daemon.
#   --tool callgrind  the daemon runs under valgrind --tool=callgrind (-f);
#                     exact instruction counts of the user-space request path
#                     (slow: use a short --runtime).
#   --tool none       no profiler: only the daemon's CPU and context switches per I/O.
#   --loop            fio on a loop device (losetup --direct-io=on) over the
#                     volume file instead of the file itself (use perf-all:
#                     the loop worker's time is not the daemon's).
# Output: the report is printed; raw data stays in --out DIR if given.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

TOOL=perf
JOB=randread
RUNTIME=10
SIZE=1G
MODE=active-active
MPATHFS=./build/src/mpathfs
MPATHFS_OPTS=""
OUT=""
TOP=40
LOOP=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --tool) TOOL=$2; shift 2 ;;
    --job) JOB=$2; shift 2 ;;
    --runtime) RUNTIME=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --mode) MODE=$2; shift 2 ;;
    --mpathfs) MPATHFS=$2; shift 2 ;;
    --mpathfs-opts) MPATHFS_OPTS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --top) TOP=$2; shift 2 ;;
    --loop) LOOP=1; shift ;;
    -h | --help) sed -n '2,15p' "$0"; echo "options: --tool perf|perf-all|callgrind|none --job J --runtime S --size SIZE --mode M --mpathfs PATH --mpathfs-opts O --out DIR --top N --loop"; exit 0 ;;
    *) bench_die "unknown option $1 (see --help)" ;;
  esac
done
bench_need fio jq fusermount3 mountpoint numfmt
case $TOOL in
  perf | perf-all) bench_need perf ;;
  callgrind) bench_need valgrind callgrind_annotate ;;
  none) ;;
  *) bench_die "unknown tool $TOOL" ;;
esac
[[ -x $MPATHFS ]] || bench_die "mpathfs not found at $MPATHFS"
MPATHFS=$(cd "$(dirname "$MPATHFS")" && pwd)/$(basename "$MPATHFS")
SIZE_BYTES=$(bench_bytes "$SIZE")

bench_install_traps
bench_make_tmp "$SIZE_BYTES"
T=$BENCH_TMP
IMG=$BENCH_DATA/img
fallocate -l "$SIZE_BYTES" "$IMG"
ln -s "$IMG" "$T/img.path-b"
[[ -n $OUT ]] && mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
DATA_DIR=${OUT:-$T}

jq -n --arg mode "$MODE" --arg a "$IMG" --arg b "$T/img.path-b" \
  '{options: {}, volumes: [{name: "v", mode: $mode, paths: [$a, $b]}]}' >"$T/cfg.json"
mo="log=$T/mpathfs.log"
[[ -n $MPATHFS_OPTS ]] && mo="$MPATHFS_OPTS,$mo"
mkdir -p "$T/mnt"
if [[ $TOOL == callgrind ]]; then
  bench_spawn "$T/daemon.stderr" valgrind --tool=callgrind --callgrind-out-file="$DATA_DIR/callgrind.out" \
    --dump-instr=no --collect-jumps=no "$MPATHFS" -f -o "$mo" "$T/cfg.json" "$T/mnt"
else
  bench_spawn "$T/daemon.stderr" "$MPATHFS" -f -o "$mo" "$T/cfg.json" "$T/mnt"
fi
DAEMON=$BENCH_LAST_PID
bench_wait_mount "$T/mnt" "$T/mnt/v" "$DAEMON" "$T/daemon.stderr"
FIO_FILE=$T/mnt/v
if [[ $LOOP == 1 ]]; then
  bench_need losetup
  FIO_FILE=$(losetup --direct-io=on --find --show "$T/mnt/v") || bench_die "losetup failed"
  BENCH_LOOPS+=("$FIO_FILE")
  echo "loop: $FIO_FILE dio=$(cat "/sys/block/${FIO_FILE#/dev/}/loop/dio" 2>/dev/null || echo '?')"
fi

PERF_PID=""
if [[ $TOOL == perf ]]; then
  perf record -q -e cpu-clock -F 2000 -g -p "$DAEMON" -o "$DATA_DIR/perf.data" 2>"$T/perf.err" &
  PERF_PID=$!
elif [[ $TOOL == perf-all ]]; then
  perf record -q -e cpu-clock -F 2000 -g -a -o "$DATA_DIR/perf.data" 2>"$T/perf.err" &
  PERF_PID=$!
fi
[[ -n $PERF_PID ]] && BENCH_PIDS+=("$PERF_PID") && sleep 0.5

# Context switches of all the daemon's threads (live ones; enough for a pool
# that does not churn threads).
ctxsw() { cat /proc/"$DAEMON"/task/*/status 2>/dev/null | awk '/ctxt_switches/{s += $2} END{print s + 0}'; }
cpu_ticks() { awk '{print $14 + $15}' /proc/"$DAEMON"/stat; }
# Per-CPU busy time (everything but idle and iowait): an idle CPU while fio
# waits means the request path is latency-bound, not CPU-bound.
cpu_stat() { grep -E '^cpu[0-9]' /proc/stat; }
cpu_stat >"$T/stat0"
CS0=$(ctxsw) CPU0=$(cpu_ticks)
res=$(bench_fio "$T/fio.json" "$FIO_FILE" "$JOB" "$RUNTIME" 0 "$SIZE_BYTES")
CS1=$(ctxsw) CPU1=$(cpu_ticks)
cpu_stat >"$T/stat1"
read -r bw iops _ <<<"$res"
NIOS=$(jq '.jobs[0].read.total_ios + .jobs[0].write.total_ios' "$T/fio.json")
printf '%s: %.1f MiB/s, %.0f IOPS, %s I/Os (under %s)\n' "$JOB" "$(awk -v b="$bw" 'BEGIN{print b/1048576}')" "$iops" "$NIOS" "$TOOL"
awk -v c="$((CS1 - CS0))" -v t="$((CPU1 - CPU0))" -v hz="$(getconf CLK_TCK)" -v n="$NIOS" 'BEGIN{ if (n < 1) n = 1
  printf "daemon: %.2f context switches per I/O, %.2f us CPU per I/O (%s)\n", c / n, t / hz / n * 1e6, "all threads" }'
paste "$T/stat0" "$T/stat1" | awk '{ n = NF / 2; tot = 0
  for (i = 2; i <= n; i++) tot += $(n + i) - $i
  idle = ($(n + 5) + $(n + 6)) - ($5 + $6)
  printf "%s busy %.0f%%  ", $1, (tot > 0 ? 100 * (tot - idle) / tot : 0) } END{ print "" }'

set +o pipefail  # reports are cut with head
if [[ -n $PERF_PID ]]; then
  kill -INT "$PERF_PID"
  wait "$PERF_PID" 2>/dev/null || true
  rep() { perf report -i "$DATA_DIR/perf.data" --stdio -g none "$@" 2>/dev/null | grep -E '^ +[0-9]' | sed -E 's/( +-)* *$//'; }
  echo "--- perf: samples by object"
  rep --no-children --sort dso
  echo "--- perf: self time, top $TOP"
  rep --no-children --sort dso,symbol | head -n "$TOP"
  echo "--- perf: user space only (self), top 20"
  rep --no-children --sort dso,symbol --dsos mpathfs,libfuse3.so.3.14.0,libc.so.6,libstdc++.so.6.0.30 | head -n 20
  echo "--- perf: inclusive (children), top $TOP"
  rep --children --sort symbol | head -n "$TOP"
fi
bench_teardown  # unmount: the daemon exits and callgrind writes its file
if [[ $TOOL == callgrind ]]; then
  tot=$(callgrind_annotate "$DATA_DIR/callgrind.out" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1; exit}')
  echo "--- callgrind: $tot instructions in the daemon for $NIOS I/Os: $((tot / (NIOS > 0 ? NIOS : 1))) per I/O (incl. start-up)"
  echo "--- callgrind: instructions (inclusive), top $TOP"
  callgrind_annotate --inclusive=yes "$DATA_DIR/callgrind.out" 2>/dev/null | head -n $((TOP + 25))
  echo "--- callgrind: instructions (self), top $TOP"
  callgrind_annotate "$DATA_DIR/callgrind.out" 2>/dev/null | head -n $((TOP + 25))
fi
