// The real zlayer-storage crate (crates.io 0.10.73 and 0.14.3) as the writer:
// an application on the crate (test/support/zlayer-writer) writes one counted
// row per transaction while the crate's SqliteReplicator replicates it to
// MinIO, with PASSIVE and TRUNCATE checkpoints at chosen points relative to
// the replicator's snapshot ticks, and stops in one of the three ways an
// application can: flush() with its connection open (the crate's own order),
// close then flush(), or a crash without either. Each run is restored by our
// CLI (SQLITE_RESTORE_LAYOUT=zlayer) and by the crate's own restore(), and both
// results are printed side by side with what the bucket held.
//
// Asserted here is what the restore guarantees today: exit 0, integrity_check
// ok, a committed prefix (rows 1..k, no holes), never older than the newest
// snapshot's own content and never more than was committed. How many commits
// each restore got is recorded, not asserted (issue 10 b tightens that).
// ZLAYER_CRATE_RESULTS=<dir> also writes each run's full record there as JSON.
import { waitForSlowSetup } from '../support/slow-setup.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { assertExit } from '../support/assertions.js';
import { createBucket, s3Env, startMinio, type Minio } from '../support/minio.js';
import { makeTempDir, removeDir } from '../support/paths.js';
import { explain, restoreInto } from '../support/run-cli.js';
import {
  countRows,
  crateVersions,
  describeRun,
  inspectBucket,
  runCrateRestore,
  runWriter,
  writerBin,
  type BucketView,
  type WriterRun,
  type WriterScenario,
} from '../support/zlayer-crate.js';

// Needs the slow part of the setup (run-tests.sh runs this file after it).
await waitForSlowSetup('zlayer');

const bucket = 'zlayer-crate';
let minio: Minio;
let work: string;

before(
  async () => {
    writerBin(); // a missing build fails here, naming setup.sh
    minio = await startMinio();
    work = await makeTempDir('e2e-zlayer-crate');
    await createBucket(minio, bucket);
  },
  { timeout: 60_000 },
);

after(async () => {
  await minio?.stop();
  if (work) await removeDir(work);
});

interface Case {
  name: string;
  why: string;
  /**
   * The bucket proves everything it holds (an older snapshot with whole WAL
   * generations reproduces the newest one, or no copy crosses it), so the
   * restore must get all of it.
   */
  provable?: boolean;
  scenario: Omit<WriterScenario, 'prefix'>;
  /** Checks that the run really is the scenario it is named for (not a restore assertion). */
  shape?: (run: WriterRun, view: BucketView) => void;
}

// Snapshot ticks every 2 s after the replicator starts (at 2000, 4000, ... ms);
// the crate polls the -wal size every 100 ms. Commit k is made at (k-1) x
// commitEveryMs; a checkpoint 150 ms after a commit lets a poll copy the -wal
// first, so each generation's newest copy holds all of it. Rows of 1000 random bytes spread
// the table over many pages (a few rows each), so commits split pages and
// touch the root and page 1, as in a real database, not one leaf page.
const rowBytes = 1000;
const cases: Case[] = [
  {
    name: 'flush-open',
    provable: true,
    why: 'PASSIVE and TRUNCATE between ticks, then flush() with the connection still open (the crate\'s own shutdown order)',
    scenario: { rowBytes, snapshotIntervalSecs: 2, commitEveryMs: 200, writeForMs: 5000, checkpoints: [{ atMs: 1500, mode: 'PASSIVE' }, { atMs: 3550, mode: 'TRUNCATE' }], end: 'flush-open' },
  },
  {
    name: 'flush-open-idle',
    provable: true,
    why: 'the same writes, then 500 ms idle (the crate polls the -wal every 100 ms) before flush() with the connection open',
    scenario: { rowBytes, snapshotIntervalSecs: 2, commitEveryMs: 200, writeForMs: 5000, checkpoints: [{ atMs: 1500, mode: 'PASSIVE' }, { atMs: 3550, mode: 'TRUNCATE' }], lingerMs: 500, end: 'flush-open' },
  },
  {
    name: 'close-flush',
    provable: true,
    why: 'the same writes, then the connection closed (SQLite checkpoints into the main file) before flush()',
    scenario: { rowBytes, snapshotIntervalSecs: 2, commitEveryMs: 200, writeForMs: 5000, checkpoints: [{ atMs: 1500, mode: 'PASSIVE' }, { atMs: 3550, mode: 'TRUNCATE' }], end: 'close-flush' },
  },
  {
    name: 'crash',
    provable: true,
    why: 'the same writes, then a crash without flush() 500 ms after the last commit',
    scenario: { rowBytes, snapshotIntervalSecs: 2, commitEveryMs: 200, writeForMs: 5000, checkpoints: [{ atMs: 1500, mode: 'PASSIVE' }, { atMs: 3550, mode: 'TRUNCATE' }], lingerMs: 500, end: 'crash' },
  },
  {
    name: 'checkpoints-before-ticks',
    why: 'PASSIVE 100 ms before the first tick, TRUNCATE 100 ms before the second, flush() with the connection open',
    scenario: { rowBytes, snapshotIntervalSecs: 2, commitEveryMs: 200, writeForMs: 5000, checkpoints: [{ atMs: 1900, mode: 'PASSIVE' }, { atMs: 3900, mode: 'TRUNCATE' }], end: 'flush-open' },
  },
  {
    name: 'checkpoints-after-ticks',
    why: 'PASSIVE 100 ms after the first tick, TRUNCATE 100 ms after the second, flush() with the connection open',
    scenario: { rowBytes, snapshotIntervalSecs: 2, commitEveryMs: 200, writeForMs: 5000, checkpoints: [{ atMs: 2100, mode: 'PASSIVE' }, { atMs: 4100, mode: 'TRUNCATE' }], end: 'flush-open' },
  },
  {
    name: 'passive-reuse-crash',
    provable: true,
    why: 'a PASSIVE checkpoint after the first tick lets SQLite rewrite the -wal at the same size (the crate sees no change), then a crash before the next tick',
    scenario: { rowBytes, snapshotIntervalSecs: 2, commitEveryMs: 200, writeForMs: 3000, checkpoints: [{ atMs: 2500, mode: 'PASSIVE' }], lingerMs: 300, end: 'crash' },
  },
  {
    name: 'truncate-key-reuse',
    why: 'a TRUNCATE checkpoint restarts the frame count, so later WAL copies overwrite the keys of earlier ones; a tick after the writes, then a crash',
    scenario: { rowBytes, snapshotIntervalSecs: 2, commitEveryMs: 100, writeForMs: 3500, checkpoints: [{ atMs: 2500, mode: 'TRUNCATE' }], lingerMs: 1000, end: 'crash' },
    shape: (run) => {
      const truncateAt = Number(run.checkpoints[0]?.ms);
      const before = new Set(run.walUploaded.filter((u) => Number(u.ms) < truncateAt).map((u) => u.seq));
      const reused = run.walUploaded.filter((u) => Number(u.ms) > truncateAt && before.has(u.seq)).map((u) => u.seq);
      assert.ok(reused.length > 0, `a WAL key uploaded before the TRUNCATE is uploaded again after it (before: ${[...before].join(' ')}; after: ${run.walUploaded.filter((u) => Number(u.ms) > truncateAt).map((u) => u.seq).join(' ')})`);
    },
  },
];

function maybeRecord(name: string, record: unknown): void {
  const dir = process.env.ZLAYER_CRATE_RESULTS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(record, null, 2));
}

for (const version of crateVersions) {
  for (const c of cases) {
    test(`zlayer-storage ${version}, ${c.name}: ${c.why}`, { timeout: 180_000 }, async (t) => {
      const prefix = `${version}/${c.name}/`;
      const dir = path.join(work, version, c.name);
      const run = await runWriter(version, minio, bucket, { ...c.scenario, prefix }, path.join(dir, 'writer'));
      const expectedCommits = Math.ceil(c.scenario.writeForMs / c.scenario.commitEveryMs);
      assert.deepEqual(run.commits.map((x) => x.seq), Array.from({ length: expectedCommits }, (_, i) => i + 1), 'the writer made every scheduled commit');

      const view = await inspectBucket(minio, bucket, prefix, path.join(dir, 'inspect'));
      assert.ok(view.newest, `the crate uploaded at least one snapshot under ${prefix}`);
      c.shape?.(run, view);

      const ours = await restoreInto(path.join(dir, 'ours'), `s3://${bucket}/${prefix}`, { s3: s3Env(minio), extra: { SQLITE_RESTORE_LAYOUT: 'zlayer' } });
      const oursRows = ours.r.code === 0 ? countRows(ours.target) : null;
      const marker = ours.r.code === 0 ? (JSON.parse(readFileSync(ours.markerPath, 'utf8')) as { warnings?: string[] }) : null;
      const crate = await runCrateRestore(version, minio, bucket, prefix, path.join(dir, 'crate'));

      const fmt = (r: typeof oursRows): string =>
        r ? `${r.count} rows (max ${r.max}${r.prefix ? '' : ', HOLES'}, integrity ${r.integrity})` : 'nothing';
      t.diagnostic(
        [
          `--- zlayer-storage ${version} ${c.name} ---`,
          describeRun(run, view),
          `restored by us:    exit ${ours.r.code}, ${fmt(oursRows)}${marker?.warnings?.length ? `; warnings: ${marker.warnings.join(' | ')}` : ''}`,
          `restored by crate: exit ${crate.code}, ${crate.ok ? `Ok(${String(crate.restored)})` : `Err(${crate.error})`}, ${fmt(crate.rows)}`,
          `crate restore log: ${crate.log.filter((l) => !l.startsWith('DEBUG')).join(' | ')}`,
        ].join('\n'),
      );
      maybeRecord(`${version}-${c.name}`, { version, case: c.name, scenario: c.scenario, run: { ...run, events: undefined }, events: run.events, view, ours: { code: ours.r.code, rows: oursRows, marker, logs: ours.r.logs }, crate });

      // What today's restore guarantees, whatever the crate did.
      assertExit(ours.r, 0);
      assert.ok(oursRows, 'our restore published a database');
      assert.equal(oursRows.integrity, 'ok', `integrity_check of our restore\n${explain(ours.r)}`);
      assert.ok(oursRows.prefix, `our restore is a committed prefix: rows 1..${oursRows.count} without holes (max ${oursRows.max})`);
      assert.ok(oursRows.count <= run.commits.length, `never more than was committed (${oursRows.count} > ${run.commits.length})`);
      const floor = view.newest?.rows.count ?? 0;
      assert.ok(oursRows.count >= floor, `never older than the newest snapshot (${view.newest?.key}: ${floor} rows alone), got ${oursRows.count}`);
      // Issue 10 b: never more than a copy on the snapshot can give (no rollback, no junk), and all of it
      // where the bucket proves it; where we stop short, a warning names the copy left out and its frames.
      assert.ok(oursRows.count <= view.provable.commits, `no more than the bucket holds on the newest snapshot (${view.provable.commits}), got ${oursRows.count}`);
      if (c.provable) assert.equal(oursRows.count, view.provable.commits, `the bucket proves ${view.provable.commits} commits (${view.provable.via})`);
      if (oursRows.count < view.provable.commits) {
        assert.ok(
          marker?.warnings?.some((w) => /^WAL copy wal\/\d{20}\.wal\.zst \(\d+ committed frames?, uploaded \S+\) was left out: /.test(w)),
          `restored ${oursRows.count} of the ${view.provable.commits} commits a copy could give: a warning must name the copy left out\n${marker?.warnings?.join('\n')}`,
        );
      }
      // A crash leaves WAL copies after the last snapshot: the marker says commits after them never reached the bucket.
      const newestSnapshotAt = Math.max(...view.snapshots.map((x) => x.lastModified.getTime()));
      if (c.scenario.end === 'crash' && view.wal.some((w) => w.lastModified.getTime() > newestSnapshotAt + 1000)) {
        assert.ok(marker?.warnings?.some((w) => /stopped without flush\(\)/.test(w)), 'the marker says the replicator did not stop with flush()');
      }
    });
  }
}
