// Credentials the storage rejects exit 77 (not a retryable failure), with a
// one-line reason, and leave nothing behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { makeSmallBackup } from '../support/backup.js';
import { createBucket, s3Env, startMinio, type Minio } from '../support/minio.js';
import { makeTempDir, removeDir } from '../support/paths.js';
import { cliEnv, readTerminationLog, runRestore } from '../support/run-cli.js';
import { assertExit, assertJsonLogs } from '../support/assertions.js';

let minio: Minio;
let work: string;

before(
  async () => {
    minio = await startMinio();
    work = await makeTempDir('e2e-auth');
    await createBucket(minio, 'backups');
    await makeSmallBackup(work, [{ type: 's3', s3: minio, bucket: 'backups', path: 'db' }]);
  },
  { timeout: 120_000 },
);

after(async () => {
  await minio?.stop();
  if (work) await removeDir(work);
});

test('a wrong secret key → 77', { timeout: 120_000 }, async () => {
  const dir = path.join(work, 'restore');
  await mkdir(dir);
  const terminationLog = path.join(work, 'termination-log');
  const r = await runRestore(
    cliEnv({
      replicaUrl: 's3://backups/db',
      dbPath: path.join(dir, 'app.db'),
      terminationLog,
      s3: s3Env(minio, { secretKey: 'not-the-secret-key' }),
    }),
  );
  assertExit(r, 77);
  assertJsonLogs(r);
  assert.ok((await readTerminationLog(terminationLog)).length > 0);
  assert.deepEqual(await readdir(dir), [], 'nothing may be written to the target directory');
});
