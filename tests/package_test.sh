#!/bin/sh
# The Debian package (packaging/CMakeLists.txt): built with CPack from the
# build tree, its control fields and file list checked, then installed into
# a throwaway root with dpkg --root, where the installed mount.mpathfs must
# find the installed mpathfs and mount with it; dpkg --root -r must then
# leave nothing of it behind.  Nothing touches the real root.
#   sh package_test.sh BUILD_DIR
set -eu
build=$1
fail() { echo "package_test: FAIL: $*" >&2; exit 1; }
for t in cpack dpkg-deb dpkg dpkg-shlibdeps; do
	command -v "$t" >/dev/null || fail "$t is missing (scripts/setup.sh installs dpkg-dev and cmake)"
done
tmp=$(mktemp -d /tmp/mpathfs-pkg.XXXXXX)
mnt=
cleanup() {
	if [ -n "$mnt" ] && grep -q " $mnt fuse.mpathfs " /proc/self/mounts; then
		umount "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

cpack -G DEB -B "$tmp/out" --config "$build/CPackConfig.cmake" >"$tmp/cpack.log" 2>&1 ||
	{ cat "$tmp/cpack.log" >&2; fail "cpack -G DEB failed"; }
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
deb="$tmp/out/mpathfs_${version}_amd64.deb"
[ -f "$deb" ] || { ls "$tmp/out" >&2; fail "no $deb"; }
echo "built $(basename "$deb")"

# Control fields: the name, the architecture and Depends from dpkg-shlibdeps.
dpkg-deb -I "$deb" >"$tmp/info"
grep -q '^ Package: mpathfs$' "$tmp/info" || fail "Package field"
grep -q '^ Architecture: amd64$' "$tmp/info" || fail "Architecture field"
depends=$(sed -n 's/^ Depends: //p' "$tmp/info")
echo "Depends: $depends"
for d in fuse3 libfuse3-3 libstdc++6 libc6; do
	echo "$depends" | tr ',' '\n' | awk -v d="$d" '$1 == d { found = 1 } END { exit !found }' ||
		fail "Depends lacks $d: $depends"
done

# The file list.
dpkg-deb -c "$deb" | awk '{ print $6 ($7 ? " " $7 " " $8 : "") }' >"$tmp/files"
for f in ./sbin/mpathfs ./sbin/mount.mpathfs "./sbin/mount.fuse.mpathfs -> mount.mpathfs" \
	./usr/share/man/man8/mpathfs.8.gz ./usr/share/man/man8/mount.mpathfs.8.gz \
	./usr/share/man/man8/mount.fuse.mpathfs.8.gz ./etc/mpathfs/mpathfs.json.example \
	./usr/share/mpathfs/mpathfs.schema.json ./usr/share/bash-completion/completions/mpathfs \
	./usr/share/doc/mpathfs/examples/systemd/mnt-mpath.mount \
	./usr/share/doc/mpathfs/examples/systemd/mpathfs-metrics.timer \
	./usr/share/doc/mpathfs/copyright ./usr/share/doc/mpathfs/changelog.gz; do
	case $f in
	*" -> "*) grep -qxF "$f" "$tmp/files" || fail "missing link $f" ;;
	*) grep -q "^$f\( \|$\)" "$tmp/files" || fail "missing $f" ;;
	esac
done

# Installed into a throwaway root (its own dpkg database; dependencies are
# the host's business there).
root="$tmp/root"
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/etc" "$root/usr/bin" "$root/usr/sbin" \
	"$root/usr/lib" "$root/usr/share/man/man8"
ln -s usr/bin "$root/bin"
ln -s usr/sbin "$root/sbin"
ln -s usr/lib "$root/lib"
: >"$root/var/lib/dpkg/status"
: >"$root/var/lib/dpkg/available"
dpkg --root="$root" --force-depends --force-script-chrootless -i "$deb" >"$tmp/dpkg.log" 2>&1 ||
	{ cat "$tmp/dpkg.log" >&2; fail "dpkg --root -i failed"; }
[ -x "$root/sbin/mpathfs" ] || fail "no $root/sbin/mpathfs"
"$root/sbin/mpathfs" --version | grep -q "mpathfs $version" || fail "the installed mpathfs does not run"

# The installed helper finds the installed daemon (beside itself), through
# either name; -f prints the command instead of running it.
for helper in mount.mpathfs mount.fuse.mpathfs; do
	cmd=$("$root/sbin/$helper" none "$tmp" -f -o ro)
	echo "$helper: $cmd"
	case $cmd in
	"$root/sbin/mpathfs "* | "$(readlink -f "$root/sbin")/mpathfs "*) ;;
	*) fail "$helper runs '$cmd', not the installed mpathfs" ;;
	esac
done
# And mounts with it (fuse needed; the e2e tests need it as well).
if [ -e /dev/fuse ]; then
	mnt="$tmp/mnt"
	mkdir "$mnt"
	"$root/sbin/mount.mpathfs" none "$mnt" || fail "the installed mount.mpathfs cannot mount"
	grep -q "^Name" "$mnt/status" || fail "no status on the mount"
	grep -q "^# TYPE mpathfs_" "$mnt/metrics" || [ ! -s "$mnt/metrics" ] || fail "metrics"
	umount "$mnt" || fail "umount of the installed daemon's mount"
	mnt=
fi

# Removed cleanly: dpkg -r keeps only the conffile, --purge removes it too.
leftover() { (cd "$root" && find . ! -type d ! -path './var/lib/dpkg/*' ! -name bin ! -name sbin ! -name lib); }
dpkg --root="$root" --force-script-chrootless -r mpathfs >"$tmp/dpkg.log" 2>&1 ||
	{ cat "$tmp/dpkg.log" >&2; fail "dpkg --root -r failed"; }
left=$(leftover)
[ "$left" = ./etc/mpathfs/mpathfs.json.example ] || fail "after dpkg -r: '$left' (expected the conffile only)"
dpkg --root="$root" --force-script-chrootless --purge mpathfs >"$tmp/dpkg.log" 2>&1 ||
	{ cat "$tmp/dpkg.log" >&2; fail "dpkg --root --purge failed"; }
left=$(leftover)
[ -z "$left" ] || fail "left after dpkg --purge: $left"
echo "package_test: ok"
