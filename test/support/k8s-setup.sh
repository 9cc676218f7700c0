#!/usr/bin/env bash
# Prepares the single-node Kubernetes cluster that test/e2e/k8s.test.ts starts
# and stops itself (test/support/cluster.ts, test/support/cluster/cluster.sh):
#
#   k8s-setup.sh build   Kubernetes $KUBE_VERSION (kube-apiserver,
#                        kube-controller-manager, kube-scheduler, kubelet,
#                        kubectl) built from the Go module proxy through a
#                        wrapper module, and the pause binary, into
#                        $CACHE_ROOT/bin. Go only: no apt, no podman, so
#                        setup.sh runs it in the background while it builds
#                        the other tools.
#   k8s-setup.sh host    etcd, containerd, runc and the CNI plugins
#                        from Debian when missing; the pause image as a
#                        docker-archive in $CACHE_ROOT/k8s/ (made with podman,
#                        which image-setup.sh installs). Writes
#                        $CACHE_ROOT/k8s/status: "ready" or
#                        "unsupported: <reason>" (the test then skips).
#
# Both are idempotent: the binaries are rebuilt only when their version stamp
# ($CACHE_ROOT/bin/kubernetes.version) differs, the pause image only when its
# stamp differs. helm comes from image-setup.sh.
set -euo pipefail

KUBE_VERSION="1.34.4"
# The binaries the cluster runs; the stamp names them and the build flags'
# revision, so changing either rebuilds.
KUBE_COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)
BUILD_REVISION="1"
PAUSE_IMAGE="localhost/ssr-test/pause:1"

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CACHE_ROOT="${SQLITE_S3_RESTORE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sqlite-s3-restore}"
BIN="$CACHE_ROOT/bin"
K8S="$CACHE_ROOT/k8s"
STAMP="$BIN/kubernetes.version"
STAMP_VALUE="k8s.io/kubernetes@v$KUBE_VERSION ${KUBE_COMMANDS[*]} pause build=$BUILD_REVISION"
mkdir -p "$BIN" "$K8S" "$ROOT/.tmp"

say() { printf 'k8s-setup: %s\n' "$*"; }
die() { printf 'k8s-setup: ERROR: %s\n' "$*" >&2; exit 1; }

built() {
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$STAMP_VALUE" ] || return 1
  local c
  for c in "${KUBE_COMMANDS[@]}" k8s-pause; do [ -x "$BIN/$c" ] || return 1; done
}

build() {
  if built; then
    say "kubernetes v$KUBE_VERSION: cached"
    return
  fi
  command -v go >/dev/null 2>&1 || die "Go is required to build Kubernetes"
  say "kubernetes v$KUBE_VERSION: building ${KUBE_COMMANDS[*]} (5-12 minutes on 2 cores)"
  local tmp start
  tmp="$(mktemp -d "$ROOT/.tmp/gobuild-kubernetes.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: the trap must remove this very directory
  trap "rm -rf '$tmp'" EXIT
  trap 'exit 143' TERM # setup.sh stops the build on failure: still remove the directory
  start=$SECONDS
  mkdir -p "$tmp/mod" "$tmp/out"
  # k8s.io/kubernetes cannot be built as a plain dependency: its go.mod replaces
  # every k8s.io/* staging module with ./staging/src/... Its staging modules are
  # published as k8s.io/<name> v0.<minor>.<patch>, so a wrapper module requires
  # k8s.io/kubernetes and replaces each staging module with that published
  # version. Two staging modules (sample-cli-plugin, sample-controller) are not
  # published for every release and nothing built here needs them.
  local staging="v0.${KUBE_VERSION#1.}" upstream
  upstream="$(cd "$tmp" && go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
  [ -f "$upstream" ] || die "go mod download k8s.io/kubernetes@v$KUBE_VERSION gave no go.mod"
  {
    printf 'module sqlite-s3-restore.test/kubernetes\n\ngo 1.24.0\n\nrequire k8s.io/kubernetes v%s\n\nreplace (\n' "$KUBE_VERSION"
    grep -E '=> \./staging/' "$upstream" | grep -vE 'sample-(cli-plugin|controller)' \
      | awk -v v="$staging" '{ printf "\t%s => %s %s\n", $1, $1, v }'
    printf ')\n'
  } >"$tmp/mod/go.mod"
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    local c
    for c in "${KUBE_COMMANDS[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
    printf ')\n'
  } >"$tmp/mod/tools.go"
  (cd "$tmp/mod" && go mod tidy) >"$tmp/build.log" 2>&1 || { tail -n 30 "$tmp/build.log" >&2; die "go mod tidy of the Kubernetes wrapper module failed"; }
  # The version is stamped as upstream's release build does (otherwise the
  # binaries say v0.0.0-master, and helm's .Capabilities.KubeVersion and charts'
  # kubeVersion constraints see that). -s -w: no symbol table or DWARF (smaller,
  # faster to link); -trimpath: no local paths in the binaries.
  local minor="${KUBE_VERSION#1.}"
  minor="${minor%%.*}"
  local ld="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=v$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  local pkgs=()
  for c in "${KUBE_COMMANDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  if ! (cd "$tmp/mod" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags="$ld" -o "$tmp/out/" "${pkgs[@]}") >>"$tmp/build.log" 2>&1; then
    tail -n 30 "$tmp/build.log" >&2
    die "building Kubernetes failed"
  fi
  if ! CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags="-s -w" -o "$tmp/out/k8s-pause" "$ROOT/test/support/cluster/pause.go" >>"$tmp/build.log" 2>&1; then
    tail -n 30 "$tmp/build.log" >&2
    die "building the pause binary failed"
  fi
  # Read whole, then matched: with pipefail, `kubectl version | grep -q` fails
  # when grep exits on the first line and kubectl, writing its second, gets SIGPIPE.
  local reported
  reported="$("$tmp/out/kubectl" version --client 2>/dev/null || true)"
  [[ "$reported" == *"v$KUBE_VERSION"* ]] || die "kubectl does not report v$KUBE_VERSION: $reported"
  rm -f "$STAMP"
  for c in "${KUBE_COMMANDS[@]}" k8s-pause; do mv -f "$tmp/out/$c" "$BIN/$c"; done
  printf '%s\n' "$STAMP_VALUE" >"$STAMP"
  say "kubernetes v$KUBE_VERSION: built in $((SECONDS - start))s"
}

# The outcome for the test: "ready" or "unsupported: <reason>".
unsupported() {
  printf 'unsupported: %s\n' "$*" >"$K8S/status"
  say "the Kubernetes test will skip: $*"
  exit 0
}

podman_() {
  podman --root "$CACHE_ROOT/podman/root" --runroot "$CACHE_ROOT/podman/run" --cgroup-manager=cgroupfs \
    --events-backend=file --runtime runc "$@"
}

host() {
  rm -f "$K8S/status"
  [ "$(uname -s)" = Linux ] || unsupported "not Linux"
  [ "$(id -u)" = 0 ] || unsupported "the kubelet and containerd need root"
  [ -d /sys/fs/cgroup/memory ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || unsupported "no cgroup hierarchy mounted"
  built || die "the Kubernetes binaries are missing: run k8s-setup.sh build first"

  # Debian packages, only when a command is missing (etcd-server brings etcd,
  # containerd brings ctr and the runc shim).
  local missing=() pair
  for pair in etcd:etcd-server containerd:containerd ctr:containerd runc:runc \
    iptables:iptables openssl:openssl curl:curl sysctl:procps nsenter:util-linux flock:util-linux \
    setsid:util-linux ip:iproute2 ss:iproute2; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  [ -x /usr/lib/cni/loopback ] || missing+=(containernetworking-plugins)
  if [ "${#missing[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 || unsupported "missing ${missing[*]} and no apt-get"
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    say "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # The packages' init scripts must not start an etcd or containerd of their
    # own (the test starts them with its own configuration, on its own
    # sockets): a policy-rc.d that forbids it, unless the host has one.
    local policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\n# k8s-setup.sh: no service starts while it installs packages\nexit 101\n' >"$policy"
      chmod 755 "$policy"
      # shellcheck disable=SC2064 # expand now
      trap "rm -f '$policy'" EXIT
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if grep -q '^# k8s-setup.sh:' "$policy" 2>/dev/null; then
      rm -f "$policy"
      trap - EXIT
    fi
  fi
  say "etcd $(etcd --version 2>/dev/null | awk '/etcd Version/{print $3}'), containerd $(containerd --version | awk '{print $3}'), runc $(runc --version | awk 'NR==1{print $3}')"

  # The pause image, from the static pause binary: one layer, ENTRYPOINT /pause.
  command -v podman >/dev/null 2>&1 || unsupported "podman is missing (image-setup.sh installs it)"
  local pause_stamp
  pause_stamp="$PAUSE_IMAGE $(sha256sum "$BIN/k8s-pause" | cut -c1-64)"
  if [ -f "$K8S/pause.tar" ] && [ -f "$K8S/pause.version" ] && [ "$(cat "$K8S/pause.version")" = "$pause_stamp" ]; then
    say "pause image: cached"
  else
    local rootfs
    rootfs="$(mktemp -d "$ROOT/.tmp/pause-image.XXXXXX")"
    cp "$BIN/k8s-pause" "$rootfs/pause"
    tar -C "$rootfs" -c pause | podman_ import --quiet --change 'ENTRYPOINT ["/pause"]' - "$PAUSE_IMAGE" >/dev/null
    rm -rf "$rootfs" "$K8S/pause.tar"
    podman_ save --quiet --format docker-archive -o "$K8S/pause.tar.partial" "$PAUSE_IMAGE"
    mv "$K8S/pause.tar.partial" "$K8S/pause.tar"
    printf '%s\n' "$pause_stamp" >"$K8S/pause.version"
    say "pause image: built"
  fi
  echo ready >"$K8S/status"
  say "ready"
}

case "${1:-}" in
  build) build ;;
  host) host ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2 ;;
esac
