// Restoring from a Litestream v0.3.13 *file* replica (file:// URL) reproduces the
// source exactly. Litestream takes periodic snapshots here, so the restore must
// start from the newest snapshot of the newest generation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { makeBackup, type SourceBackup } from '../support/backup.js';
import { makeTempDir, removeDir } from '../support/paths.js';
import {
  FileStore,
  describeGeneration,
  endPosition,
  newestGeneration,
  readLayout,
  walIndexes,
  type Generation,
} from '../support/replica.js';
import { cliEnv, readMarker, runRestore } from '../support/run-cli.js';
import { prefill } from '../support/workload.js';
import { assertExit, assertJsonLogs, assertNoLeftovers, assertSameDatabase } from '../support/assertions.js';

let work: string;
let replicaDir: string;
let backup: SourceBackup;
let gen: Generation;
let end: { index: number; offset: number };

before(
  async () => {
    work = await makeTempDir('e2e-restore-file');
    replicaDir = path.join(work, 'replica');
    backup = await makeBackup({
      workDir: work,
      replicas: [{ type: 'file', dir: replicaDir, snapshotInterval: '3s' }],
      prefill: (db) => prefill(db),
      workload: {},
    });
    const store = new FileStore(replicaDir);
    gen = newestGeneration(await readLayout(store));
    end = await endPosition(store, gen);
    console.log(`# workload ${JSON.stringify(backup.stats)} in ${backup.durationMs} ms`);
    console.log(`# ${describeGeneration(gen)}; end position ${JSON.stringify(end)}`);
  },
  { timeout: 300_000 },
);

after(async () => {
  if (work) await removeDir(work);
});

test('the file replica has several WAL indexes and snapshots', () => {
  assert.ok(walIndexes(gen).length >= 3, `WAL indexes: ${walIndexes(gen).join(',')}`);
  assert.ok(gen.snapshots.length >= 2, `snapshots at ${gen.snapshots.map((s) => s.index).join(',')}`);
});

test('restore from a file:// replica reproduces the source exactly', { timeout: 300_000 }, async () => {
  const target = path.join(work, 'restore', 'app.db');
  await mkdir(path.dirname(target), { recursive: true });
  const r = await runRestore(
    cliEnv({ replicaUrl: `file://${replicaDir}`, dbPath: target, terminationLog: path.join(work, 'termination-log') }),
  );
  assertExit(r, 0);
  assertJsonLogs(r);
  await assertNoLeftovers(path.dirname(target));
  assertSameDatabase(target, backup.digest);

  // Default marker path and default verification level.
  const marker = await readMarker(`${target}.restore.json`);
  assert.deepEqual(
    {
      outcome: marker.outcome,
      database: marker.database,
      replicaNamesDir: marker.replica?.includes(replicaDir),
      layout: marker.source?.layout,
      generation: marker.source?.generation,
      snapshotIndex: marker.source?.snapshotIndex,
      position: marker.source?.position,
      verify: marker.verify,
    },
    {
      outcome: 'restored',
      database: target,
      replicaNamesDir: true,
      layout: 'litestream-v0.3',
      generation: gen.id,
      snapshotIndex: gen.snapshots.at(-1)?.index, // starts from the newest snapshot
      position: end,
      verify: 'quick',
    },
    `marker: ${JSON.stringify(marker)}`,
  );
  assert.equal(marker.bytes?.database, (await stat(target)).size);
});
