// Restoring from an S3 (MinIO) replica written by the real Litestream v0.3.13
// reproduces the source database exactly, and the marker names the newest
// generation and the last WAL position applied.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { makeBackup, type SourceBackup } from '../support/backup.js';
import { fileSha256 } from '../support/digest.js';
import { createBucket, s3Client, s3Env, startMinio, type Minio } from '../support/minio.js';
import { makeTempDir, removeDir, repoRoot } from '../support/paths.js';
import {
  S3Store,
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

const bucket = 'backups';
const prefix = 'apps/main';
let minio: Minio;
let work: string;
let backup: SourceBackup;
let gen: Generation;
let end: { index: number; offset: number };

before(
  async () => {
    minio = await startMinio();
    work = await makeTempDir('e2e-restore-minio');
    await createBucket(minio, bucket);
    backup = await makeBackup({
      workDir: work,
      replicas: [{ type: 's3', s3: minio, bucket, path: prefix }],
      prefill: (db) => prefill(db),
      workload: {},
    });
    const client = s3Client(minio);
    const store = new S3Store(client, bucket, prefix);
    gen = newestGeneration(await readLayout(store));
    end = await endPosition(store, gen);
    client.destroy();
    console.log(`# workload ${JSON.stringify(backup.stats)} in ${backup.durationMs} ms`);
    console.log(`# ${describeGeneration(gen)}; end position ${JSON.stringify(end)}`);
  },
  { timeout: 300_000 },
);

after(async () => {
  await minio?.stop();
  if (work) await removeDir(work);
});

test('the workload made Litestream start at least 3 WAL indexes in the newest generation', () => {
  assert.ok(gen.snapshots.length >= 1, 'at least one snapshot');
  assert.ok(walIndexes(gen).length >= 3, `WAL indexes: ${walIndexes(gen).join(',')}`);
  assert.ok(gen.wal.length > walIndexes(gen).length, 'some index has several segments');
});

test('restore from MinIO reproduces the source exactly (full verify)', { timeout: 300_000 }, async () => {
  const target = path.join(work, 'restore', 'app.db');
  const markerPath = path.join(work, 'restore-marker.json');
  await mkdir(path.dirname(target), { recursive: true });
  const r = await runRestore(
    cliEnv({
      replicaUrl: `s3://${bucket}/${prefix}`,
      dbPath: target,
      terminationLog: path.join(work, 'termination-log'),
      s3: s3Env(minio),
      extra: { SQLITE_RESTORE_VERIFY: 'full', SQLITE_RESTORE_MARKER_PATH: markerPath },
    }),
  );
  assertExit(r, 0);
  assertJsonLogs(r);
  await assertNoLeftovers(path.dirname(target));
  assertSameDatabase(target, backup.digest);

  const marker = await readMarker(markerPath);
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { name: string; version: string };
  const size = (await stat(target)).size;
  const sha256 = await fileSha256(target);
  // One comparison of every checked field, so a failure shows all differences at once.
  assert.deepEqual(
    {
      outcome: marker.outcome,
      database: marker.database,
      replicaNamesPrefix: marker.replica?.includes(`${bucket}/${prefix}`),
      layout: marker.source?.layout,
      generation: marker.source?.generation,
      snapshotIndex: marker.source?.snapshotIndex,
      position: marker.source?.position,
      verify: marker.verify,
      bytesDatabase: marker.bytes?.database,
      bytesDownloadedPositive: (marker.bytes?.downloaded ?? 0) > 0,
      sha256: marker.sha256,
      tool: marker.tool,
      timeIsDate: !Number.isNaN(Date.parse(marker.time)),
      durationsMsIsObject: typeof marker.durationsMs === 'object' && marker.durationsMs !== null,
    },
    {
      outcome: 'restored',
      database: target,
      replicaNamesPrefix: true,
      layout: 'litestream-v0.3',
      generation: gen.id, // the newest generation
      snapshotIndex: gen.snapshots.at(-1)?.index, // its newest snapshot
      position: end, // highest WAL index, end offset of its last segment
      verify: 'full',
      bytesDatabase: size, // the restored file's size
      bytesDownloadedPositive: true,
      sha256, // of the restored file
      tool: { name: pkg.name, version: pkg.version },
      timeIsDate: true,
      durationsMsIsObject: true,
    },
    `marker: ${JSON.stringify(marker)}`,
  );
});
