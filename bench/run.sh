#!/usr/bin/env bash
# The benchmark of SPEC.md "Performance" (issue 6): the same fio jobs on the
# raw file, libfuse's passthrough_ll, nbdkit+nbdfuse, mpathfs in each mode
# and a loop device on an mpathfs volume, all in one run, with ratios.
# Network targets (issues 14 and 15): one nbdkit on a Unix socket, one nbdkit
# and one tgtd in a network namespace behind two veth links, each used by
# nbdfuse, qemu-storage-daemon's FUSE export and mpathfs's NBD / iSCSI paths.
# See bench/README.md.  Needs root (private tmpfs, loop device, namespaces),
# fio, jq, nbdkit, nbdfuse, fusermount3, cc, pkg-config and libfuse3-dev; for
# the network targets also nbdinfo, qemu-storage-daemon (+ qemu-block-extra
# for iSCSI), tgtd/tgtadm and ip.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

LOCAL_TARGETS=(raw passthrough_ll nbdfuse mpathfs-ap mpathfs-aa mpathfs-ar loop loop-ptll)
NBD_UNIX_TARGETS=(nbdfuse-unix qsd-nbd-unix mpathfs-nbd-unix-1 mpathfs-nbd-unix-ap mpathfs-nbd-unix-aa)
NBD_TCP_TARGETS=(nbdfuse-tcp qsd-nbd-tcp mpathfs-nbd-tcp-1 mpathfs-nbd-tcp-aa)
ISCSI_TARGETS=(qsd-iscsi mpathfs-iscsi-1 mpathfs-iscsi-aa)
ALL_TARGETS=("${LOCAL_TARGETS[@]}" "${NBD_UNIX_TARGETS[@]}" "${NBD_TCP_TARGETS[@]}" "${ISCSI_TARGETS[@]}")
# Groups for --only (each network group brings raw along, for x_raw).
declare -A TARGET_GROUPS=(
  [local]="${LOCAL_TARGETS[*]}"
  [net-nbd-unix]="raw ${NBD_UNIX_TARGETS[*]}"
  [net-nbd-tcp]="raw ${NBD_TCP_TARGETS[*]}"
  [net-nbd]="raw ${NBD_UNIX_TARGETS[*]} ${NBD_TCP_TARGETS[*]}"
  [net-iscsi]="raw ${ISCSI_TARGETS[*]}"
  [net]="raw ${NBD_UNIX_TARGETS[*]} ${NBD_TCP_TARGETS[*]} ${ISCSI_TARGETS[*]}"
  [mpathfs]="mpathfs-ap mpathfs-aa mpathfs-ar mpathfs-nbd-unix-1 mpathfs-nbd-unix-ap mpathfs-nbd-unix-aa mpathfs-nbd-tcp-1 mpathfs-nbd-tcp-aa mpathfs-iscsi-1 mpathfs-iscsi-aa"
  [all]="${ALL_TARGETS[*]}"
)
ALL_JOBS=(seqread seqwrite randread randwrite)

usage() {
  cat <<EOF
usage: bench/run.sh [options]
  --runtime S        seconds per fio job (default 10)
  --ramp S           fio ramp_time, not measured (default 1)
  --size SIZE        backing file size on tmpfs (default 1G)
  --json FILE        also write the results as JSON
  --only LIST        comma-separated targets and groups (default: all); targets:
                       local:        ${LOCAL_TARGETS[*]}
                       net-nbd-unix: ${NBD_UNIX_TARGETS[*]}
                       net-nbd-tcp:  ${NBD_TCP_TARGETS[*]}
                       net-iscsi:    ${ISCSI_TARGETS[*]}
                     groups: local, net-nbd-unix, net-nbd-tcp, net-nbd (both), net-iscsi,
                     net (all network ones), mpathfs (every mpathfs row), all;
                     the net-* groups include raw
  --jobs LIST        comma-separated subset of: ${ALL_JOBS[*]}
  --mpathfs PATH     the daemon (default ./build/src/mpathfs)
  --mpathfs-opts O   extra -o options for mpathfs (e.g. workers=4,direct=off)
  --pt-opts O        -o options for passthrough_ll (default: none = its defaults)
  --keep-going       a failing target is reported, the others still run
  --repeat N         run all targets N times (rounds, interleaved); the table
                     gives medians and the spread across rounds (default 1)
  --wait-idle L[:S]  before each target, wait (at most S s, default 120) until the
                     1-minute load average is at most L (a shared machine)
  --subnets A,B      third octets of the two test links 169.254.A.0/30 and
                     169.254.B.0/30 (default 252,253)
Targets: raw = fio on the backing file; passthrough_ll = libfuse's example
over the tmpfs dir; nbdfuse = nbdkit file plugin (unix socket) via nbdfuse;
mpathfs-ap/aa/ar = a 2-path volume (two names of the image) per mode;
loop = losetup --direct-io=on on an active-active volume file; loop-ptll = the
same on the passthrough_ll file (what a loop device costs over any FUSE file).
Network: one nbdkit on a Unix socket (*-nbd-unix, nbdfuse-unix), one nbdkit
(*-nbd-tcp, nbdfuse-tcp) and one tgtd (*-iscsi) in a namespace behind two veth
links; qsd-* = qemu-storage-daemon's FUSE export of that server; mpathfs-*-1 = a
1-path volume, -ap/-aa = 2 paths (2 connections; over TCP/iSCSI one per link).
An mpathfs without NBD/iSCSI paths shows those rows as n/a.
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
SUBNETS=252,253
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
    --subnets) SUBNETS=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

TARGETS=("${ALL_TARGETS[@]}")
if [[ -n $ONLY ]]; then
  TARGETS=()
  IFS=, read -r -a only <<<"$ONLY"
  for t in "${only[@]}"; do
    if [[ -n ${TARGET_GROUPS[$t]:-} ]]; then
      read -r -a g <<<"${TARGET_GROUPS[$t]}"
    elif [[ " ${ALL_TARGETS[*]} " == *" $t "* ]]; then
      g=("$t")
    else
      bench_die "unknown target or group '$t' (targets: ${ALL_TARGETS[*]}; groups: ${!TARGET_GROUPS[*]})"
    fi
    for x in "${g[@]}"; do [[ " ${TARGETS[*]} " == *" $x "* ]] || TARGETS+=("$x"); done
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
# wants_any GLOB: some chosen target matches
wants_any() {
  local t
  for t in "${TARGETS[@]}"; do
    # shellcheck disable=SC2053  # a glob on purpose
    [[ $t == $1 ]] && return 0
  done
  return 1
}
{ wants_any '*-nbd-unix*' || wants nbdfuse-unix; } && bench_need nbdkit nbdinfo
{ wants_any '*-nbd-tcp*' || wants nbdfuse-tcp; } && bench_need nbdkit nbdinfo
wants_any 'nbdfuse-*' && bench_need nbdfuse
wants_any 'qsd-*' && bench_need qemu-storage-daemon
wants_any '*-iscsi*' && bench_need tgtd tgtadm
if wants_any '*-nbd-tcp*' || wants nbdfuse-tcp || wants_any '*-iscsi*'; then
  bench_need ip
  [[ $EUID -eq 0 ]] || bench_die "the network targets need root (namespaces, veth links); or drop them: --only local"
  IFS=, read -r NET_A NET_B <<<"$SUBNETS"
  [[ -n ${NET_B:-} && $NET_A != "$NET_B" ]] || bench_die "--subnets wants two different octets, e.g. 252,253"
fi
if wants qsd-iscsi && ! compgen -G '/usr/lib/*/qemu/block-iscsi.so' >/dev/null; then
  bench_die "qemu-storage-daemon has no iSCSI driver (Debian: qemu-block-extra); or drop qsd-iscsi"
fi
if wants_any 'mpathfs-*' || wants loop; then
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

# --- network targets ------------------------------------------------------
#
# One server per transport, started in the main shell before the first target
# that needs it and kept for the whole run (all rounds): every row of a
# transport talks to the same server.  bench_cleanup stops them, then removes
# the namespace, its links and guard routes.

NBD_PORT=10809
ISCSI_PORT=3260
IQN=iqn.2026-12.org.mpathfs:bench
NET_NS=mpbench-$$
NBD_SOCK=""      # the Unix-socket nbdkit
declare -A NET_PID

# The server a target uses: unix, tcp, iscsi or nothing.
target_server() {
  case $1 in
    *-nbd-unix* | nbdfuse-unix) echo unix ;;
    *-nbd-tcp* | nbdfuse-tcp) echo tcp ;;
    *-iscsi*) echo iscsi ;;
    *) echo "" ;;
  esac
}
link_addr() { echo "169.254.$1.2"; }  # the namespace's side of link 169.254.$1.0/30

net_namespace_up() {
  [[ -n $BENCH_NETNS ]] && return 0
  bench_net_up "$NET_NS" "$NET_A" "$NET_B"
  bench_log "   namespace $NET_NS: links 169.254.$NET_A.0/30, 169.254.$NET_B.0/30 (${BENCH_NETLINKS[*]})"
}

# ensure_server unix|tcp|iscsi (main shell only: the registrations must last)
ensure_server() {
  local kind=$1
  [[ -z $kind || -n ${NET_PID[$kind]:-} ]] && return 0
  case $kind in
    unix)
      NBD_SOCK=$T/nbdkit-net.sock
      # nbdkit's defaults (16 threads, multi-conn); export names are ignored by
      # the file plugin, so every client may name its own.
      bench_spawn "$T/log/nbdkit-unix.log" nbdkit --foreground --exit-with-parent --unix "$NBD_SOCK" file file="$IMG"
      bench_wait_socket "$NBD_SOCK" "$BENCH_LAST_PID" "$T/log/nbdkit-unix.log"
      bench_wait_nbd "nbd+unix:///?socket=$NBD_SOCK" "$BENCH_LAST_PID" "$T/log/nbdkit-unix.log"
      bench_log "   nbdkit on $NBD_SOCK (pid $BENCH_LAST_PID)"
      ;;
    tcp)
      net_namespace_up
      bench_spawn "$T/log/nbdkit-tcp.log" ip netns exec "$NET_NS" \
        nbdkit --foreground --exit-with-parent --port "$NBD_PORT" file file="$IMG"
      bench_wait_nbd "nbd://$(link_addr "$NET_A"):$NBD_PORT/" "$BENCH_LAST_PID" "$T/log/nbdkit-tcp.log"
      bench_wait_nbd "nbd://$(link_addr "$NET_B"):$NBD_PORT/" "$BENCH_LAST_PID" "$T/log/nbdkit-tcp.log"
      bench_log "   nbdkit in $NET_NS on port $NBD_PORT of both links (pid $BENCH_LAST_PID)"
      ;;
    iscsi)
      net_namespace_up
      bench_tgtd_up "$NET_NS" "$IMG" "$IQN" "$T/log/tgtd.log"
      bench_log "   tgtd in $NET_NS, portal *:$ISCSI_PORT, control port $BENCH_TGTD_PORT, $IQN LUN 1 (pid $BENCH_LAST_PID)"
      ;;
  esac
  NET_PID[$kind]=$BENCH_LAST_PID
}

setup_nbdfuse_uri() {
  local mnt=$T/$1
  shift
  mkdir -p "$mnt"
  bench_spawn "$T/log/$(basename "$mnt").log" nbdfuse "$mnt/img" "$@"
  SERVER_PIDS+=("$BENCH_LAST_PID")
  bench_wait_mount "$mnt" "$mnt/img" "$BENCH_LAST_PID" "$T/log/$(basename "$mnt").log"
  TARGET_FILE=$mnt/img
}
setup_nbdfuse-unix() { setup_nbdfuse_uri nbdfuse-unix --unix "$NBD_SOCK"; }
setup_nbdfuse-tcp() { setup_nbdfuse_uri nbdfuse-tcp "nbd://$(link_addr "$NET_A"):$NBD_PORT/"; }

# setup_qsd NAME BLOCKDEV: qemu-storage-daemon exporting BLOCKDEV (node n) as
# a FUSE file; the mount point is a regular file.
setup_qsd() {
  local f=$T/$1.img log=$T/log/$1.log
  : >"$f"
  bench_spawn "$log" qemu-storage-daemon --blockdev "$2,node-name=n" \
    --export "type=fuse,id=e,node-name=n,mountpoint=$f,writable=on"
  SERVER_PIDS+=("$BENCH_LAST_PID")
  bench_wait_mount "$f" "$f" "$BENCH_LAST_PID" "$log"
  TARGET_FILE=$f
}
setup_qsd-nbd-unix() { setup_qsd qsd-nbd-unix "driver=nbd,server.type=unix,server.path=$NBD_SOCK,export=qsd"; }
setup_qsd-nbd-tcp() {
  setup_qsd qsd-nbd-tcp "driver=nbd,server.type=inet,server.host=$(link_addr "$NET_A"),server.port=$NBD_PORT,export=qsd"
}
setup_qsd-iscsi() {
  setup_qsd qsd-iscsi "driver=iscsi,transport=tcp,portal=$(link_addr "$NET_A"):$ISCSI_PORT,target=$IQN,lun=1"
}

# setup_mpathfs_net NAME MODE PATH... : a volume of network paths.  A daemon
# that refuses the path's form (no such backend in this build) makes the row
# n/a, not a failure.
setup_mpathfs_net() {
  local name=$1 mode=$2 what rc=0
  shift 2
  case $name in *-iscsi-*) what=iSCSI ;; *) what=NBD ;; esac
  bench_mpathfs_up "$MPATHFS" "$MPATHFS_OPTS" "$T/m-$name" "$T/log/$name.log" "$what" "$mode" "$@" || rc=$?
  SERVER_PIDS+=("$BENCH_MPATHFS_PID")
  if ((rc == 2)); then
    TARGET_NA=$BENCH_NA
    return 0
  fi
  TARGET_FILE=$T/m-$name/v
  echo "$BENCH_MPATHFS_PID" >"$T/$name.pid"
}
nbd_unix_uri() { echo "nbd+unix:///$1?socket=$NBD_SOCK"; }  # export name $1: the file plugin ignores it
nbd_tcp_uri() { echo "nbd://$(link_addr "$1"):$NBD_PORT/$2"; }
iscsi_uri() { echo "iscsi://$(link_addr "$1"):$ISCSI_PORT/$IQN/1"; }
setup_mpathfs-nbd-unix-1() { setup_mpathfs_net mpathfs-nbd-unix-1 active-active "$(nbd_unix_uri a)"; }
setup_mpathfs-nbd-unix-ap() { setup_mpathfs_net mpathfs-nbd-unix-ap active-passive "$(nbd_unix_uri a)" "$(nbd_unix_uri b)"; }
setup_mpathfs-nbd-unix-aa() { setup_mpathfs_net mpathfs-nbd-unix-aa active-active "$(nbd_unix_uri a)" "$(nbd_unix_uri b)"; }
setup_mpathfs-nbd-tcp-1() { setup_mpathfs_net mpathfs-nbd-tcp-1 active-active "$(nbd_tcp_uri "$NET_A" a)"; }
setup_mpathfs-nbd-tcp-aa() {
  setup_mpathfs_net mpathfs-nbd-tcp-aa active-active "$(nbd_tcp_uri "$NET_A" a)" "$(nbd_tcp_uri "$NET_B" b)"
}
setup_mpathfs-iscsi-1() { setup_mpathfs_net mpathfs-iscsi-1 active-active "$(iscsi_uri "$NET_A")"; }
setup_mpathfs-iscsi-aa() { setup_mpathfs_net mpathfs-iscsi-aa active-active "$(iscsi_uri "$NET_A")" "$(iscsi_uri "$NET_B")"; }

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
  # The shared servers are the main shell's: not ours to stop.
  BENCH_PIDS=() BENCH_FUSE=() BENCH_LOOPS=()
  SERVER_PIDS=()
  TARGET_NA=""
  local kind
  kind=$(target_server "$t")
  [[ -n $kind ]] && SERVER_PIDS+=("${NET_PID[$kind]}")
  bench_log "== $t"
  "setup_$t"
  if [[ -n $TARGET_NA ]]; then
    echo "$TARGET_NA" >"$out/$t.na"
    return 0
  fi
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
    ensure_server "$(target_server "$t")"
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
declare -A NA
for ((r = 1; r <= REPEAT; r++)); do
  for t in loop loop-ptll; do [[ -s $T/out/r$r/$t.note ]] && NOTE[$t]=$(cat "$T/out/r$r/$t.note"); done
  for t in "${TARGETS[@]}"; do [[ -s $T/out/r$r/$t.na ]] && NA[$t]=$(cat "$T/out/r$r/$t.na"); done
done

# ratio A B -> "1.23" or "-"
ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN{ if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
# Issue 6 targets, as "needed ratio vs reference".
need_pt() {
  case $1 in seqread) echo 3.0 ;; seqwrite) echo 1.1 ;; randread) echo 1.2 ;; randwrite) echo 1.3 ;; esac
}
# The natural competitors of a row: nbdfuse and qemu-storage-daemon on the
# same server and transport ("" where there is none).  The local rows keep
# their issue-6 reference, the nbdfuse target (4k jobs only).
nbdfuse_of() {
  case $1 in
    *-nbd-unix* | nbdfuse-unix) echo nbdfuse-unix ;;
    *-nbd-tcp* | nbdfuse-tcp) echo nbdfuse-tcp ;;
    *-iscsi*) echo "" ;;
    *) echo nbdfuse ;;
  esac
}
qsd_of() {
  case $1 in
    *-nbd-unix* | nbdfuse-unix) echo qsd-nbd-unix ;;
    *-nbd-tcp* | nbdfuse-tcp) echo qsd-nbd-tcp ;;
    *-iscsi*) echo qsd-iscsi ;;
  esac
}
# lt X N: X is a ratio below N
lt() { [[ $1 != - ]] && awk -v r="$1" -v n="$2" 'BEGIN{exit !(r < n)}'; }
check() {
  local t=$1 j=$2 x_pt=$3 x_nbd=$4 x_vol=$5 x_qsd=$6 miss=() n
  case $t in
    mpathfs-nbd-*)  # issue 14: 4k >= 3x nbdfuse and qsd, 1M >= 1.5x both
      [[ $x_nbd == - && $x_qsd == - ]] && { echo ""; return; }
      n=1.5
      [[ $j == rand* ]] && n=3
      lt "$x_nbd" "$n" && miss+=("nbdfuse<$n")
      lt "$x_qsd" "$n" && miss+=("qsd<$n")
      ;;
    mpathfs-iscsi-*)  # issue 15: >= 2x qsd on every job
      [[ $x_qsd == - ]] && { echo ""; return; }
      lt "$x_qsd" 2 && miss+=("qsd<2")
      ;;
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
FMT='%-20s %-10s %9s %8s %6s %7s %7s %7s %7s %7s %8s %8s  %s\n'
echo
# shellcheck disable=SC2059
printf "$FMT" target job MiB/s IOPS "+-%" x_raw x_ptll x_nbd x_qsd x_vol srv_us/io fio_us/io check
printf '%s\n' "-------------------------------------------------------------------------------------------------------------------------------"
for t in "${TARGETS[@]}"; do
  if [[ -n ${NA[$t]:-} ]]; then
    printf '%-20s %-10s %s\n' "$t" all "${NA[$t]}"
    ROWS+=("$(jq -cn --arg t "$t" --arg na "${NA[$t]}" '{target: $t, na: $na}')")
    continue
  fi
  for j in "${JOBS[@]}"; do
    k=$t.$j
    [[ -n ${BW[$k]:-} ]] || { printf '%-20s %-10s %10s\n' "$t" "$j" failed; continue; }
    mib=$(awk -v b="${BW[$k]}" 'BEGIN{printf "%.1f", b/1048576}')
    iops=$(printf '%.0f' "${IOPS[$k]}")
    x_raw=$(ratio "${BW[$k]}" "${BW[raw.$j]:-}")
    x_pt=$(ratio "${BW[$k]}" "${BW[passthrough_ll.$j]:-}")
    x_nbd=- x_qsd=-
    c_nbd=$(nbdfuse_of "$t") c_qsd=$(qsd_of "$t")
    # The local rows: 4k only (issue 6); the network rows: every job (issues 14, 15).
    if [[ $c_nbd == nbdfuse ]]; then
      [[ $j == rand* ]] && x_nbd=$(ratio "${BW[$k]}" "${BW[nbdfuse.$j]:-}")
    elif [[ -n $c_nbd ]]; then
      x_nbd=$(ratio "${BW[$k]}" "${BW[$c_nbd.$j]:-}")
    fi
    [[ -n $c_qsd ]] && x_qsd=$(ratio "${BW[$k]}" "${BW[$c_qsd.$j]:-}")
    x_vol=-
    [[ $t == loop ]] && x_vol=$(ratio "${BW[$k]}" "${BW[mpathfs-aa.$j]:-}")
    [[ $t == loop-ptll ]] && x_vol=$(ratio "${BW[$k]}" "${BW[passthrough_ll.$j]:-}")
    c=$(check "$t" "$j" "$x_pt" "$x_nbd" "$x_vol" "$x_qsd")
    # shellcheck disable=SC2059
    printf "$FMT" "$t" "$j" "$mib" "$iops" "${SPREAD[$k]}" "$x_raw" "$x_pt" "$x_nbd" "$x_qsd" "$x_vol" "${SRV_US[$k]:--}" "${FIO_US[$k]}" "$c"
    ROWS+=("$(jq -cn --arg t "$t" --arg j "$j" --argjson bw "${BW[$k]}" --argjson iops "${IOPS[$k]}" \
      --arg xr "$x_raw" --arg xp "$x_pt" --arg xn "$x_nbd" --arg xq "$x_qsd" --arg xv "$x_vol" --arg c "$c" \
      --arg cn "$c_nbd" --arg cq "$c_qsd" \
      --arg sp "${SPREAD[$k]}" --arg su "${SRV_US[$k]:--}" --arg fu "${FIO_US[$k]}" --arg all "${ALL_BW[$k]%,}" '
      def num: if . == "-" then null else tonumber end;
      {target: $t, job: $j, mib_s: ($bw / 1048576 * 10 | round / 10), iops: ($iops | round), bw_bytes: $bw,
       x_raw: ($xr | num), x_passthrough_ll: ($xp | num), x_nbdfuse: ($xn | num), x_qsd: ($xq | num), x_volume: ($xv | num),
       nbdfuse_row: (if $cn == "" then null else $cn end), qsd_row: (if $cq == "" then null else $cq end),
       spread_pct: ($sp | num), server_cpu_us_per_io: ($su | num), fio_cpu_us_per_io: ($fu | num),
       bw_bytes_rounds: ($all | split(",") | map(tonumber)),
       check: (if $c == "" then null else $c end)}')")
  done
done
echo
echo "x_raw/x_ptll/x_nbd: MiB/s as a ratio to raw / passthrough_ll / nbdfuse (4k jobs); x_vol: loop vs mpathfs-aa"
echo "     (loop-ptll vs passthrough_ll: a loop device's price over any FUSE file)."
echo "     Network rows: x_nbd = vs nbdfuse-unix / nbdfuse-tcp, x_qsd = vs qsd-nbd-unix / qsd-nbd-tcp / qsd-iscsi"
echo "     (same server, same transport), every job."
echo "+-%: (max-min)/median over $REPEAT round(s); srv_us/io, fio_us/io: CPU microseconds per I/O used by the serving"
echo "     daemon(s) (all threads; for loop targets: the daemon only, not the loop kworker) and by fio (incl. its kernel time)."
echo "check: issue 6 targets (mpathfs >= 3.0/1.1/1.2/1.3x passthrough_ll for seqread/seqwrite/randread/randwrite,"
echo "       4k >= 5x nbdfuse; loop >= 0.9x the volume file); issue 14 (mpathfs-nbd-*: 4k >= 3x, 1M >= 1.5x nbdfuse"
echo "       and qsd of the same transport); issue 15 (mpathfs-iscsi-*: >= 2x qsd-iscsi on every job)."
if wants_any '*-nbd-tcp*' || wants nbdfuse-tcp || wants_any '*-iscsi*'; then
  echo "network: namespace with veth links 169.254.$NET_A.0/30 and 169.254.$NET_B.0/30 (no shaping); nbdkit $(nbdkit --version | awk '{print $2}')," \
    "$(qemu-storage-daemon --version 2>/dev/null | head -n 1 | awk '{print "qemu-storage-daemon", $3}'), tgtd $(tgtd --version 2>/dev/null | head -n 1)"
fi
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
