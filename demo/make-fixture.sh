#!/usr/bin/env bash
# Regenerates demo/replica: a small Litestream v0.3.13 file replica of a
# "notes" database, written by the real Litestream while a workload runs.
# Needs the Litestream binary that test/support/setup.sh builds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
litestream="${SQLITE_S3_RESTORE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sqlite-s3-restore}/bin/litestream"
[ -x "$litestream" ] || { echo "run test/support/setup.sh first (builds $litestream)" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
cat > "$work/litestream.yml" <<YML
dbs:
  - path: $work/notes.db
    monitor-interval: 100ms
    checkpoint-interval: 1s
    min-checkpoint-page-count: 4
    replicas:
      - type: file
        path: $work/replica
        sync-interval: 100ms
YML
node "$root/demo/fixture-workload.mjs" "$work/notes.db" init
"$litestream" replicate -config "$work/litestream.yml" >"$work/litestream.log" 2>&1 &
pid=$!
sleep 1
for round in 1 2 3; do
  node "$root/demo/fixture-workload.mjs" "$work/notes.db" "$round"
  sleep 2.5 # let Litestream sync and checkpoint, so the next round starts a new WAL index
done
kill -INT "$pid"; wait "$pid" || true
digest=$(node "$root/deploy/e2e/pod-digest.cjs" "$work/notes.db" | sed -n 's/^digest=//p')
node "$root/demo/fixture-workload.mjs" "$work/notes.db" summary "$digest" > "$root/demo/expected.json"
rm -rf "$root/demo/replica"
cp -r "$work/replica" "$root/demo/replica"
find "$root/demo/replica" -type f | sort
