#!/bin/sh
# Tests mount/mount.mpathfs without the daemon: MPATHFS_BIN points to a stub
# that records its argv, so what is checked is the helper's own job - which
# options are consumed, passed or refused, fake/verbose mode, the exit
# statuses, how it finds the daemon.  Real mounts are the e2e suite's job.
#
# As root, with unshare(1) and /dev/fuse, it also runs mount(8) itself in a
# private mount namespace, the helper bound over /sbin and a stub that makes
# a bare fuse.mpathfs kernel mount: fstab options through libmount, "mount -a"
# twice, and the "already mounted" refusal.  Elsewhere those are skipped.
#
#   sh tests/mount_helper_test.sh     (MOUNT_HELPER=path overrides the helper)
#
# Last line: "N passed, M failed"; exit status 1 when anything failed.

set -u

here=$(cd -P -- "$(dirname -- "$0")" && pwd -P)
helper=${MOUNT_HELPER:-$here/../mount/mount.mpathfs}
helper=$(cd -P -- "$(dirname -- "$helper")" && pwd -P)/$(basename -- "$helper")

tmp=$(mktemp -d) || exit 1
tmp=$(cd -P -- "$tmp" && pwd -P)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
mkdir "$tmp/mnt" "$tmp/scan" "$tmp/sbin" "$tmp/link"
: >"$tmp/scan/sda"            # a glob in scan= must not be expanded by the helper
printf '{}\n' >"$tmp/cfg.json"
ln -s cfg.json "$tmp/cfg-link.json"
mnt=$tmp/mnt

# The stub daemon: argv as [arg][arg]..., exit status from STUB_RC.
cat >"$tmp/stub" <<'EOF'
#!/bin/sh
printf '[%s]' "$@" >"${STUB_LOG:?}"
exit "${STUB_RC:-0}"
EOF
chmod +x "$tmp/stub"

passed=0 failed=0 skipped=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
not_ok() {
	failed=$((failed + 1))
	printf 'FAIL %s\n' "$1"
	shift
	for line in "$@"; do printf '       %s\n' "$line"; done
}
skip() { skipped=$((skipped + 1)); printf 'skip %s\n' "$1"; }

# run ARGS...: the helper with the stub; sets rc, argv (empty: stub not run),
# out and err.
run() {
	rm -f "$tmp/argv"
	MPATHFS_BIN=$tmp/stub STUB_LOG=$tmp/argv "$helper" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	argv=$(cat "$tmp/argv" 2>/dev/null)
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# expect NAME RC ARGV: status and the daemon's argv ("" = not started).
expect() {
	if [ "$rc" = "$2" ] && [ "$argv" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "status $rc (want $2)" "argv   $argv" "want   $3" "stderr $err"
	fi
}

# expect_err NAME RC WORDS: refused with status RC, stub not run, stderr has WORDS.
expect_err() {
	case $err in
	*"$3"*) expect "$1" "$2" "" ;;
	*) not_ok "$1" "stderr lacks '$3': $err" ;;
	esac
}

# ---- options consumed, passed, refused ----------------------------------------
run none "$mnt" -o defaults,rw,auto,noauto,_netdev,nofail,user,user=alice,users,nouser,nousers,owner,noowner,group,nogroup,relatime,comment=x-gvfs-show,x-systemd.requires=dev-sdb.device,x-systemd.automount,x-systemd.device-timeout=30,X-mount.mkdir
expect "mount(8) and systemd options are consumed" 0 "[none][$mnt]"

opts=allow_other,allow_root,default_permissions,dev,nodev,suid,nosuid,exec,noexec,atime,noatime,sync,async,dirsync
opts=$opts,max_read=131072,workers=4,check_interval=2.5,io_timeout=3,no_path_retry=-1,failback=immediate
opts="$opts,log=syslog,scan=$tmp/scan/*,file_mode=0640,vol_mode=0660,direct=off,exclusive=off"
run none "$mnt" -o "$opts"
expect "FUSE and mpathfs options are passed in order, globs unexpanded" 0 "[-o][$opts][none][$mnt]"

run none "$mnt" -o _netdev,workers=2,x-systemd.automount,allow_other,nofail
expect "a mixed list keeps only what the daemon understands" 0 "[-o][workers=2,allow_other][none][$mnt]"

run none "$mnt" -o workers=2,ro
expect "ro goes first" 0 "[-o][ro,workers=2][none][$mnt]"
run none "$mnt" -o ro,rw
expect "the last of ro/rw wins (rw)" 0 "[none][$mnt]"
run none "$mnt" -o rw,ro
expect "the last of ro/rw wins (ro)" 0 "[-o][ro][none][$mnt]"

run none "$mnt" -o debug,workers=2
expect "debug becomes the daemon's -d" 0 "[-d][-o][workers=2][none][$mnt]"

run none "$mnt" -o allow_other -o ,,workers=2,
expect "several -o are joined, empty items skipped" 0 "[-o][allow_other,workers=2][none][$mnt]"

run -oworkers=2 none "$mnt"
expect "-oOPTS attached, options before SOURCE" 0 "[-o][workers=2][none][$mnt]"

run none "$mnt" -o allow_other,frobnicate,workers=2
expect_err "an unknown option is refused with status 1" 1 "unknown mount option 'frobnicate'"

run none "$mnt" -o workers=
expect_err "an option lacking its value is refused" 1 "'workers='"

run none "$mnt" -o uid=1000
expect_err "uid= (a high-level libfuse option) is refused" 1 "'uid=1000'"

run none "$mnt" -o fsname=evil
expect_err "fsname= is the daemon's to set" 1 "'fsname=evil'"

run none "$mnt" -o loop
expect_err "loop is refused" 1 "'loop'"

run none "$mnt" -s -o frobnicate,workers=2
if [ "$rc" = 0 ] && [ "$argv" = "[-o][workers=2][none][$mnt]" ]; then
	case $err in
	*"ignoring unknown mount option 'frobnicate'"*) ok "-s (sloppy) drops an unknown option with a warning" ;;
	*) not_ok "-s (sloppy) drops an unknown option with a warning" "stderr $err" ;;
	esac
else
	not_ok "-s (sloppy) drops an unknown option with a warning" "status $rc argv $argv" "stderr $err"
fi

# ---- flags and arguments ---------------------------------------------------------
run none "$mnt" -f -o _netdev,workers=2
if [ "$rc" = 0 ] && [ -z "$argv" ] && [ "$out" = "$tmp/stub -o workers=2 none $mnt" ]; then
	ok "-f (fake) prints the command and starts nothing"
else
	not_ok "-f (fake) prints the command and starts nothing" "status $rc argv $argv" "stdout $out"
fi

run none "$mnt" -v -o "log=/var/log/mpath fs.log"
if [ "$rc" = 0 ] && [ "$out" = "$tmp/stub -o 'log=/var/log/mpath fs.log' none $mnt" ] &&
	[ "$argv" = "[-o][log=/var/log/mpath fs.log][none][$mnt]" ]; then
	ok "-v prints a pasteable command, then runs it"
else
	not_ok "-v prints a pasteable command, then runs it" "status $rc argv $argv" "stdout $out"
fi

run none "$mnt" -sfnv
if [ "$rc" = 0 ] && [ -z "$argv" ] && [ -n "$out" ]; then
	ok "grouped flags -sfnv"
else
	not_ok "grouped flags -sfnv" "status $rc argv $argv" "stderr $err"
fi

run none "$mnt" -n -o workers=2 -t mpathfs
expect "-n and -t mpathfs as mount(8) passes them" 0 "[-o][workers=2][none][$mnt]"
run none "$mnt" -t fuse.mpathfs
expect "-t fuse.mpathfs" 0 "[none][$mnt]"
run none "$mnt" -t ext4
expect_err "-t of another type is refused" 1 "not 'ext4'"
run none "$mnt" -x
expect_err "an unknown flag is refused" 1 "unknown flag -x"
run none
expect_err "MNT missing" 1 "need SOURCE and MNT"
run none "$mnt" extra
expect_err "a third argument" 1 "too many arguments"
run none "$mnt" -o
expect_err "-o without its argument" 1 "needs an argument"

run -h
case $rc:$out in
0:usage:*) ok "-h prints usage" ;;
*) not_ok "-h prints usage" "status $rc stdout $out" ;;
esac

# ---- SOURCE and MNT ----------------------------------------------------------------
run "$tmp/cfg-link.json" "$mnt"
expect "an existing SOURCE is made canonical (symlink resolved)" 0 "[$tmp/cfg.json][$mnt]"
cd "$tmp/scan" && run ../cfg.json ../mnt/ && cd "$here" || exit 1
expect "relative SOURCE and MNT become absolute, trailing / dropped" 0 "[$tmp/cfg.json][$mnt]"
run "$tmp/missing.json" "$mnt"
expect "a missing SOURCE is left for the daemon to report" 0 "[$tmp/missing.json][$mnt]"

# ---- the daemon ------------------------------------------------------------------------
STUB_RC=3 run none "$mnt"
case $rc:$err in
"32:"*"status 3"*) ok "a failing daemon gives status 32 and a message" ;;
*) not_ok "a failing daemon gives status 32 and a message" "status $rc stderr $err" ;;
esac

MPATHFS_BIN=$tmp/scan "$helper" none "$mnt" >/dev/null 2>"$tmp/err"
rc=$?
if [ "$rc" = 32 ] && grep -q 'MPATHFS_BIN' "$tmp/err"; then
	ok "MPATHFS_BIN that is not an executable gives status 32"
else
	not_ok "MPATHFS_BIN that is not an executable gives status 32" "status $rc" "stderr $(cat "$tmp/err")"
fi

# Installed layout: sbin/mount.mpathfs, sbin/mount.fuse.mpathfs -> mount.mpathfs,
# sbin/mpathfs; and a symlink from elsewhere, as /sbin -> /usr/sbin.
cp "$helper" "$tmp/sbin/mount.mpathfs"
ln -s mount.mpathfs "$tmp/sbin/mount.fuse.mpathfs"
cp "$tmp/stub" "$tmp/sbin/mpathfs"
ln -s ../sbin/mount.fuse.mpathfs "$tmp/link/mount.fuse.mpathfs"
for via in sbin/mount.mpathfs sbin/mount.fuse.mpathfs link/mount.fuse.mpathfs; do
	rm -f "$tmp/argv"
	(unset MPATHFS_BIN; STUB_LOG=$tmp/argv "$tmp/$via" none "$mnt" -o workers=2) 2>"$tmp/err"
	rc=$?
	argv=$(cat "$tmp/argv" 2>/dev/null)
	err=$(cat "$tmp/err")
	expect "run as $via, the daemon is found beside the helper" 0 "[-o][workers=2][none][$mnt]"
done

# ---- through mount(8), as root, in a private mount namespace -------------------------
ns_ready=''
if [ "$(id -u)" != 0 ]; then
	why="not root"
elif ! command -v unshare >/dev/null 2>&1 || ! unshare -m true 2>/dev/null; then
	why="no unshare -m"
elif [ ! -c /dev/fuse ]; then
	why="no /dev/fuse"
else
	ns_ready=1
fi

if [ -z "$ns_ready" ]; then
	for t in "an mpathfs already on MNT is refused with status 32" \
		"fstab through mount(8): options consumed and passed" \
		"mount -a twice starts the daemon once"; do
		skip "$t ($why)"
	done
else
	# The stub daemon: records its argv, then makes a bare fuse.mpathfs kernel
	# mount, fsname=SOURCE as the real daemon does.  Nothing serves it; the
	# kernel fails its requests once the stub's /dev/fuse descriptor closes.
	cat >"$tmp/sbin/mpathfs" <<'EOF'
#!/bin/sh
printf '[%s]' "$@" >>"${STUB_LOG:?}"; echo >>"$STUB_LOG"
for a in "$@"; do src=${mnt:-}; mnt=$a; done
exec 3<>/dev/fuse
exec mount -i -t fuse.mpathfs -o fd=3,rootmode=40000,user_id=0,group_id=0 "$src" "$mnt"
EOF
	chmod +x "$tmp/sbin/mpathfs"
	printf '%s %s mpathfs defaults,_netdev,nofail,x-systemd.requires=dev-sdb.device,allow_other,workers=3 0 0\n' \
		"$tmp/cfg.json" "$mnt" >"$tmp/fstab"
	rm -f "$tmp/argv"
	# mount(8) looks for helpers in /sbin only: bind ours over it, in here only.
	# shellcheck disable=SC2016 # expanded by the inner shell, from its environment
	TMP=$tmp STUB_LOG=$tmp/argv timeout 60 unshare -m sh -c '
		mount --make-rprivate / && mount --bind "$TMP/sbin" /sbin || exit 2
		unset MPATHFS_BIN
		mount -T "$TMP/fstab" "$TMP/mnt"; echo "first $?"
		mount -a -T "$TMP/fstab"; echo "again $?"
		mount -t mpathfs none "$TMP/mnt" 2>"$TMP/err"; echo "stacked $?"
		umount -l "$TMP/mnt"
	' >"$tmp/out" 2>&1
	rc=$?
	out=$(cat "$tmp/out")
	argv=$(cat "$tmp/argv" 2>/dev/null)
	err=$(cat "$tmp/err" 2>/dev/null)
	case $out:$err in
	*"stacked 32"*:*"already mounted"*) ok "an mpathfs already on MNT is refused with status 32" ;;
	*) not_ok "an mpathfs already on MNT is refused with status 32" "status $rc" "$out" "$err" ;;
	esac
	first=$(sed -n 1p "$tmp/argv" 2>/dev/null)
	want="[-o][allow_other,workers=3][$tmp/cfg.json][$mnt]"
	t="fstab through mount(8): options consumed and passed"
	case $out in
	*"first 0"*) if [ "$first" = "$want" ]; then ok "$t"; else not_ok "$t" "argv $first" "want $want"; fi ;;
	*) not_ok "$t" "status $rc" "$out" ;;
	esac
	t="mount -a twice starts the daemon once"
	case $out in
	*"again 0"*) if [ "$(grep -c . "$tmp/argv")" = 1 ]; then ok "$t"; else not_ok "$t" "daemon runs: $argv"; fi ;;
	*) not_ok "$t" "$out" ;;
	esac
fi

[ "$skipped" = 0 ] || echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
