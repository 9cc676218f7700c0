#!/usr/bin/env bash
# npm test's runner, after `setup.sh --background`: first the unit tests and
# the end-to-end files that need only MinIO, Ceph RGW and Litestream, while the
# slow setup goes on; then the files that wait for it (they call
# waitForSlowSetup(), test/support/slow-setup.ts). Two runs, because node's
# runner sorts the files it is given. Fails if either fails.
set -uo pipefail
cd "$(dirname "$0")/../.."
# The test processes' own SDK imports would print Node 20's support warning;
# the CLI children get a clean environment, so their stderr checks still hold.
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=1
mapfile -t late < <(grep -l 'waitForSlowSetup' dist/test/e2e/*.test.js)
mapfile -t early < <(grep -L 'waitForSlowSetup' dist/test/e2e/*.test.js)
node --test --test-concurrency=1 dist/test/unit/*.test.js "${early[@]}"
first=$?
second=0
if [ "${#late[@]}" -gt 0 ]; then
  node --test --test-concurrency=1 "${late[@]}"
  second=$?
fi
printf 'run-tests: unit and early end-to-end files exit %s; files after the slow setup (%s) exit %s\n' "$first" "${#late[@]}" "$second"
[ "$first" = 0 ] && [ "$second" = 0 ]
