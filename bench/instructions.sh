#!/usr/bin/env bash
# Instructions the daemon spends per request, counted by valgrind's callgrind
# (issue 13: "behaviour and speed unchanged" by a measure that a busy 2-core
# machine cannot skew: callgrind counts instructions, not seconds).
#
# For each daemon given: an active-active volume of two paths (two names of
# one tmpfs image), fio 4 KiB random reads, then writes, O_DIRECT, depth 8,
# run twice with N1 and N2 requests; the daemon runs under callgrind each
# time.  Instructions per request = (Ir(N2) - Ir(N1)) / (N2 - N1): start-up
# and shutdown cancel out.  Prints one row per daemon and job.
#
#   bench/instructions.sh [--n1 N] [--n2 N] DAEMON [DAEMON...]
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

N1=2000
N2=12000
while [[ $# -gt 0 ]]; do
  case $1 in
    --n1) N1=$2; shift 2 ;;
    --n2) N2=$2; shift 2 ;;
    -h | --help) sed -n 2,13p "$0"; exit 0 ;;
    *) break ;;
  esac
done
[[ $# -ge 1 ]] || bench_die "usage: bench/instructions.sh [--n1 N] [--n2 N] DAEMON [DAEMON...]"
((N2 > N1)) || bench_die "--n2 must be larger than --n1"
bench_need valgrind callgrind_annotate fio jq fusermount3 mountpoint

bench_install_traps
bench_make_tmp $((64 * 1024 * 1024))
T=$BENCH_TMP
IMG=$BENCH_DATA/img
mkdir -p "$T/log"
dd if=/dev/zero of="$IMG" bs=1M count=64 status=none
ln -s "$IMG" "$T/img.b"

# Ir of one daemon run serving `n` requests of fio job `rw`.
count_ir() {
  local daemon=$1 rw=$2 n=$3 mnt=$T/mnt out=$T/cg.out cfg=$T/cfg.json log=$T/log/daemon.log
  mkdir -p "$mnt"
  rm -f "$out"
  jq -n --arg a "$IMG" --arg b "$T/img.b" \
    '{options: {workers: 2}, volumes: [{name: "v", mode: "active-active", paths: [$a, $b]}]}' >"$cfg"
  bench_spawn "$log" valgrind --tool=callgrind --callgrind-out-file="$out" "$daemon" -f -o "log=$T/log/m.log" "$cfg" "$mnt"
  local pid=$BENCH_LAST_PID
  local i
  for ((i = 0; i < 600; i++)); do
    mountpoint -q "$mnt" && [[ -e $mnt/v ]] && break
    kill -0 "$pid" 2>/dev/null || { tail "$log" >&2; bench_die "daemon exited"; }
    sleep 0.1
  done
  BENCH_FUSE+=("$mnt")
  fio --name=ir --filename="$mnt/v" --rw="$rw" --bs=4k --direct=1 --ioengine=libaio --iodepth=8 \
    --number_ios="$n" --size=48M --randrepeat=1 --norandommap --output-format=terse >/dev/null 2>"$T/log/fio.err" ||
    { cat "$T/log/fio.err" >&2; bench_die "fio failed"; }
  fusermount3 -u "$mnt"
  for ((i = 0; i < 600; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  wait "$pid" 2>/dev/null || true
  BENCH_FUSE=()
  BENCH_PIDS=()
  # "summary: N" (or "totals: N") is the whole run's instruction count.
  awk '/^(summary|totals):/ {print $2; exit}' "$out"
}

printf '%-44s %-10s %14s\n' daemon job instr/request
for daemon in "$@"; do
  [[ -x $daemon ]] || bench_die "$daemon is not an executable"
  for rw in randread randwrite; do
    a=$(count_ir "$daemon" "$rw" "$N1")
    b=$(count_ir "$daemon" "$rw" "$N2")
    printf '%-44s %-10s %14.0f\n' "$daemon" "$rw" "$(awk -v a="$a" -v b="$b" -v n=$((N2 - N1)) 'BEGIN{print (b - a) / n}')"
  done
done
