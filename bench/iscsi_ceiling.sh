#!/usr/bin/env bash
# The ceiling of the iSCSI rows on this machine: libiscsi's own `iscsi-perf`
# (Debian libiscsi-bin) reading 4 KiB at random at a given depth straight from
# the same kind of tgtd the benchmark uses (a test namespace behind a veth link,
# a tmpfs image) — no FUSE, no mpathfs.  What a FUSE daemon in front of it can
# reach on the same CPUs is at most this.
#
#   sudo bench/iscsi_ceiling.sh [--size 1G] [--seconds 10] [--depth 64] [--subnet 250]
#
# Prints iscsi-perf's last per-second lines and its average IOPS.  Everything it
# starts (tgtd, the namespace, the link, the guard route, the tmpfs) goes when it
# ends, fails or is interrupted (lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

SIZE=1G SECONDS_RUN=10 DEPTH=64 SUBNET=250
while (($#)); do
  case $1 in
    --size) SIZE=$2; shift 2 ;;
    --seconds) SECONDS_RUN=$2; shift 2 ;;
    --depth) DEPTH=$2; shift 2 ;;
    --subnet) SUBNET=$2; shift 2 ;;
    *) bench_die "unknown option $1" ;;
  esac
done
[[ $EUID -eq 0 ]] || bench_die "run as root (network namespace, tgtd)"
bench_need tgtd tgtadm iscsi-perf ip
SIZE_BYTES=$(bench_bytes "$SIZE")

bench_install_traps
bench_make_tmp "$SIZE_BYTES"
IMG=$BENCH_DATA/img
fallocate -l "$SIZE_BYTES" "$IMG"
NS=mpceil-$$
IQN=iqn.2026-12.org.mpathfs:ceiling
bench_net_up "$NS" "$SUBNET"
bench_tgtd_up "$NS" "$IMG" "$IQN" "$BENCH_TMP/tgtd.log"
URL="iscsi://169.254.$SUBNET.2/$IQN/1"
bench_log "tgtd in $NS; iscsi-perf -r -b 8 (4 KiB of 512-byte blocks) -m $DEPTH on $URL for $SECONDS_RUN s"
out=$BENCH_TMP/perf.txt
# iscsi-perf runs until it is stopped; its per-second lines go to stdout.
timeout --signal=INT "$SECONDS_RUN" iscsi-perf -i iqn.2026-12.org.mpathfs:ceiling-client -r -b 8 -m "$DEPTH" "$URL" \
  >"$out" 2>&1 || true
# It redraws one status line with carriage returns: the last one holds the average.
tr '\r' '\n' <"$out" | grep -E 'iops current' | tail -n 3
avg=$(tr '\r' '\n' <"$out" | grep -oE 'iops average [0-9]+' | tail -n 1 | awk '{print $3}')
[[ -n $avg ]] || bench_die "no figures from iscsi-perf: $(head -c 500 "$out")"
echo "iscsi-perf, random 4 KiB reads at depth $DEPTH, no FUSE: $avg IOPS (average over the run)"
