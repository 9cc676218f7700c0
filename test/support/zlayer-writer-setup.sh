#!/usr/bin/env bash
# Builds test/support/zlayer-writer (an application and a restorer on the real
# zlayer-storage crate from crates.io, both versions the tests use linked into
# one binary; driven by test/support/zlayer-crate.ts) into the tool cache:
#
#   $CACHE_ROOT/bin/zlayer-writer-<source hash>
#
# The source hash covers Cargo.toml, Cargo.lock (which pins the crate versions)
# and src/, and zlayer-crate.ts computes the same one to find the binary: a
# fresh clone on a machine that built this source before builds nothing, a
# changed writer gets its own binary. Idempotent. Cargo's target directory
# lives in the cache too, so a rebuild after a source change is incremental;
# the crates.io downloads stay in cargo's own cache ($CARGO_HOME, ~/.cargo).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SRC="$ROOT/test/support/zlayer-writer"
CACHE_ROOT="${SQLITE_S3_RESTORE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sqlite-s3-restore}"
BIN="$CACHE_ROOT/bin"
export CARGO_TARGET_DIR="$CACHE_ROOT/cargo-target/zlayer-writer"
RUST_MIN="1.85" # the crate's rust-version

say() { printf 'zlayer-writer-setup: %s\n' "$*"; }
die() { printf 'zlayer-writer-setup: ERROR: %s\n' "$*" >&2; exit 1; }

# sha256 of the `sha256sum` listing of the source files in byte order, first 16 hex digits.
source_hash() {
  (cd "$SRC" && find Cargo.toml Cargo.lock src -type f -print | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -c1-16
}

hash="$(source_hash)"
out="$BIN/zlayer-writer-$hash"
if [ -x "$out" ]; then
  say "zlayer-storage writer ($hash): cached"
  exit 0
fi

command -v cargo >/dev/null 2>&1 || die "cargo (Rust >= $RUST_MIN) is required to build the zlayer-storage writer; install Rust with rustup"
rustc_version="$(rustc --version | awk '{print $2}')"
[ "$(printf '%s\n%s\n' "$RUST_MIN" "${rustc_version%%-*}" | sort -V | head -n1)" = "$RUST_MIN" ] \
  || die "rustc $rustc_version is older than $RUST_MIN, which zlayer-storage needs; run 'rustup update'"

mkdir -p "$BIN" "$CARGO_TARGET_DIR" "$ROOT/.tmp"
log="$(mktemp "$ROOT/.tmp/zlayer-writer-build.XXXXXX")"
say "zlayer-storage writer ($hash): building (a cold build takes several minutes)"
start=$SECONDS
if ! cargo build --locked --manifest-path "$SRC/Cargo.toml" >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  die "building the zlayer-storage writer failed (log: $log)"
fi
cp "$CARGO_TARGET_DIR/debug/zlayer-writer" "$out.tmp.$$"
mv -f "$out.tmp.$$" "$out"
rm -f "$log"
say "zlayer-storage writer ($hash): built in $((SECONDS - start))s"
