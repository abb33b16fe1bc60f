#!/usr/bin/env bash
# Active-active over limited paths (issue 6): does a second path give a
# second path's worth of throughput when the paths are the bottleneck?
#
# One image on tmpfs; two nbdkit servers on it (file plugin + rate filter, or
# delay filter), each exposed as a file by nbdfuse: two throttled "paths" to
# one disk.  The 1 MiB sequential-read job of run.sh runs on each path
# directly (its limit), then on an mpathfs volume of 1 path and of 2 paths
# (active-active).  Target: 2 paths >= 1.8x 1 path.
#
# --paths nbd|nbd-tcp|iscsi (issues 14, 15): mpathfs's own network paths, no
# nbdfuse in between.  nbd: two nbdkit (file + rate filter) on Unix sockets,
# used as nbd+unix:// paths.  nbd-tcp / iscsi: one nbdkit / one tgtd in a
# network namespace behind two veth links, each link limited by a tc tbf
# token bucket at --rate on both ends (tgtd has no rate limit of its own).
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
                    so each path serves one request at a time (--paths nbdfuse, nbd)
  --paths KIND      nbdfuse (default): two nbdkit+nbdfuse files as POSIX paths;
                    nbd: two rate-limited nbdkit as nbd+unix:// paths;
                    nbd-tcp: nbdkit in a namespace, two tbf-limited veth links, nbd:// paths;
                    iscsi: tgtd in a namespace, two tbf-limited veth links, iscsi:// paths
  --subnets A,B     the links' third octets, 169.254.A.0/30 and 169.254.B.0/30 (default 252,253)
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
PATHS=nbdfuse
SUBNETS=252,253
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
    --paths) PATHS=$2; shift 2 ;;
    --subnets) SUBNETS=$2; shift 2 ;;
    --mpathfs) MPATHFS=$2; shift 2 ;;
    --mpathfs-opts) MPATHFS_OPTS=$2; shift 2 ;;
    --json) JSON_OUT=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

bench_need fio jq fusermount3 mountpoint numfmt
case $PATHS in
  nbdfuse) bench_need nbdkit nbdfuse ;;
  nbd) bench_need nbdkit nbdinfo ;;  # fio: its nbd engine for the paths alone
  nbd-tcp) bench_need nbdkit nbdinfo ip tc ;;
  iscsi) bench_need tgtd tgtadm ip tc ;;
  *) bench_die "--paths: nbdfuse, nbd, nbd-tcp or iscsi" ;;
esac
[[ -z $DELAY || $PATHS == nbdfuse || $PATHS == nbd ]] || bench_die "--delay is for --paths nbdfuse or nbd (the links are limited by rate)"
if [[ $PATHS == nbd-tcp || $PATHS == iscsi ]]; then
  [[ $EUID -eq 0 ]] || bench_die "--paths $PATHS needs root (namespaces, veth links, tc)"
  IFS=, read -r NET_A NET_B <<<"$SUBNETS"
  [[ -n ${NET_B:-} && $NET_A != "$NET_B" ]] || bench_die "--subnets wants two different octets, e.g. 252,253"
fi
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
  LIMIT="delay-read=${DELAY}ms each, nbdfuse -C 1 -s"
else
  FILTER=(--filter=rate file file="$IMG" rate="$RATE")
  NBDFUSE_OPTS=()
  LIMIT="rate=$RATE bits/s each"
fi

# The two throttled paths (they live for the whole run): PATH_A, PATH_B are
# what the volumes are made of; DIRECT_A, DIRECT_B files fio can use alone.
DIRECT_A="" DIRECT_B=""
IQN=iqn.2026-12.org.mpathfs:scaling
case $PATHS in
  nbdfuse | nbd)
    for p in a b; do
      bench_spawn "$T/log/nbdkit-$p.log" nbdkit --foreground --exit-with-parent --unix "$T/nbd-$p.sock" "${FILTER[@]}"
      bench_wait_socket "$T/nbd-$p.sock" "$BENCH_LAST_PID" "$T/log/nbdkit-$p.log"
      if [[ $PATHS == nbdfuse ]]; then
        mkdir -p "$T/path-$p"
        bench_spawn "$T/log/nbdfuse-$p.log" nbdfuse "${NBDFUSE_OPTS[@]}" "$T/path-$p/img" --unix "$T/nbd-$p.sock"
        bench_wait_mount "$T/path-$p" "$T/path-$p/img" "$BENCH_LAST_PID" "$T/log/nbdfuse-$p.log"
      fi
    done
    if [[ $PATHS == nbdfuse ]]; then
      PATH_A=$T/path-a/img PATH_B=$T/path-b/img
      DIRECT_A=$PATH_A DIRECT_B=$PATH_B
    else
      PATH_A="nbd+unix:///a?socket=$T/nbd-a.sock" PATH_B="nbd+unix:///b?socket=$T/nbd-b.sock"
      DIRECT_A=$PATH_A DIRECT_B=$PATH_B
      LIMIT="$LIMIT (nbdkit rate filter), nbd+unix:// paths"
    fi
    ;;
  nbd-tcp | iscsi)
    bench_net_up "mpscale-$$" "$NET_A" "$NET_B"
    BITS=$(bench_bytes "$RATE")
    bench_link_limit "$BITS"
    LIMIT="tc tbf rate ${BITS}bit on both ends of each veth link"
    if [[ $PATHS == nbd-tcp ]]; then
      bench_spawn "$T/log/nbdkit.log" ip netns exec "mpscale-$$" nbdkit --foreground --exit-with-parent --port 10809 file file="$IMG"
      PATH_A="nbd://169.254.$NET_A.2:10809/a" PATH_B="nbd://169.254.$NET_B.2:10809/b"
      bench_wait_nbd "$PATH_A" "$BENCH_LAST_PID" "$T/log/nbdkit.log"
      bench_wait_nbd "$PATH_B" "$BENCH_LAST_PID" "$T/log/nbdkit.log"
      DIRECT_A=$PATH_A DIRECT_B=$PATH_B
      LIMIT="$LIMIT, one nbdkit, nbd:// paths"
    else
      bench_tgtd_up "mpscale-$$" "$IMG" "$IQN" "$T/log/tgtd.log"
      PATH_A="iscsi://169.254.$NET_A.2:3260/$IQN/1" PATH_B="iscsi://169.254.$NET_B.2:3260/$IQN/1"
      LIMIT="$LIMIT, one tgtd, iscsi:// paths"
    fi
    ;;
esac

# measure NAME FILE [fio args] -> bytes/s on stdout.  FILE nbd:// or
# nbd+unix://: fio's own NBD engine (libnbd) on the export, no FUSE at all.
measure() {
  local res bw err name=$1 file=$2
  shift 2
  local -a extra=("$@")
  if [[ $file == nbd* ]]; then
    extra+=(--ioengine=nbd "--uri=$file" --direct=0)
    file=nbd
  fi
  res=$(bench_fio "$T/out/$name.json" "$file" seqread "$RUNTIME" "$RAMP" "$SIZE_BYTES" "${extra[@]}") || bench_die "fio failed on $name"
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
    what=NBD
    [[ $PATHS == iscsi ]] && what=iSCSI
    rc=0
    bench_mpathfs_up "$MPATHFS" "$MPATHFS_OPTS" "$T/m-$name" "$T/log/$name.log" "$what" active-active "$@" || rc=$?
    ((rc == 2)) && { echo "n/a"; exit 0; }
    measure "$name" "$T/m-$name/v"
  )
}

mib() { [[ $1 == n/a || $1 == - ]] && { echo "$1"; return; }; awk -v b="$1" 'BEGIN{printf "%.1f", b/1048576}'; }

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
bench_log "paths ($PATHS): $LIMIT; seqread 1M QD16 x2 jobs, ${RUNTIME}s (+${RAMP}s ramp)"
BW_A=- BW_B=-
DIRECT_HOW=direct
[[ $PATHS == nbd || $PATHS == nbd-tcp ]] && DIRECT_HOW="fio nbd engine"
if [[ -n $DIRECT_A ]]; then
  bench_log "== path a alone"; BW_A=$(measure path-a "$DIRECT_A"); bench_log "   $(mib "$BW_A") MiB/s"
  bench_log "== path b alone"; BW_B=$(measure path-b "$DIRECT_B"); bench_log "   $(mib "$BW_B") MiB/s"
fi
bench_log "== mpathfs 1 path";  BW_1=$(measure_mpathfs one "$PATH_A");               [[ $BW_1 == n/a ]] || bench_log "   $(mib "$BW_1") MiB/s"
if [[ $BW_1 == n/a ]]; then
  BW_2=n/a
else
  bench_log "== mpathfs 2 paths"; BW_2=$(measure_mpathfs two "$PATH_A" "$PATH_B");   bench_log "   $(mib "$BW_2") MiB/s"
fi

if [[ $BW_1 == n/a || $BW_2 == n/a ]]; then
  RATIO=null OK="n/a (this mpathfs has no $([[ $PATHS == iscsi ]] && echo iSCSI || echo NBD) paths)"
else
  RATIO=$(awk -v a="$BW_2" -v b="$BW_1" 'BEGIN{printf "%.2f", a/b}')
  OK=$(awk -v r="$RATIO" 'BEGIN{print (r >= 1.8) ? "ok" : "MISS"}')
fi
printf '\n%-26s %10s\n' "seqread 1M QD16 x2" "MiB/s"
[[ -n $DIRECT_A ]] && printf '%-26s %10s\n' "path a ($DIRECT_HOW)" "$(mib "$BW_A")" "path b ($DIRECT_HOW)" "$(mib "$BW_B")"
printf '%-26s %10s\n' "mpathfs aa, 1 path" "$(mib "$BW_1")" "mpathfs aa, 2 paths" "$(mib "$BW_2")"
printf '%-26s %10s  %s\n' "2 paths / 1 path" "$([[ $RATIO == null ]] && echo - || echo "${RATIO}x")" "$OK (target >= 1.8x)"
SERVER="nbdkit $(nbdkit --version | awk '{print $2}')"
[[ $PATHS == iscsi ]] && SERVER="tgtd $(tgtd --version 2>/dev/null | head -n 1)"
echo "paths ($PATHS): $LIMIT; $SERVER over one tmpfs image;" \
  "mpathfs -o ${MPATHFS_OPTS:-(defaults)}; loadavg before: $LOAD0, after: $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ -n $JSON_OUT ]]; then
  jq -n --arg limit "$LIMIT" --arg paths "$PATHS" --arg a "$BW_A" --arg b "$BW_B" --arg one "$BW_1" --arg two "$BW_2" \
    --argjson ratio "$RATIO" --arg ok "$OK" --arg rt "$RUNTIME" --arg mo "$MPATHFS_OPTS" \
    'def num: if . == "-" or . == "n/a" then null else tonumber end;
     {paths: $paths, limit: $limit, runtime_s: ($rt | tonumber), mpathfs_opts: $mo, job: "seqread 1M QD16 x2",
      bw_bytes: {path_a: ($a | num), path_b: ($b | num), mpathfs_1_path: ($one | num), mpathfs_2_paths: ($two | num)},
      ratio_2_over_1: $ratio, check: $ok}' >"$JSON_OUT"
  echo "JSON: $JSON_OUT"
fi
