#!/usr/bin/env bash
# The slow part of test/support/setup.sh, which starts it: helm and the podman
# base images (image-setup.sh), Kubernetes (k8s-setup.sh: its Go build in
# parallel with the images, then its host step, after image-setup.sh has
# installed podman), and the zlayer-storage writer (cargo). Needed only by the
# test files that call waitForSlowSetup() (test/support/slow-setup.ts).
#
#   slow-setup.sh <state directory>
#
# Writes its exit code to <state directory>/rc when it ends, however it ends;
# setup.sh has run every apt-get step of its own before starting this one, so
# the two never contend for the dpkg lock.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
STATE="$1"
k8s_pid=""
# Each session started here (setsid: setup.sh's for this script, ours for the
# Kubernetes build) is, where sched_autogroup_enabled is 1, a scheduling group
# of its own, which gets an equal share of the CPU whatever its processes'
# nice: a cold run on 2 cores gave the foreground builds a third of it (two
# such groups beside them). So the groups themselves are lowered (best
# effort): below the foreground's builds and tests, and the zlayer writer,
# which only the last test file needs, lower still.
echo 5 >/proc/self/autogroup 2>/dev/null || true
finish() {
  local rc=$?
  [ -z "$k8s_pid" ] || kill -- "-$k8s_pid" 2>/dev/null || true
  printf '%s\n' "$rc" >"$STATE/rc"
}
trap finish EXIT

# Go only (no apt, no podman): a session of its own, so that a failure here
# stops its whole process group (go and the compilers).
if [ "$(uname -s)" = Linux ] && [ "$(id -u)" = 0 ]; then
  setsid bash -c 'echo 5 >/proc/self/autogroup 2>/dev/null; exec bash "$0" build' "$ROOT/test/support/k8s-setup.sh" >"$STATE/k8s-build.log" 2>&1 &
  k8s_pid=$!
fi
# Kubernetes first (most of the late test files need it: cluster, helm), the
# zlayer writer last (one test file, alphabetically the last one run). Each part
# leaves <state directory>/<part>.done, for waitForSlowSetup(part).
if [ "$(uname -s)" = Linux ]; then bash "$ROOT/test/support/image-setup.sh"; fi  # helm; podman base images
touch "$STATE/images.done"
if [ -n "$k8s_pid" ]; then
  k8s_rc=0
  wait "$k8s_pid" || k8s_rc=$?
  k8s_pid=""
  cat "$STATE/k8s-build.log"
  if [ "$k8s_rc" != 0 ]; then
    printf 'slow-setup: ERROR: the Kubernetes build failed (log above)\n' >&2
    exit 1
  fi
fi
bash "$ROOT/test/support/k8s-setup.sh" host  # Debian packages, pause image; "unsupported" where it cannot run
touch "$STATE/kubernetes.done"
# the zlayer-storage crate (crates.io) as a writer and restorer, for test/e2e/zlayer-crate.test.ts
echo 15 >/proc/self/autogroup 2>/dev/null || true
bash "$ROOT/test/support/zlayer-writer-setup.sh"
touch "$STATE/zlayer.done"
