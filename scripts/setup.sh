#!/usr/bin/env bash
# Installs what mpathfs needs to build, test and benchmark, from Debian's
# packages only.  Idempotent: it installs only what is missing.
set -euo pipefail
# Every tool a test or example runs is listed here (tests name the package
# through require_tool() when one is missing):
#   util-linux: setpriv unshare partx    mount: mount umount losetup
#   e2fsprogs: mkfs.ext4 fsck.ext4 fdisk: sfdisk    fuse3: fusermount3
#   qemu-utils: qemu-img qemu-io   libnbd-bin: nbdfuse nbdinfo    coreutils: dd mknod timeout
#   iproute2: ip (test namespaces)   tgt: tgtd tgtadm   libiscsi-bin: iscsi-inq iscsi-ls
#   qemu-system-common + qemu-block-extra: qemu-storage-daemon (benchmark)   prometheus: promtool
#   tmux: the watch test   gnutls-bin: psktool (TLS-PSK test)   dpkg-dev: dpkg-shlibdeps (CPack)
PKGS=(build-essential cmake pkg-config clang
      libfuse3-dev fuse3 nlohmann-json3-dev libspdlog-dev catch2 libcli11-dev
      libnbd-dev libiscsi-dev libudev-dev
      fio util-linux mount e2fsprogs fdisk nbdkit libnbd-bin qemu-utils kmod jq strace coreutils mawk
      iproute2 tgt libiscsi-bin qemu-system-common qemu-block-extra prometheus tmux gnutls-bin dpkg-dev file)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# FUSE needs its device node; loop devices need the module on some kernels.
[ -e /dev/fuse ] || modprobe fuse 2>/dev/null || true
[ -e /dev/loop-control ] || modprobe loop 2>/dev/null || true
