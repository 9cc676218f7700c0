// What is already at the target path decides what happens by default
// (SQLITE_RESTORE_IF_EXISTS=skip): a valid database is kept byte for byte
// ("skipped", its marker saying what was checked and which restore put the
// database there); a 0-byte file is not a database and is replaced by a real restore.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeSmallBackup, type SourceBackup } from '../support/backup.js';
import { createBucket, s3Env, startMinio, type Minio } from '../support/minio.js';
import { makeTempDir, removeDir } from '../support/paths.js';
import { cliEnv, readMarker, runRestore } from '../support/run-cli.js';
import { writeSmallDb } from '../support/workload.js';
import { assertExit, assertFileBytes, assertJsonLogs, assertNoLeftovers, assertSameDatabase } from '../support/assertions.js';

let minio: Minio;
let work: string;
let backup: SourceBackup;

before(
  async () => {
    minio = await startMinio();
    work = await makeTempDir('e2e-existing');
    await createBucket(minio, 'backups');
    backup = await makeSmallBackup(work, [{ type: 's3', s3: minio, bucket: 'backups', path: 'db' }]);
  },
  { timeout: 120_000 },
);

after(async () => {
  await minio?.stop();
  if (work) await removeDir(work);
});

test('a valid existing database is kept (outcome "skipped", file unchanged)', { timeout: 120_000 }, async () => {
  const dir = path.join(work, 'valid');
  await mkdir(dir);
  const dbPath = path.join(dir, 'app.db');
  writeSmallDb(dbPath);
  const before = await readFile(dbPath);
  const r = await runRestore(
    cliEnv({ replicaUrl: 's3://backups/db', dbPath, terminationLog: path.join(dir, 'termination-log'), s3: s3Env(minio) }),
  );
  assertExit(r, 0);
  assertJsonLogs(r);
  await assertFileBytes(dbPath, before, 'skip must not modify the database');
  const marker = await readMarker(`${dbPath}.restore.json`);
  assert.equal(marker.outcome, 'skipped');
  assert.equal(marker.database, dbPath);
  await assertNoLeftovers(dir);
});

test('a 0-byte file at the target path is replaced by a real restore', { timeout: 120_000 }, async () => {
  const dir = path.join(work, 'empty-file');
  await mkdir(dir);
  const dbPath = path.join(dir, 'app.db');
  await writeFile(dbPath, Buffer.alloc(0));
  const r = await runRestore(
    cliEnv({ replicaUrl: 's3://backups/db', dbPath, terminationLog: path.join(dir, 'termination-log'), s3: s3Env(minio) }),
  );
  assertExit(r, 0);
  assertJsonLogs(r);
  await assertNoLeftovers(dir);
  assertSameDatabase(dbPath, backup.digest);
  const marker = await readMarker(`${dbPath}.restore.json`);
  assert.equal(marker.outcome, 'restored');
});

test('a skipped run keeps the provenance of the restore before it and says which checks it ran', { timeout: 120_000 }, async () => {
  const dir = path.join(work, 'provenance');
  await mkdir(dir);
  const dbPath = path.join(dir, 'app.db');
  const env = cliEnv({ replicaUrl: 's3://backups/db', dbPath, terminationLog: path.join(dir, 'termination-log'), s3: s3Env(minio) });
  assertExit(await runRestore(env), 0);
  const restored = await readMarker(`${dbPath}.restore.json`);
  assert.equal(restored.schemaVersion, 1);
  assert.equal(restored.outcome, 'restored');
  assert.equal(restored.verify, 'quick');
  assert.ok(restored.backupTime && restored.sha256);

  // Twice: the second skipped run carries what the first skipped one carried.
  for (let run = 0; run < 2; run += 1) {
    const r = await runRestore(env);
    assertExit(r, 0);
    const skipped = await readMarker(`${dbPath}.restore.json`);
    assert.equal(skipped.schemaVersion, 1);
    assert.equal(skipped.outcome, 'skipped');
    assert.deepEqual(skipped.checks, ['header']);
    assert.equal(skipped.verify, undefined, 'no verification ran');
    assert.equal(skipped.sha256, undefined, 'this run hashed nothing');
    assert.deepEqual(skipped.restoredBy, {
      time: restored.time,
      replica: restored.replica,
      source: restored.source,
      backupTime: restored.backupTime,
      bytes: restored.bytes,
      sha256: restored.sha256,
      verify: restored.verify,
      tool: restored.tool,
    });
  }

  // A marker that is not ours (another database's, or not JSON) is not taken for provenance.
  await writeFile(`${dbPath}.restore.json`, JSON.stringify({ ...restored, database: '/elsewhere/app.db' }));
  assertExit(await runRestore(env), 0);
  assert.equal((await readMarker(`${dbPath}.restore.json`)).restoredBy, undefined);
  await writeFile(`${dbPath}.restore.json`, 'not json');
  assertExit(await runRestore(env), 0);
  assert.equal((await readMarker(`${dbPath}.restore.json`)).restoredBy, undefined);
});
