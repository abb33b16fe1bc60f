#!/usr/bin/env bash
# mpathfs demo: one VM image reached by two routes (two mounts of the same
# directory, as two network mounts of one image would be), joined into one
# volume.  Writes data, fails the active path while I/O runs, shows that
# nothing stops, restores the path and verifies every byte.
#
#   examples/demo.sh [PATH/TO/mpathfs]
set -euo pipefail

MPATHFS=${1:-$(cd "$(dirname "$0")/.." && pwd)/build/src/mpathfs}
[ -x "$MPATHFS" ] || { echo "demo: $MPATHFS not found (build first)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "demo: run as root (FUSE mount, bind mount)" >&2; exit 1; }

work=$(mktemp -d /tmp/mpathfs-demo.XXXXXX)
mnt=$work/mnt
io_pid=
bold= plain=
if [ -t 1 ]; then bold=$(tput bold 2>/dev/null || true); plain=$(tput sgr0 2>/dev/null || true); fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
run() { printf '$ %s\n' "$*"; "$@"; }
ctl() { printf '$ echo %s > %s\n' "$1" "$2"; echo "$1" > "$2"; }

cleanup() {
  [ -n "$io_pid" ] && kill "$io_pid" 2>/dev/null && wait "$io_pid" 2>/dev/null || true
  if mountpoint -q "$mnt" 2>/dev/null; then fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" || true; fi
  mountpoint -q "$work/hba1" 2>/dev/null && umount "$work/hba1" || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/hba0" "$work/hba1" "$mnt"
A=$work/hba0/vm.img
B=$work/hba1/vm.img

say "An image of 64 MiB, reached by two routes"
truncate -s 64M "$A"
run mount --bind "$work/hba0" "$work/hba1"
cat > "$work/mpathfs.json" <<EOF
{ "options": {"check_interval": 1, "no_path_retry": 5},
  "volumes": [ {"name": "vm0", "mode": "active-passive", "paths": ["$A", "$B"]} ] }
EOF
cat "$work/mpathfs.json"

say "Mount: mpathfs returns once the tree is ready"
run "$MPATHFS" -o "log=$work/mpathfs.log" "$work/mpathfs.json" "$mnt"
run ls -l "$mnt" "$mnt/ctl/vm0"
run cat "$mnt/status"

say "Write 32 MiB of data through the volume (O_DIRECT)"
head -c 32M /dev/urandom > "$work/data"
run dd if="$work/data" of="$mnt/vm0" bs=1M oflag=direct conv=notrunc,fsync status=none
want=$(sha256sum < "$work/data" | cut -d' ' -f1)
echo "sha256 of the data: $want"

say "Start I/O in the background: rewrite the second half, re-read the first, forever"
(
  errors=0 rounds=0
  while :; do
    dd if="$work/data" of="$mnt/vm0" bs=1M seek=32 oflag=direct conv=notrunc status=none || errors=$((errors + 1))
    got=$(dd if="$mnt/vm0" bs=1M count=32 iflag=direct status=none | sha256sum | cut -d' ' -f1) || errors=$((errors + 1))
    [ "$got" = "$want" ] || errors=$((errors + 1))
    rounds=$((rounds + 1))
    echo "$rounds $errors" > "$work/io.progress"
  done
) &
io_pid=$!
sleep 1
echo "background I/O: $(cat "$work/io.progress" 2>/dev/null | awk '{print $1" rounds, "$2" errors"}')"

say "Watch the paths live (mpathfs watch, one block a second; shown below once the failover is over)"
"$MPATHFS" watch -m "$mnt" -i 1 -n 7 vm0 > "$work/watch.log" 2>&1 &
watch_pid=$!
sleep 1

say "Fail the active path $A while the I/O runs"
ctl "$A" "$mnt/ctl/vm0/fail"
run cat "$mnt/status"
sleep 2
say "I/O keeps going on $B"
echo "background I/O: $(awk '{print $1" rounds, "$2" errors"}' "$work/io.progress")"
run cat "$mnt/ctl/vm0/status"

say "Restore $A (it stands by: restore never moves the active path)"
ctl "$A" "$mnt/ctl/vm0/restore"
run cat "$mnt/status"
sleep 1
say "Rotate: the next path becomes active"
ctl x "$mnt/ctl/vm0/rotate"
run cat "$mnt/status"
sleep 1

wait "$watch_pid" || true
say "What mpathfs watch showed: the traffic leaves $A when it fails and comes back after restore + rotate"
cat "$work/watch.log"

kill "$io_pid"; wait "$io_pid" 2>/dev/null || true; io_pid=
read -r rounds errors < "$work/io.progress"
echo "background I/O finished: $rounds rounds, $errors errors seen by the application"

say "Verify every byte, through the volume and through each path"
ok=1
check() {
  local what=$1 got
  got=$(dd if="$2" bs=1M count=32 skip="$3" iflag=direct status=none | sha256sum | cut -d' ' -f1)
  if [ "$got" = "$want" ]; then echo "  $what: OK"; else echo "  $what: MISMATCH"; ok=0; fi
}
check "volume, first half " "$mnt/vm0" 0
check "volume, second half" "$mnt/vm0" 32
check "path A, first half " "$A" 0
check "path B, second half" "$B" 32
run cat "$mnt/ctl/vm0/status.json"

say "Unmount: mpathfs flushes every path and exits"
run umount "$mnt"
for _ in $(seq 50); do pgrep -f "mpathfs.*$work/mpathfs.json" >/dev/null || break; sleep 0.1; done
echo "daemon log:"; sed 's/^/  /' "$work/mpathfs.log"

if [ "$ok" = 1 ] && [ "$errors" = 0 ]; then
  say "Demo OK: a path failed under running I/O, the application saw no error, no byte was lost"
else
  say "Demo FAILED"
  exit 1
fi
