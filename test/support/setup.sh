#!/usr/bin/env bash
# Prepares everything the end-to-end tests need, and nothing more. Idempotent:
# a second run only checks stamps and prints one line per tool.
#
#   - MinIO (S3 server) and Litestream v0.3.13 (the backup producer), built from
#     their Go modules at pinned versions into $CACHE_ROOT/bin (outside the clone). A tool
#     is rebuilt only when its binary is missing or its version stamp differs.
#   - gcc for cgo (Litestream embeds SQLite), from Debian, only when missing.
#   - a check that the native better-sqlite3 module loads.
#   - Ceph RGW (test/support/rgw-setup.sh, Debian packages).
#   - The slow part, test/support/slow-setup.sh, in parallel with the Go builds:
#     helm and the podman base images, Kubernetes for test/e2e/k8s*.test.ts
#     (5-12 min cold), then the writer on the zlayer-storage crate (Rust, cargo
#     needed).
#     Every apt-get step here runs before it starts (one dpkg lock).
#
#   setup.sh               waits for the slow part and fails if it failed
#   setup.sh --background  leaves it running and returns once the rest is ready:
#                          npm test runs the tests that need only MinIO and
#                          Litestream meanwhile; the others wait for it
#                          (test/support/slow-setup.ts). A cold CI run is
#                          shorter by about the time those tests take.
set -euo pipefail
background=0
case "${1:-}" in
  --background) background=1 ;;
  "") ;;
  *) printf 'usage: %s [--background]\n' "$0" >&2; exit 2 ;;
esac

MINIO_MODULE="github.com/minio/minio"
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
LITESTREAM_MODULE="github.com/benbjohnson/litestream"
LITESTREAM_PKG="github.com/benbjohnson/litestream/cmd/litestream"
LITESTREAM_VERSION="v0.3.13"
TOXIPROXY_MODULE="github.com/Shopify/toxiproxy/v2"
TOXIPROXY_VERSION="v2.12.0"

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# Heavy builds live outside the clone, keyed by version, so a fresh clone (every CI run) reuses
# them; SQLITE_S3_RESTORE_CACHE moves them. test/support/paths.ts resolves the same directory.
CACHE_ROOT="${SQLITE_S3_RESTORE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sqlite-s3-restore}"
BIN="$CACHE_ROOT/bin"
mkdir -p "$BIN" "$ROOT/.tmp"

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

apt_updated=0
apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    die "missing $* and apt-get is not available; install it by hand"
  fi
  if [ "$apt_updated" = 0 ]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- toolchain -------------------------------------------------------------
command -v go >/dev/null 2>&1 || die "Go (>= 1.24) is required to build MinIO and Litestream"

command -v gcc >/dev/null 2>&1 || apt_install gcc libc6-dev
# zstd frames for the zlayer-storage fixtures (test/support/zlayer.ts)
command -v zstd >/dev/null 2>&1 || apt_install zstd
bash "$ROOT/test/support/rgw-setup.sh"

# --- the slow part, in parallel with the Go builds below ----------------------
# Its state (pid, log, rc) in .tmp/slow-setup, where slow-setup.ts looks; a
# session of its own, so that stopping it stops its builds too.
SLOW="$ROOT/.tmp/slow-setup"
rm -rf "$SLOW"
mkdir -p "$SLOW"
# Low priority: the builds below are what the first tests wait for, the slow
# part is needed only by the last ones. slow-setup.sh lowers its scheduling
# group too (nice alone does not act across sessions where the kernel groups
# tasks by session).
setsid nice -n 10 bash "$ROOT/test/support/slow-setup.sh" "$SLOW" >"$SLOW/log" 2>&1 </dev/null &
slow_pid=$!
printf '%s\n' "$slow_pid" >"$SLOW/pid"
# Until this script succeeds (or hands it over with --background), its failure stops the slow part.
trap '[ -z "$slow_pid" ] || kill -- "-$slow_pid" 2>/dev/null || true' EXIT

# build_tool <name> <module> <package> <version> [<file go install writes>]
# The last argument is for packages whose directory is not named like the tool
# (default <name>). The stamp file <name>.version holds "<module>@<version>". A binary without a
# stamp is adopted when `go version -m` shows it was built from the pinned
# module version (e.g. a binary copied from another cache).
build_tool() {
  local name="$1" module="$2" pkg="$3" version="$4" built="${5:-$1}"
  local bin="$BIN/$name" stamp="$BIN/$name.version" want="$module@$version"
  if [ -x "$bin" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    say "$name $version: cached"
    return
  fi
  if [ -x "$bin" ] && [ ! -f "$stamp" ] \
    && go version -m "$bin" 2>/dev/null | awk -v want="$want" '$1=="mod" && $2"@"$3==want {found=1} END {exit !found}'; then
    printf '%s\n' "$want" >"$stamp"
    say "$name $version: adopted existing binary"
    return
  fi
  say "$name $version: building (takes several minutes)"
  local tmp start
  tmp="$(mktemp -d "$ROOT/.tmp/gobuild-$name.XXXXXX")"
  start=$SECONDS
  # No symbol table or DWARF (-s -w): linking MinIO took 13 s with them, 5 s without.
  if ! GOBIN="$tmp" GOFLAGS=-buildvcs=false CGO_ENABLED=1 go install -ldflags="-s -w" "$pkg@$version" >"$tmp/build.log" 2>&1; then
    tail -n 30 "$tmp/build.log" >&2
    rm -rf "$tmp"
    die "building $name failed"
  fi
  mv -f "$tmp/$built" "$bin"
  rm -rf "$tmp"
  printf '%s\n' "$want" >"$stamp"
  say "$name $version: built in $((SECONDS - start))s"
}

build_tool minio "$MINIO_MODULE" "$MINIO_MODULE" "$MINIO_VERSION"
build_tool litestream "$LITESTREAM_MODULE" "$LITESTREAM_PKG" "$LITESTREAM_VERSION"
build_tool toxiproxy-server "$TOXIPROXY_MODULE" "$TOXIPROXY_MODULE/cmd/server" "$TOXIPROXY_VERSION" server
# Litestream v0.5 (LTX layout) for test/e2e/restore-ltx.test.ts: one release
# before 0.5.16 (pages stored as LZ4 frames) and one after (LZ4 blocks). Both
# install a binary named litestream, kept here as litestream-<version>.
for LITESTREAM_V5_VERSION in v0.5.15 v0.5.18; do
  build_tool "litestream-${LITESTREAM_V5_VERSION#v}" "$LITESTREAM_MODULE" "$LITESTREAM_PKG" "$LITESTREAM_V5_VERSION" litestream
done

# --- node native module ----------------------------------------------------
if ! (cd "$ROOT" && node -e "const D=require('better-sqlite3'); new D(':memory:').prepare('select 1').get()") >/dev/null 2>&1; then
  die "node_modules/better-sqlite3 does not load; run 'npm ci' (or 'npm rebuild better-sqlite3')"
fi
say "better-sqlite3 loads"
say "ready ($BIN)"
if [ "$background" = 1 ]; then
  slow_pid=""
  say "the slow part (images, Kubernetes, zlayer writer) goes on in the background: .tmp/slow-setup/log"
  exit 0
fi
slow_rc=0
wait "$slow_pid" || slow_rc=$?
slow_pid=""
cat "$SLOW/log"
[ "$slow_rc" = 0 ] || die "the slow part of the setup failed (log above)"
