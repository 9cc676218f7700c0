#!/usr/bin/env bash
# npm test's runner, after `setup.sh --background`: the unit tests and the
# end-to-end files that need only MinIO, Ceph RGW and Litestream, and, beside
# them, the files that wait for the slow setup (they call
# waitForSlowSetup(part), test/support/slow-setup.ts), each as soon as its part
# is ready. Two runs, each one file at a time: node's runner for the early
# files (it sorts them), run-in-order.js for the late ones, in the order the
# slow setup readies their parts (so the product image is built while
# Kubernetes still builds, not after it). The late run's output goes to a file,
# printed once the early run has ended, so that each run's report reads in one
# piece. Fails if either fails.
#
# Side by side because a cold run is CPU-bound: the builds of the slow part
# fill what the early files leave idle, and the cluster files, mostly waiting
# for pods, start as soon as Kubernetes is ready instead of after the early
# files. The late run's session gets a lower priority (its own scheduling
# group, as in slow-setup.sh), so the early files' time limits (a SIGTERM
# obeyed within a second...) hold beside a cluster and an image build.
set -uo pipefail
cd "$(dirname "$0")/../.."
# The test processes' own SDK imports would print Node 20's support warning;
# the CLI children get a clean environment, so their stderr checks still hold.
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=1
mapfile -t early < <(grep -L 'waitForSlowSetup' dist/test/e2e/*.test.js)
late=()
for part in images kubernetes zlayer; do
  mapfile -t -O "${#late[@]}" late < <(grep -l "waitForSlowSetup('$part')" dist/test/e2e/*.test.js)
done
if [ "$(grep -l 'waitForSlowSetup' dist/test/e2e/*.test.js | wc -l)" != "${#late[@]}" ]; then
  echo "run-tests: a file waits for a part of the slow setup not listed here (images, kubernetes, zlayer)" >&2
  exit 2
fi
late_log=.tmp/late-tests.log
mkdir -p .tmp
late_pid=""
if [ "${#late[@]}" -gt 0 ]; then
  # shellcheck disable=SC2016 # expanded by the inner shell
  setsid -w bash -c 'echo 5 >/proc/self/autogroup 2>/dev/null; exec node dist/test/support/run-in-order.js "$@"' late "${late[@]}" >"$late_log" 2>&1 </dev/null &
  late_pid=$!
  trap 'kill -- "-$late_pid" 2>/dev/null || true' EXIT
fi
node --test --test-concurrency=1 dist/test/unit/*.test.js "${early[@]}"
first=$?
second=0
if [ -n "$late_pid" ]; then
  printf '# the files after the slow setup (%s), run beside the ones above: %s\n' "${#late[@]}" "$late_log"
  # What it has printed so far, then the rest as it comes, until it ends.
  tail -n +1 -f --pid="$late_pid" "$late_log"
  wait "$late_pid"
  second=$?
  trap - EXIT
fi
printf 'run-tests: unit and early end-to-end files exit %s; files after the slow setup (%s) exit %s\n' "$first" "${#late[@]}" "$second"
[ "$first" = 0 ] && [ "$second" = 0 ]
