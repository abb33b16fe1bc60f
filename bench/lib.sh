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
    command -v "$c" >/dev/null 2>&1 || bench_die "'$c' not found (Debian: fio nbdkit libnbd-bin fuse3 libfuse3-dev jq util-linux; network targets: qemu-system-common qemu-block-extra tgt iproute2)"
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
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
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
  local i
  bench_unmount_all
  for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do
    bench_kill_pid "${BENCH_PIDS[i]}"
  done
  BENCH_PIDS=()
}

# Loop devices, then FUSE mounts (newest first).
bench_unmount_all() {
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
}

# The EXIT trap: teardown, then tmpfs and the temp dir.
bench_cleanup() {
  local rc=$? m
  trap - EXIT INT TERM
  set +e
  bench_unmount_all
  bench_tgtd_down
  bench_teardown
  bench_net_down
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

# --- network test hosts (run.sh's network targets, scaling.sh --paths ...) ---
#
# A network namespace with veth links to it, addresses in 169.254.0.0/16 only
# (169.254.O.1/30 here, 169.254.O.2/30 in the namespace), and an `unreachable`
# guard route per subnet (metric 4000) so that a link that is down never sends
# the subnet's traffic out by the default route.  Servers run in the namespace
# (`ip netns exec`, which execs: the registered PID is the server's own).
# bench_cleanup removes the namespace, links and routes after the processes.

BENCH_NETNS=""     # the namespace we made
BENCH_NETLINKS=()  # host-side veth names (deleting one deletes its peer)
BENCH_GUARDS=()    # subnets with our guard route
BENCH_TGTD=()      # "PID PORT" of tgtd instances (stopped before other PIDs)

# bench_net_up NS OCTET... : makes namespace NS with one link per third octet
# O: host side mpb<pid>l<i> = 169.254.O.1/30, namespace side eth<i> = .2.
bench_net_up() {
  local ns=$1 o i=0 host
  shift
  for o in "$@"; do
    if ! [[ $o =~ ^[0-9]+$ ]] || ((o < 1 || o > 254)); then bench_die "bad subnet octet '$o' (1..254)"; fi
    # Ours alone: no route and no address of this machine inside 169.254.O.0/24.
    if [[ -n $(ip -o route show root "169.254.$o.0/24") || -n $(ip -o addr show to "169.254.$o.0/24") ]]; then
      bench_die "169.254.$o.0/24 is in use on this machine (another benchmark or test?); pick others with --subnets"
    fi
  done
  ip netns add "$ns" || bench_die "ip netns add $ns failed"
  BENCH_NETNS=$ns
  ip -n "$ns" link set lo up || bench_die "cannot bring lo up in $ns"
  for o in "$@"; do
    host=mpb$$l$i
    ((${#host} <= 15)) || host=${host: -15}
    ip link add "$host" type veth peer name "eth$i" netns "$ns" || bench_die "cannot make veth $host"
    BENCH_NETLINKS+=("$host")
    { ip addr add "169.254.$o.1/30" dev "$host" && ip link set "$host" up &&
      ip -n "$ns" addr add "169.254.$o.2/30" dev "eth$i" && ip -n "$ns" link set "eth$i" up; } ||
      bench_die "cannot configure link $host"
    ip route add unreachable "169.254.$o.0/30" metric 4000 || bench_die "cannot add the guard route for 169.254.$o.0/30"
    BENCH_GUARDS+=("169.254.$o.0/30")
    i=$((i + 1))
  done
}

# Removes what bench_net_up made (the processes in it must be gone first).
bench_net_down() {
  local l s
  for l in "${BENCH_NETLINKS[@]}"; do
    ip link delete "$l" 2>/dev/null || bench_log "warning: cannot delete link $l"
  done
  BENCH_NETLINKS=()
  for s in "${BENCH_GUARDS[@]}"; do
    ip route delete unreachable "$s" metric 4000 2>/dev/null || bench_log "warning: cannot delete the guard route $s"
  done
  BENCH_GUARDS=()
  if [[ -n $BENCH_NETNS ]]; then
    ip netns delete "$BENCH_NETNS" 2>/dev/null || bench_log "warning: cannot delete namespace $BENCH_NETNS"
    BENCH_NETNS=""
  fi
}

# bench_link_limit BITS : a token bucket (tc tbf) of BITS bits/s on both
# ends of every link (each end's egress: reads and writes alike).
bench_link_limit() {
  local bits=$1 i l
  for ((i = 0; i < ${#BENCH_NETLINKS[@]}; i++)); do
    l=${BENCH_NETLINKS[i]}
    tc qdisc replace dev "$l" root tbf rate "${bits}bit" burst 256kb latency 100ms ||
      bench_die "tc tbf on $l failed"
    ip netns exec "$BENCH_NETNS" tc qdisc replace dev "eth$i" root tbf rate "${bits}bit" burst 256kb latency 100ms ||
      bench_die "tc tbf on eth$i in $BENCH_NETNS failed"
  done
}

# bench_wait_nbd URI PID LOG : until an NBD server answers at URI.
bench_wait_nbd() {
  local uri=$1 pid=$2 log=$3 i
  for ((i = 0; i < 100; i++)); do
    nbdinfo --size "$uri" >/dev/null 2>&1 && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$log" >&2 || true
      bench_die "server $pid exited before $uri answered"
    fi
    sleep 0.1
  done
  bench_die "timed out waiting for $uri"
}

# bench_tgtd_up NS IMG IQN LOG : tgtd (user-space iSCSI target, Debian tgt)
# in namespace NS on a private control port, target IQN with LUN 1 = IMG, open
# to all initiators, portal 0.0.0.0:3260 of the namespace.  Sets BENCH_TGTD_PORT.
bench_tgtd_up() {
  local ns=$1 img=$2 iqn=$3 log=$4 port i ok=0
  # A control port no other tgtd uses (tests and other runs pick their own).
  for ((port = 3000 + $$ % 5000, i = 0; i < 20; port++, i++)); do
    [[ -e /var/run/tgtd/socket.$port || -e /var/run/tgtd/socket.$port.lock ]] || { ok=1; break; }
  done
  ((ok)) || bench_die "no free tgtd control port"
  bench_spawn "$log" ip netns exec "$ns" tgtd -f -C "$port"
  BENCH_TGTD+=("$BENCH_LAST_PID $port")
  # shellcheck disable=SC2034  # for the caller
  BENCH_TGTD_PORT=$port
  local pid=$BENCH_LAST_PID
  for ((i = 0; i < 100; i++)); do
    ip netns exec "$ns" tgtadm -C "$port" --op show --mode sys >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$log" >&2; bench_die "tgtd exited at start"; }
    sleep 0.1
  done
  ((i < 100)) || bench_die "tgtd did not answer on control port $port"
  local -a adm=(ip netns exec "$ns" tgtadm -C "$port" --lld iscsi)
  if ! { "${adm[@]}" --op new --mode target --tid 1 -T "$iqn" &&
    "${adm[@]}" --op new --mode logicalunit --tid 1 --lun 1 -b "$img" &&
    "${adm[@]}" --op update --mode logicalunit --tid 1 --lun 1 --params "scsi_id=mpathfs-bench-$$,scsi_sn=mpb$$" &&
    "${adm[@]}" --op bind --mode target --tid 1 -I ALL; } >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    bench_die "tgtadm could not set up $iqn"
  fi
}

# tgtd ignores SIGTERM while it has targets: delete them, then the system
# (tgtd exits), else SIGKILL by PID.  Its control socket files go too.
bench_tgtd_down() {
  local e pid port i
  for e in "${BENCH_TGTD[@]}"; do
    read -r pid port <<<"$e"
    if kill -0 "$pid" 2>/dev/null; then
      timeout 5 ip netns exec "$BENCH_NETNS" tgtadm -C "$port" --lld iscsi --op delete --mode target --tid 1 --force >/dev/null 2>&1
      timeout 5 ip netns exec "$BENCH_NETNS" tgtadm -C "$port" --op delete --mode system >/dev/null 2>&1
      for ((i = 0; i < 30; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null || true
    rm -f "/var/run/tgtd/socket.$port" "/var/run/tgtd/socket.$port.lock"
  done
  BENCH_TGTD=()
}

# bench_mpathfs_up MPATHFS OPTS MNT LOG WHAT MODE PATH... : starts the daemon
# with no config at MNT, then `mpathfs create [-A|-R] -m MNT v PATH...` (the
# CLI keeps URIs as they are; the daemon's config loader before 5695ab6 took a
# non-absolute word for a file relative to the config), and waits for MNT/v.
# MODE: active-active, active-passive or active-read.  If the daemon refuses
# the paths' form (a build without that backend: "... paths are not built
# in"), returns 2 with BENCH_NA="n/a (this mpathfs has no WHAT paths)"; other
# failures are fatal.  Sets BENCH_MPATHFS_PID.
BENCH_NA=""
bench_mpathfs_up() {
  local bin=$1 mo=$2 mnt=$3 log=$4 what=$5 mode=$6 pid i flag=()
  shift 6
  local re='not built in|neither absolute|unknown path|not supported|cannot open path [^ ]*/(nbds?(\+unix)?|iscsi):/'
  case $mode in
    active-active) flag=(-A) ;;
    active-read) flag=(-R) ;;
    active-passive) ;;
    *) bench_die "bench_mpathfs_up: mode $mode" ;;
  esac
  mkdir -p "$mnt"
  bench_spawn "$log.stderr" "$bin" -f -o "${mo:+$mo,}log=$log" none "$mnt"
  pid=$BENCH_LAST_PID
  # shellcheck disable=SC2034  # for the caller
  BENCH_MPATHFS_PID=$pid
  bench_wait_mount "$mnt" "$mnt/ctl" "$pid" "$log.stderr"
  if ! "$bin" create "${flag[@]}" -m "$mnt" v "$@" >"$log.create" 2>&1; then
    sleep 0.2  # the CLI's message points to the daemon's log for the cause
    if grep -Eqi "$re" "$log.create" "$log" 2>/dev/null; then
      BENCH_NA="n/a (this mpathfs has no $what paths)"
      bench_log "   $BENCH_NA: ...$(grep -Ehi -m1 "$re" "$log.create" "$log" 2>/dev/null | head -n 1 | rev | cut -c1-110 | rev)"
      return 2
    fi
    bench_log "--- mpathfs create ${flag[*]} -m $mnt v $*"
    cat "$log.create" >&2
    tail -n 5 "$log" >&2 2>/dev/null
    bench_die "mpathfs create failed"
  fi
  for ((i = 0; i < 100; i++)); do
    [[ -e $mnt/v ]] && return 0
    sleep 0.1
  done
  bench_die "timed out waiting for $mnt/v"
}
