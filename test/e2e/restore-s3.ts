// The S3 restore tests, run once per S3 implementation (restore-minio.test.ts,
// restore-rgw.test.ts): the real Litestream v0.3.13 replicates a workload to
// the server, then the CLI restores it, must reproduce the source exactly and
// write a marker naming the newest generation and the last WAL position; wrong
// credentials are exit 77 and an empty prefix exit 66 on that same server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { makeBackup, type SourceBackup } from '../support/backup.js';
import { fileSha256 } from '../support/digest.js';
import { createBucket, s3Client, s3Env } from '../support/minio.js';
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
import { cliEnv, readMarker, readTerminationLog, runRestore } from '../support/run-cli.js';
import type { S3Server, S3ServerKind } from '../support/s3-server.js';
import { prefill } from '../support/workload.js';
import { assertExit, assertJsonLogs, assertMarkerSha256, assertNoLeftovers, assertSameDatabase } from '../support/assertions.js';

export function restoreSuite(kind: S3ServerKind): void {
  const bucket = 'backups';
  const prefix = 'apps/main';
  const slug = kind.name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  let server: S3Server;
  let work: string;
  let backup: SourceBackup;
  let gen: Generation;
  let end: { index: number; offset: number };

  before(
    async () => {
      const started = Date.now();
      server = await kind.start();
      console.log(`# ${kind.name} started in ${Date.now() - started} ms at ${server.endpoint}`);
      work = await makeTempDir(`e2e-restore-${slug}`);
      const bucketStarted = Date.now();
      await createBucket(server, bucket);
      console.log(`# CreateBucket took ${Date.now() - bucketStarted} ms`);
      backup = await makeBackup({
        workDir: work,
        replicas: [{ type: 's3', s3: server, bucket, path: prefix }],
        prefill: (db) => prefill(db),
        workload: {},
      });
      const client = s3Client(server);
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
    await server?.stop();
    if (work) await removeDir(work);
  });

  test(`the workload made Litestream start at least 3 WAL indexes in the newest generation (${kind.name})`, () => {
    assert.ok(gen.snapshots.length >= 1, 'at least one snapshot');
    assert.ok(walIndexes(gen).length >= 3, `WAL indexes: ${walIndexes(gen).join(',')}`);
    assert.ok(gen.wal.length > walIndexes(gen).length, 'some index has several segments');
    const largest = Math.max(...gen.wal.map((w) => w.size), ...gen.snapshots.map((s) => s.size));
    // Objects above two 8 MiB parts are fetched with parallel ranged GETs: make sure one exists.
    assert.ok(largest > 16 << 20, `one object is larger than 16 MiB (largest: ${largest} bytes)`);
  });

  test(`restore from ${kind.name} reproduces the source exactly (full verify)`, { timeout: 300_000 }, async () => {
    const target = path.join(work, 'restore', 'app.db');
    const markerPath = path.join(work, 'restore-marker.json');
    await mkdir(path.dirname(target), { recursive: true });
    const r = await runRestore(
      cliEnv({
        replicaUrl: `s3://${bucket}/${prefix}`,
        dbPath: target,
        terminationLog: path.join(work, 'termination-log'),
        s3: s3Env(server),
        extra: { SQLITE_RESTORE_VERIFY: 'full', SQLITE_RESTORE_MARKER_PATH: markerPath },
      }),
    );
    console.log(`# restore took ${r.durationMs} ms`);
    assertExit(r, 0);
    assertJsonLogs(r);
    await assertNoLeftovers(path.dirname(target));
    assertSameDatabase(target, backup.digest);
    await assertMarkerSha256(r, markerPath, target);

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

  for (const wrong of [
    { what: 'a wrong secret key', override: { secretKey: 'not-the-secret-key' } },
    { what: 'an unknown access key', override: { accessKey: 'NOSUCHACCESSKEY0000' } },
  ]) {
    test(`${wrong.what} → 77, nothing written (${kind.name})`, { timeout: 120_000 }, async () => {
      const dir = await makeTempDir(`e2e-auth-${slug}`);
      try {
        const terminationLog = path.join(work, `termination-log-auth`);
        const env = s3Env({ ...server, ...wrong.override });
        const r = await runRestore(
          cliEnv({ replicaUrl: `s3://${bucket}/${prefix}`, dbPath: path.join(dir, 'app.db'), terminationLog, s3: env }),
        );
        assertExit(r, 77);
        assertJsonLogs(r);
        assert.ok((await readTerminationLog(terminationLog)).length > 0);
        assert.deepEqual(await readdir(dir), [], 'nothing may be written to the target directory');
      } finally {
        await removeDir(dir);
      }
    });
  }

  test(`an empty prefix next to another backup → 66 (${kind.name})`, { timeout: 120_000 }, async () => {
    const dir = await makeTempDir(`e2e-empty-${slug}`);
    try {
      const terminationLog = path.join(work, 'termination-log-empty');
      // `apps/main` holds a backup; `apps/ma` is a prefix of its name but no replica.
      for (const emptyPrefix of ['apps/other', 'apps/ma']) {
        const r = await runRestore(
          cliEnv({ replicaUrl: `s3://${bucket}/${emptyPrefix}`, dbPath: path.join(dir, 'app.db'), terminationLog, s3: s3Env(server) }),
        );
        assertExit(r, 66);
        assertJsonLogs(r);
        assert.ok((await readTerminationLog(terminationLog)).length > 0);
        await assertNoLeftovers(dir);
        assert.deepEqual(await readdir(dir), [], `nothing may be written for ${emptyPrefix}`);
      }
    } finally {
      await removeDir(dir);
    }
  });
}
