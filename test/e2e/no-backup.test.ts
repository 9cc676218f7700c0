// An empty replica: 66 when a backup is required (the default), 0 with a
// "first-boot" marker when SQLITE_RESTORE_IF_NO_BACKUP=allow. Either way the
// message says what stands around the prefix, so that a mistyped or
// one-level-off prefix is visible in the pod's termination message.
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
  assert.equal(
    await readTerminationLog(terminationLog),
    `no-backup: no backup found at s3://backups/empty-app at ${minio.endpoint}; beside it in s3://backups/: other-app/; for a new app's first deploy set SQLITE_RESTORE_IF_NO_BACKUP=allow (an empty start)`,
  );
  await assertNoLeftovers(dir);
});

test('a prefix one level too short, or mistyped, or a file replica: what is there is named', { timeout: 120_000 }, async () => {
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['s3://backups', s3Env(minio), /^no-backup: no backup found at s3:\/\/backups\/ at .*; it holds other-app\/, but no backup layout \(one level off\?\); for a new app/],
    ['s3://backups/other-ap', s3Env(minio), /; beside it in s3:\/\/backups\/: other-app\/; /],
    ['s3://backups/other-app/generations', s3Env(minio), /; it holds [0-9a-f]{16}\/, but no backup layout \(one level off\?\); nothing else in s3:\/\/backups\/other-app\/; /],
  ];
  const files = path.join(work, 'file-replicas');
  for (const name of ['app-a', 'app-b', 'app-c']) await mkdir(path.join(files, name, 'generations'), { recursive: true });
  cases.push([`file://${files}/app-x`, {}, new RegExp(`; beside it in file://${files}: app-a/, app-b/, app-c/; `)]);
  for (const [i, [replicaUrl, env, pattern]] of cases.entries()) {
    const dir = path.join(work, `nearby-${i}`);
    await mkdir(dir);
    const terminationLog = path.join(dir, 'termination-log');
    const r = await runRestore(cliEnv({ replicaUrl, dbPath: path.join(dir, 'app.db'), terminationLog, ...(Object.keys(env).length ? { s3: env } : {}) }));
    assertExit(r, 66);
    assert.match(await readTerminationLog(terminationLog), pattern, replicaUrl);
  }
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
  // A mistyped prefix would look the same: the other app beside it is named in the log and the marker.
  assert.deepEqual(marker.warnings, ['no backup found; beside it in s3://backups/: other-app/']);
  assert.match(String(r.logs.find((l) => l.event === 'first-boot')?.msg), /beside it in s3:\/\/backups\/: other-app\/; allowed as a first boot/);
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
