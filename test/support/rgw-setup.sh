#!/usr/bin/env bash
# Installs what test/support/rgw.ts needs to run a throw-away Ceph RADOS Gateway
# (a second, independent S3 implementation) on 127.0.0.1: the monitor, OSD and
# radosgw daemons and the admin tools, from Debian. Idempotent: when every
# binary is already present it prints one line and does nothing else.
#
# No daemon is started here and nothing is enabled in systemd: rgw.ts starts
# its own one-monitor, one-OSD (memstore) cluster per test file, as root, with
# its data under .tmp/, and stops each daemon by PID.
set -euo pipefail

say() { printf 'rgw-setup: %s\n' "$*"; }
die() { printf 'rgw-setup: ERROR: %s\n' "$*" >&2; exit 1; }

# binary -> Debian package
declare -A need=(
  [ceph-mon]=ceph-mon
  [ceph-osd]=ceph-osd
  [radosgw]=radosgw
  [radosgw-admin]=radosgw
  [ceph]=ceph-common
  [ceph-authtool]=ceph-common
  [monmaptool]=ceph-common
)

missing=()
for bin in "${!need[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || missing+=("${need[$bin]}")
done

if [ "${#missing[@]}" -eq 0 ]; then
  say "ceph $(ceph-mon --version 2>/dev/null | awk '{print $3}'): installed"
  exit 0
fi

[ "$(id -u)" = 0 ] || die "Ceph RGW for the tests must be installed and run as root (missing: ${missing[*]})"
command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and apt-get is not available; install them by hand"

start=$SECONDS
say "apt-get update"
DEBIAN_FRONTEND=noninteractive apt-get update -qq
# Always the full set: the daemons must come from one Ceph release.
say "apt-get install ceph-mon ceph-osd radosgw ceph-common (about 270 MB)"
# policy-rc.d keeps Debian's maintainer scripts from starting any service.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  ceph-mon ceph-osd radosgw ceph-common >/dev/null

for bin in "${!need[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || die "$bin is still missing after installing ${need[$bin]}"
done
say "ceph $(ceph-mon --version 2>/dev/null | awk '{print $3}'): installed in $((SECONDS - start))s"
