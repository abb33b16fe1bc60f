#!/usr/bin/env bash
# The benchmark of SPEC.md "Performance" (issue 6): the same fio jobs on the
# raw file, libfuse's passthrough_ll, nbdkit+nbdfuse, mpathfs in each mode
# and a loop device on an mpathfs volume, all in one run, with ratios.
# See bench/README.md.  Needs root (private tmpfs, loop device), fio, jq,
# nbdkit, nbdfuse, fusermount3, cc, pkg-config and libfuse3-dev.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

ALL_TARGETS=(raw passthrough_ll nbdfuse mpathfs-ap mpathfs-aa mpathfs-ar loop loop-ptll)
ALL_JOBS=(seqread seqwrite randread randwrite)

usage() {
  cat <<EOF
usage: bench/run.sh [options]
  --runtime S        seconds per fio job (default 10)
  --ramp S           fio ramp_time, not measured (default 1)
  --size SIZE        backing file size on tmpfs (default 1G)
  --json FILE        also write the results as JSON
  --only LIST        comma-separated subset of: ${ALL_TARGETS[*]}
  --jobs LIST        comma-separated subset of: ${ALL_JOBS[*]}
  --mpathfs PATH     the daemon (default ./build/src/mpathfs)
  --mpathfs-opts O   extra -o options for mpathfs (e.g. workers=4,direct=off)
  --pt-opts O        -o options for passthrough_ll (default: none = its defaults)
  --keep-going       a failing target is reported, the others still run
  --repeat N         run all targets N times (rounds, interleaved); the table
                     gives medians and the spread across rounds (default 1)
  --wait-idle L[:S]  before each target, wait (at most S s, default 120) until the
                     1-minute load average is at most L (a shared machine)
Targets: raw = fio on the backing file; passthrough_ll = libfuse's example
over the tmpfs dir; nbdfuse = nbdkit file plugin (unix socket) via nbdfuse;
mpathfs-ap/aa/ar = a 2-path volume (two names of the image) per mode;
loop = losetup --direct-io=on on an active-active volume file; loop-ptll = the
same on the passthrough_ll file (what a loop device costs over any FUSE file).
EOF
}

RUNTIME=10
RAMP=1
SIZE=1G
JSON_OUT=""
ONLY=""
JOBS_ARG=""
MPATHFS=./build/src/mpathfs
MPATHFS_OPTS=""
PT_OPTS=""
KEEP_GOING=0
WAIT_IDLE=""
REPEAT=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --runtime) RUNTIME=$2; shift 2 ;;
    --ramp) RAMP=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --json) JSON_OUT=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --jobs) JOBS_ARG=$2; shift 2 ;;
    --mpathfs) MPATHFS=$2; shift 2 ;;
    --mpathfs-opts) MPATHFS_OPTS=$2; shift 2 ;;
    --pt-opts) PT_OPTS=$2; shift 2 ;;
    --keep-going) KEEP_GOING=1; shift ;;
    --wait-idle) WAIT_IDLE=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

TARGETS=("${ALL_TARGETS[@]}")
if [[ -n $ONLY ]]; then
  IFS=, read -r -a TARGETS <<<"$ONLY"
  for t in "${TARGETS[@]}"; do
    [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || bench_die "unknown target '$t' (known: ${ALL_TARGETS[*]})"
  done
fi
JOBS=("${ALL_JOBS[@]}")
if [[ -n $JOBS_ARG ]]; then
  IFS=, read -r -a JOBS <<<"$JOBS_ARG"
  for j in "${JOBS[@]}"; do
    [[ " ${ALL_JOBS[*]} " == *" $j "* ]] || bench_die "unknown job '$j' (known: ${ALL_JOBS[*]})"
  done
fi
wants() { [[ " ${TARGETS[*]} " == *" $1 "* ]]; }

bench_need fio jq fusermount3 mountpoint numfmt
{ wants passthrough_ll || wants loop-ptll; } && bench_need cc pkg-config
wants nbdfuse && bench_need nbdkit nbdfuse
{ wants loop || wants loop-ptll; } && bench_need losetup
if wants mpathfs-ap || wants mpathfs-aa || wants mpathfs-ar || wants loop; then
  [[ -x $MPATHFS ]] || bench_die "mpathfs not found at $MPATHFS (build it, or pass --mpathfs PATH)"
  MPATHFS=$(cd "$(dirname "$MPATHFS")" && pwd)/$(basename "$MPATHFS")
fi
PT_SRC=/usr/share/doc/libfuse3-dev/examples/passthrough_ll.c
if { wants passthrough_ll || wants loop-ptll; } && [[ ! -r $PT_SRC ]]; then bench_die "$PT_SRC missing (Debian: libfuse3-dev)"; fi
if { wants loop || wants loop-ptll; } && [[ $EUID -ne 0 ]]; then bench_die "the loop targets need root (or drop them: --only ...)"; fi

SIZE_BYTES=$(bench_bytes "$SIZE")
((SIZE_BYTES >= 64 * 1024 * 1024)) || bench_die "--size must be at least 64M"
SIZE_BYTES=$((SIZE_BYTES & ~((1 << 20) - 1)))

bench_install_traps
bench_make_tmp "$SIZE_BYTES"
T=$BENCH_TMP
IMG=$BENCH_DATA/img
mkdir -p "$T/out" "$T/log"
# The image: allocated (not a hole), so reads touch real pages.
fallocate -l "$SIZE_BYTES" "$IMG" 2>/dev/null || dd if=/dev/zero of="$IMG" bs=1M count=$((SIZE_BYTES >> 20)) status=none
# The second path: another name of the same file (mpathfs tells paths apart by name).
ln -s "$IMG" "$T/img.path-b"

declare -A BW IOPS NOTE
# Other work on a 2-core machine skews everything: say how busy it was.
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
FAILED=()

# --- targets: each prints the file fio should use (in TARGET_FILE) ---------

setup_raw() { TARGET_FILE=$IMG; }

setup_passthrough_ll() {
  local mnt=$T/pt log=$T/log/passthrough_ll.log
  mkdir -p "$mnt"
  if [[ ! -x $T/passthrough_ll ]]; then
    local -a fl
    read -r -a fl <<<"$(pkg-config --cflags --libs fuse3)"
    cc -O2 -o "$T/passthrough_ll" "$PT_SRC" "${fl[@]}" 2>"$T/log/cc.log" ||
      { cat "$T/log/cc.log" >&2; bench_die "cannot build passthrough_ll"; }
  fi
  local -a o=(-o "source=$BENCH_DATA")
  [[ -n $PT_OPTS ]] && o+=(-o "$PT_OPTS")
  bench_spawn "$log" "$T/passthrough_ll" -f "${o[@]}" "$mnt"
  SERVER_PIDS+=("$BENCH_LAST_PID")
  bench_wait_mount "$mnt" "$mnt/img" "$BENCH_LAST_PID" "$log"
  TARGET_FILE=$mnt/img
}

setup_nbdfuse() {
  local mnt=$T/nbd sock=$T/nbdkit.sock
  mkdir -p "$mnt"
  rm -f "$sock"
  bench_spawn "$T/log/nbdkit.log" nbdkit --foreground --exit-with-parent --unix "$sock" file file="$IMG"
  bench_wait_socket "$sock" "$BENCH_LAST_PID" "$T/log/nbdkit.log"
  SERVER_PIDS+=("$BENCH_LAST_PID")
  bench_spawn "$T/log/nbdfuse.log" nbdfuse "$mnt/img" --unix "$sock"
  SERVER_PIDS+=("$BENCH_LAST_PID")
  bench_wait_mount "$mnt" "$mnt/img" "$BENCH_LAST_PID" "$T/log/nbdfuse.log"
  TARGET_FILE=$mnt/img
}

# setup_mpathfs MODE NAME
setup_mpathfs() {
  local mode=$1 mnt=$T/m-$2 cfg=$T/$2.json log=$T/log/$2.log
  mkdir -p "$mnt"
  jq -n --arg mode "$mode" --arg a "$IMG" --arg b "$T/img.path-b" \
    '{options: {}, volumes: [{name: "v", mode: $mode, paths: [$a, $b]}]}' >"$cfg"
  local mo="log=$log"
  [[ -n $MPATHFS_OPTS ]] && mo="$MPATHFS_OPTS,$mo"
  bench_spawn "$log.stderr" "$MPATHFS" -f -o "$mo" "$cfg" "$mnt"
  SERVER_PIDS+=("$BENCH_LAST_PID")
  bench_wait_mount "$mnt" "$mnt/v" "$BENCH_LAST_PID" "$log.stderr"
  TARGET_FILE=$mnt/v
  echo "$BENCH_LAST_PID" >"$T/$2.pid"  # for profiling from outside
}
setup_mpathfs-ap() { setup_mpathfs active-passive mpathfs-ap; }
setup_mpathfs-aa() { setup_mpathfs active-active mpathfs-aa; }
setup_mpathfs-ar() { setup_mpathfs active-read mpathfs-ar; }

# attach_loop NAME: a loop device in direct-I/O mode on $TARGET_FILE, which
# becomes the target.
attach_loop() {
  local dev dio
  dev=$(losetup --direct-io=on --find --show "$TARGET_FILE") || bench_die "losetup failed"
  BENCH_LOOPS+=("$dev")
  dio=$(cat "/sys/block/${dev#/dev/}/loop/dio" 2>/dev/null || echo "?")
  echo "$dev dio=$dio" >"$T/out/$1.note"
  [[ $dio == 1 ]] || bench_log "warning: $dev runs without direct I/O (dio=$dio)"
  TARGET_FILE=$dev
}
setup_loop() {
  setup_mpathfs active-active loop-vol
  attach_loop loop
}
setup_loop-ptll() {
  setup_passthrough_ll
  attach_loop loop-ptll
}

# CPU seconds used so far by the processes serving the target (all threads).
server_cpu() {
  local pid sum=0 f
  for pid in "${SERVER_PIDS[@]}"; do
    read -r -a f <"/proc/$pid/stat" 2>/dev/null || continue
    # utime, stime: fields 14, 15 (the comm field has no blanks for these programs)
    sum=$((sum + f[13] + f[14]))
  done
  awk -v t="$sum" -v hz="$CLK_TCK" 'BEGIN{printf "%.3f", t / hz}'
}
# CPU seconds of this shell's waited-for children (fio and its job processes).
# `times` must run in this shell, not in a $(...) subshell.
children_cpu() {
  local l
  times >"$T/times.out"
  l=$(tail -n 1 "$T/times.out")
  awk -v l="$l" 'BEGIN{ n = split(l, a, " "); s = 0
    for (i = 1; i <= n; i++) { split(a[i], b, /[ms]/); s += b[1] * 60 + b[2] } printf "%.3f", s }'
}

# One target, run in a subshell with its own traps: whatever it started is
# stopped when it ends, fails or is interrupted; results stay in $T/out.
run_target() {
  local t=$1 out=$2 j bw iops err w0 w1 s0 s1 c0 c1
  trap bench_teardown EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  SERVER_PIDS=()
  bench_log "== $t"
  "setup_$t"
  for j in "${JOBS[@]}"; do
    w0=$(date +%s.%N) s0=$(server_cpu)
    children_cpu >"$out/c0"
    c0=$(<"$out/c0")
    bench_fio "$out/$t.$j.json" "$TARGET_FILE" "$j" "$RUNTIME" "$RAMP" "$SIZE_BYTES" >"$out/$t.$j.res" || exit 1
    w1=$(date +%s.%N) s1=$(server_cpu)
    children_cpu >"$out/c1"
    c1=$(<"$out/c1")
    read -r bw iops err <"$out/$t.$j.res"
    [[ $err == 0 ]] || { bench_log "fio error $err on $t/$j"; exit 1; }
    # CPU per I/O: CPU-seconds over the job's wall time, per I/O per second.
    awk -v w="$(awk -v a="$w0" -v b="$w1" 'BEGIN{print b - a}')" -v s="$(awk -v a="$s0" -v b="$s1" 'BEGIN{print b - a}')" \
      -v c="$(awk -v a="$c0" -v b="$c1" 'BEGIN{print b - a}')" -v i="$iops" -v n="${#SERVER_PIDS[@]}" \
      'BEGIN{ if (i <= 0) i = 1; printf "%s %.2f\n", (n ? sprintf("%.2f", s / w / i * 1e6) : "-"), c / w / i * 1e6 }' >"$out/$t.$j.cpu"
    bench_log "   $(printf '%-9s %9.1f MiB/s %9.0f IOPS' "$j" "$(awk -v b="$bw" 'BEGIN{print b/1048576}')" "$iops")"
  done
}

wait_idle() {
  [[ -n $WAIT_IDLE ]] || return 0
  local max=${WAIT_IDLE%%:*} secs=120 i l
  [[ $WAIT_IDLE == *:* ]] && secs=${WAIT_IDLE#*:}
  for ((i = 0; i < secs; i += 5)); do
    l=$(cut -d' ' -f1 /proc/loadavg)
    awk -v l="$l" -v m="$max" 'BEGIN{exit !(l <= m)}' && return 0
    ((i == 0)) && bench_log "   waiting for loadavg <= $max (now $l)"
    sleep 5
  done
  bench_log "   loadavg still $(cut -d' ' -f1 /proc/loadavg) after ${secs}s; going on"
}

CLK_TCK=$(getconf CLK_TCK)
for ((r = 1; r <= REPEAT; r++)); do
  mkdir -p "$T/out/r$r"
  ((REPEAT > 1)) && bench_log "### round $r of $REPEAT"
  for t in "${TARGETS[@]}"; do
    [[ " ${FAILED[*]} " == *" $t "* ]] && continue
    wait_idle
    if ! (run_target "$t" "$T/out/r$r"); then
      FAILED+=("$t")
      ((KEEP_GOING)) || bench_die "target $t failed (logs were in $T/log; rerun with --keep-going to skip it)"
    fi
  done
done

# --- results ---------------------------------------------------------------

# median of the arguments ("" if none)
median() { printf '%s\n' "$@" | { grep -v '^-*$' || true; } | sort -g | awk '{a[NR] = $1} END{ if (NR) printf "%.6g", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# (max - min) / median in percent
spread() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1; s += $1} END{ if (NR > 1 && a[1] + a[NR] > 0) printf "%.0f", (a[NR] - a[1]) / ((NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) * 100; else print "-" }'; }

declare -A SPREAD SRV_US FIO_US ALL_BW
for t in "${TARGETS[@]}"; do
  for j in "${JOBS[@]}"; do
    bws=() ios=() srv=() fiou=()
    for ((r = 1; r <= REPEAT; r++)); do
      fb=$T/out/r$r/$t.$j
      [[ -s $fb.res && -s $fb.cpu ]] || continue
      read -r bw iops _ <"$fb.res"
      read -r su fu <"$fb.cpu"
      bws+=("$bw") ios+=("$iops") srv+=("$su") fiou+=("$fu")
    done
    ((${#bws[@]})) || continue
    BW[$t.$j]=$(median "${bws[@]}")
    IOPS[$t.$j]=$(median "${ios[@]}")
    SPREAD[$t.$j]=$(spread "${bws[@]}")
    SRV_US[$t.$j]=$(median "${srv[@]}")
    FIO_US[$t.$j]=$(median "${fiou[@]}")
    ALL_BW[$t.$j]=$(printf '%s,' "${bws[@]}")
  done
done
for ((r = 1; r <= REPEAT; r++)); do
  for t in loop loop-ptll; do [[ -s $T/out/r$r/$t.note ]] && NOTE[$t]=$(cat "$T/out/r$r/$t.note"); done
done

# ratio A B -> "1.23" or "-"
ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN{ if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
# Issue 6 targets, as "needed ratio vs reference".
need_pt() {
  case $1 in seqread) echo 3.0 ;; seqwrite) echo 1.1 ;; randread) echo 1.2 ;; randwrite) echo 1.3 ;; esac
}
check() {
  local t=$1 j=$2 x_pt=$3 x_nbd=$4 x_vol=$5 miss=()
  case $t in
    mpathfs-*)
      [[ $x_pt == - && $x_nbd == - ]] && { echo ""; return; }
      if [[ $x_pt != - ]] && awk -v r="$x_pt" -v n="$(need_pt "$j")" 'BEGIN{exit !(r < n)}'; then miss+=("ptll<$(need_pt "$j")"); fi
      if [[ $j == rand* && $x_nbd != - ]] && awk -v r="$x_nbd" 'BEGIN{exit !(r < 5)}'; then miss+=("nbd<5"); fi
      ;;
    loop)  # loop-ptll is a reference, not a target
      [[ $x_vol == - ]] && { echo ""; return; }
      if [[ $x_vol != - ]] && awk -v r="$x_vol" 'BEGIN{exit !(r < 0.9)}'; then miss+=("vol<0.9"); fi
      ;;
    *) echo ""; return ;;
  esac
  if [[ ${#miss[@]} -eq 0 ]]; then echo ok; else echo "MISS ${miss[*]}"; fi
}

ROWS=()
# shellcheck disable=SC2059  # one format for the header and the rows
FMT='%-15s %-10s %9s %8s %6s %7s %7s %7s %7s %8s %8s  %s\n'
echo
# shellcheck disable=SC2059
printf "$FMT" target job MiB/s IOPS "+-%" x_raw x_ptll x_nbd x_vol srv_us/io fio_us/io check
printf '%s\n' "-------------------------------------------------------------------------------------------------------------------"
for t in "${TARGETS[@]}"; do
  for j in "${JOBS[@]}"; do
    k=$t.$j
    [[ -n ${BW[$k]:-} ]] || { printf '%-15s %-10s %10s\n' "$t" "$j" failed; continue; }
    mib=$(awk -v b="${BW[$k]}" 'BEGIN{printf "%.1f", b/1048576}')
    iops=$(printf '%.0f' "${IOPS[$k]}")
    x_raw=$(ratio "${BW[$k]}" "${BW[raw.$j]:-}")
    x_pt=$(ratio "${BW[$k]}" "${BW[passthrough_ll.$j]:-}")
    x_nbd=-
    [[ $j == rand* ]] && x_nbd=$(ratio "${BW[$k]}" "${BW[nbdfuse.$j]:-}")
    x_vol=-
    [[ $t == loop ]] && x_vol=$(ratio "${BW[$k]}" "${BW[mpathfs-aa.$j]:-}")
    [[ $t == loop-ptll ]] && x_vol=$(ratio "${BW[$k]}" "${BW[passthrough_ll.$j]:-}")
    c=$(check "$t" "$j" "$x_pt" "$x_nbd" "$x_vol")
    # shellcheck disable=SC2059
    printf "$FMT" "$t" "$j" "$mib" "$iops" "${SPREAD[$k]}" "$x_raw" "$x_pt" "$x_nbd" "$x_vol" "${SRV_US[$k]:--}" "${FIO_US[$k]}" "$c"
    ROWS+=("$(jq -cn --arg t "$t" --arg j "$j" --argjson bw "${BW[$k]}" --argjson iops "${IOPS[$k]}" \
      --arg xr "$x_raw" --arg xp "$x_pt" --arg xn "$x_nbd" --arg xv "$x_vol" --arg c "$c" \
      --arg sp "${SPREAD[$k]}" --arg su "${SRV_US[$k]:--}" --arg fu "${FIO_US[$k]}" --arg all "${ALL_BW[$k]%,}" '
      def num: if . == "-" then null else tonumber end;
      {target: $t, job: $j, mib_s: ($bw / 1048576 * 10 | round / 10), iops: ($iops | round), bw_bytes: $bw,
       x_raw: ($xr | num), x_passthrough_ll: ($xp | num), x_nbdfuse: ($xn | num), x_volume: ($xv | num),
       spread_pct: ($sp | num), server_cpu_us_per_io: ($su | num), fio_cpu_us_per_io: ($fu | num),
       bw_bytes_rounds: ($all | split(",") | map(tonumber)),
       check: (if $c == "" then null else $c end)}')")
  done
done
echo
echo "x_raw/x_ptll/x_nbd: MiB/s as a ratio to raw / passthrough_ll / nbdfuse (4k jobs); x_vol: loop vs mpathfs-aa"
echo "     (loop-ptll vs passthrough_ll: a loop device's price over any FUSE file)."
echo "+-%: (max-min)/median over $REPEAT round(s); srv_us/io, fio_us/io: CPU microseconds per I/O used by the serving"
echo "     daemon(s) (all threads; for loop targets: the daemon only, not the loop kworker) and by fio (incl. its kernel time)."
echo "check: issue 6 targets (mpathfs >= 3.0/1.1/1.2/1.3x passthrough_ll for seqread/seqwrite/randread/randwrite,"
echo "       4k >= 5x nbdfuse; loop >= 0.9x the volume file)."
[[ -n ${NOTE[loop]:-} ]] && echo "loop: ${NOTE[loop]}"
[[ -n ${NOTE[loop-ptll]:-} ]] && echo "loop-ptll: ${NOTE[loop-ptll]}"
echo "fio $(fio --version | sed 's/^fio-//'), runtime ${RUNTIME}s (+${RAMP}s ramp), size $SIZE, kernel $(uname -r), $(nproc) CPUs;" \
  "mpathfs -o ${MPATHFS_OPTS:-(defaults)}; passthrough_ll -o ${PT_OPTS:-(defaults)}"
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
echo "loadavg before: $LOAD0, after: $LOAD1 (anything well above 0 means other work shared the CPUs)"
[[ ${#FAILED[@]} -eq 0 ]] || echo "FAILED targets: ${FAILED[*]}"

if [[ -n $JSON_OUT ]]; then
  printf '%s\n' "${ROWS[@]}" | jq -s --arg rt "$RUNTIME" --arg ramp "$RAMP" --arg size "$SIZE" \
    --arg mo "$MPATHFS_OPTS" --arg po "$PT_OPTS" --arg kernel "$(uname -r)" --arg fio "$(fio --version)" \
    --arg loop "${NOTE[loop]:-}" --arg loop_ptll "${NOTE[loop-ptll]:-}" --arg l0 "$LOAD0" --arg l1 "$LOAD1" --arg date "$(date -Iseconds)" --argjson failed "$(printf '%s\n' "${FAILED[@]}" | jq -R . | jq -sc 'map(select(. != ""))')" \
    '{date: $date, rounds: '"$REPEAT"', runtime_s: ($rt | tonumber), ramp_s: ($ramp | tonumber), size: $size, kernel: $kernel, fio: $fio,
      cpus: '"$(nproc)"', mpathfs_opts: $mo, passthrough_ll_opts: $po, loop: $loop, loop_ptll: $loop_ptll, loadavg_before: $l0, loadavg_after: $l1, failed: $failed, results: .}' >"$JSON_OUT"
  echo "JSON: $JSON_OUT"
fi
[[ ${#FAILED[@]} -eq 0 ]]
