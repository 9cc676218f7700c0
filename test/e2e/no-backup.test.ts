// An empty replica: 66 when a backup is required (the default), 0 with a
// "first-boot" marker when SQLITE_RESTORE_IF_NO_BACKUP=allow.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createBucket, s3Env, startMinio, type Minio } from '../support/minio.js';
import { makeTempDir, removeDir } from '../support/paths.js';
import { cliEnv, readMarker, readTerminationLog, runRestore } from '../support/run-cli.js';
import { assertExit, assertJsonLogs, assertNoLeftovers } from '../support/assertions.js';
import { makeSmallBackup } from '../support/backup.js';

let minio: Minio;
let work: string;

before(
  async () => {
    minio = await startMinio();
    work = await makeTempDir('e2e-no-backup');
    await createBucket(minio, 'backups');
    // Another database's backup in the same bucket must not be mistaken for ours.
    await makeSmallBackup(work, [{ type: 's3', s3: minio, bucket: 'backups', path: 'other-app' }]);
  },
  { timeout: 120_000 },
);

after(async () => {
  await minio?.stop();
  if (work) await removeDir(work);
});

test('empty prefix with a backup required → 66', { timeout: 120_000 }, async () => {
  const dir = path.join(work, 'required');
  await mkdir(dir);
  const terminationLog = path.join(dir, 'termination-log');
  const r = await runRestore(
    cliEnv({ replicaUrl: 's3://backups/empty-app', dbPath: path.join(dir, 'app.db'), terminationLog, s3: s3Env(minio) }),
  );
  assertExit(r, 66);
  assertJsonLogs(r);
  assert.ok((await readTerminationLog(terminationLog)).length > 0);
  await assertNoLeftovers(dir);
});

test('empty prefix with SQLITE_RESTORE_IF_NO_BACKUP=allow → 0, first-boot marker', { timeout: 120_000 }, async () => {
  const dir = path.join(work, 'allowed');
  await mkdir(dir);
  const dbPath = path.join(dir, 'app.db');
  const r = await runRestore(
    cliEnv({
      replicaUrl: 's3://backups/empty-app',
      dbPath,
      terminationLog: path.join(dir, 'termination-log'),
      s3: s3Env(minio),
      extra: { SQLITE_RESTORE_IF_NO_BACKUP: 'allow' },
    }),
  );
  assertExit(r, 0);
  assertJsonLogs(r);
  const marker = await readMarker(`${dbPath}.restore.json`);
  assert.equal(marker.outcome, 'first-boot');
  assert.equal(marker.database, dbPath);
  await assertNoLeftovers(dir);
});

test('a bucket that does not exist is a configuration error (78), never an allowed first boot', { timeout: 120_000 }, async () => {
  const dir = path.join(work, 'no-bucket');
  await mkdir(dir);
  const dbPath = path.join(dir, 'app.db');
  const terminationLog = path.join(dir, 'termination-log');
  const r = await runRestore(
    cliEnv({
      replicaUrl: 's3://no-such-bucket/app',
      dbPath,
      terminationLog,
      s3: s3Env(minio),
      extra: { SQLITE_RESTORE_IF_NO_BACKUP: 'allow' },
    }),
  );
  assertExit(r, 78);
  assert.match(await readTerminationLog(terminationLog), /no-such-bucket.*does not exist/);
  await assert.rejects(readMarker(`${dbPath}.restore.json`), 'no marker: nothing was decided');
});
