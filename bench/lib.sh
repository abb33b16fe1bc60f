# shellcheck shell=bash
# Shared helpers for bench/run.sh and bench/scaling.sh (sourced, not run).
#
# Everything a benchmark starts is registered here (PIDs, FUSE mounts, loop
# devices, tmpfs mounts) and torn down by bench_teardown / bench_cleanup, on
# success, failure, Ctrl-C or SIGTERM alike.  Nothing is ever killed by name.

BENCH_PIDS=()      # processes we started (killed by PID, newest first)
BENCH_FUSE=()      # FUSE mount points (fusermount3 -u, then -uz)
BENCH_LOOPS=()     # loop devices (losetup -d)
BENCH_TMPFS=()     # private tmpfs mounts (umount, last)
BENCH_TMP=""       # the temp dir, removed last
export BENCH_DATA="" # the data dir (tmpfs) below it

bench_log() { printf '%s\n' "$*" >&2; }
bench_die() {
  bench_log "error: $*"
  exit 1
}

bench_need() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || bench_die "'$c' not found (Debian: fio nbdkit nbdfuse fuse3 libfuse3-dev jq util-linux)"
  done
}

# size string (1G, 512M, 1073741824) -> bytes
bench_bytes() {
  numfmt --from=iec "${1^^}" 2>/dev/null || bench_die "bad size '$1'"
}

# Makes BENCH_TMP and, as root, a private tmpfs of $1 bytes at $BENCH_TMP/data
# (else a directory under /dev/shm).  Sets BENCH_DATA.  Do not call it in a
# subshell: the registrations must reach the EXIT trap.
bench_make_tmp() {
  local bytes=$1 data
  BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mpathfs-bench.XXXXXX") || bench_die "mktemp failed"
  data=$BENCH_TMP/data
  mkdir -p "$data"
  if [[ $EUID -eq 0 ]] && mount -t tmpfs -o "size=$((bytes + 64 * 1024 * 1024)),mode=0700" mpathfs-bench "$data" 2>/dev/null; then
    BENCH_TMPFS+=("$data")
  else
    rmdir "$data"
    data=$(mktemp -d /dev/shm/mpathfs-bench.XXXXXX) || bench_die "no tmpfs: cannot mount one nor use /dev/shm"
    ln -s "$data" "$BENCH_TMP/data"
    BENCH_SHM_DIR=$data
  fi
  BENCH_DATA=$BENCH_TMP/data
}

# bench_spawn LOGFILE CMD... : starts CMD in the background, registers its PID.
bench_spawn() {
  local log=$1
  shift
  "$@" >>"$log" 2>&1 </dev/null &
  BENCH_LAST_PID=$!
  BENCH_PIDS+=("$BENCH_LAST_PID")
}

# bench_wait_mount MNT FILE PID LOG : until MNT is a mount point and FILE
# exists, or fails if PID dies / 15 s pass.
bench_wait_mount() {
  local mnt=$1 file=$2 pid=$3 log=$4 i
  for ((i = 0; i < 150; i++)); do
    if mountpoint -q "$mnt" && [[ -e $file ]]; then
      BENCH_FUSE+=("$mnt")
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      bench_log "--- $log"
      tail -n 20 "$log" >&2 || true
      bench_die "process $pid exited before $file appeared"
    fi
    sleep 0.1
  done
  mountpoint -q "$mnt" && BENCH_FUSE+=("$mnt")
  bench_die "timed out waiting for $file"
}

# bench_wait_socket SOCK PID LOG
bench_wait_socket() {
  local sock=$1 pid=$2 log=$3 i
  for ((i = 0; i < 150; i++)); do
    [[ -S $sock ]] && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$log" >&2 || true
      bench_die "process $pid exited before $sock appeared"
    fi
    sleep 0.1
  done
  bench_die "timed out waiting for $sock"
}

bench_kill_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
  # Unmounted daemons exit on their own; give them a moment first.
  for ((i = 0; i < 30; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null || true
}

# Stops everything of the current target: loops, FUSE mounts, processes.
bench_teardown() {
  local i m
  for ((i = ${#BENCH_LOOPS[@]} - 1; i >= 0; i--)); do
    losetup -d "${BENCH_LOOPS[i]}" 2>/dev/null || bench_log "warning: losetup -d ${BENCH_LOOPS[i]} failed"
  done
  BENCH_LOOPS=()
  for ((i = ${#BENCH_FUSE[@]} - 1; i >= 0; i--)); do
    m=${BENCH_FUSE[i]}
    if mountpoint -q "$m" 2>/dev/null; then
      fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || bench_log "warning: cannot unmount $m"
    fi
  done
  BENCH_FUSE=()
  for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do
    bench_kill_pid "${BENCH_PIDS[i]}"
  done
  BENCH_PIDS=()
}

# The EXIT trap: teardown, then tmpfs and the temp dir.
bench_cleanup() {
  local rc=$? m
  trap - EXIT INT TERM
  set +e
  bench_teardown
  for m in "${BENCH_TMPFS[@]}"; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || bench_log "warning: cannot unmount $m"
  done
  [[ -n ${BENCH_SHM_DIR:-} ]] && rm -rf --one-file-system "$BENCH_SHM_DIR"
  if [[ -n $BENCH_TMP && -d $BENCH_TMP ]]; then
    # Only if nothing is still mounted below it.
    if grep -q " $BENCH_TMP/" /proc/self/mountinfo; then
      bench_log "warning: leaving $BENCH_TMP (something is still mounted below it)"
    else
      rm -rf --one-file-system "$BENCH_TMP"
    fi
  fi
  exit "$rc"
}

bench_install_traps() {
  trap bench_cleanup EXIT
  trap 'bench_log "interrupted"; exit 130' INT
  trap 'bench_log "terminated"; exit 143' TERM
}

# bench_fio OUT.json FILE JOB RUNTIME RAMP SIZE_BYTES [extra fio args...]
# Jobs of SPEC "Performance": libaio, direct=1, 2 jobs, group_reporting.
# The two sequential jobs each take one half of the file.
bench_fio() {
  local out=$1 file=$2 job=$3 rt=$4 ramp=$5 size=$6
  shift 6
  local -a a=(--name="$job" --filename="$file" --ioengine=libaio --direct=1 --numjobs=2 --group_reporting
    --time_based --runtime="$rt" --ramp_time="$ramp" --output-format=json --output="$out")
  local half=$(((size / 2) & ~((1 << 20) - 1)))
  case $job in
    seqread) a+=(--rw=read --bs=1M --iodepth=16 --size="$half" --offset_increment="$half") ;;
    seqwrite) a+=(--rw=write --bs=1M --iodepth=16 --size="$half" --offset_increment="$half") ;;
    randread) a+=(--rw=randread --bs=4k --iodepth=32 --size="$size" --norandommap --randrepeat=0) ;;
    randwrite) a+=(--rw=randwrite --bs=4k --iodepth=32 --size="$size" --norandommap --randrepeat=0) ;;
    *) bench_die "unknown job $job" ;;
  esac
  fio "${a[@]}" "$@" >/dev/null 2>"$out.err" || {
    cat "$out.err" >&2
    return 1
  }
  # bytes/s and IOPS of the group (read + write), and fio's error code
  jq -r '.jobs[0] | "\(.read.bw_bytes + .write.bw_bytes) \(.read.iops + .write.iops) \(.error)"' "$out"
}
