#!/usr/bin/env bash
# Installs what mpathfs needs to build, test and benchmark, from Debian's
# packages only.  Idempotent: it installs only what is missing.
set -euo pipefail
PKGS=(build-essential cmake pkg-config
      libfuse3-dev fuse3 nlohmann-json3-dev libspdlog-dev catch2 libcli11-dev
      fio util-linux e2fsprogs nbdkit libnbd-bin qemu-utils kmod jq)
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
