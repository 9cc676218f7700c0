// An in-place Litestream upgrade (0.3.13, then 0.5.18 on the same database and
// replica path) leaves both layouts in the replica; a downgrade adds v0.3 data
// again. Under SQLITE_RESTORE_LAYOUT=auto the restore picks whichever was
// written last (as Litestream 0.5 does), says which and why, and `list` shows
// both. Real Litestream binaries, MinIO, SQLite.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { assertExit, assertJsonLogs, assertSameDatabase } from '../support/assertions.js';
import { logicalDigest, type DbDigest } from '../support/digest.js';
import { startReplication, type Replication } from '../support/litestream.js';
import { startReplicationV5 } from '../support/litestream-v5.js';
import { createBucket, s3Env, startMinio, type Minio } from '../support/minio.js';
import { makeTempDir, removeDir } from '../support/paths.js';
import { sleep } from '../support/process.js';
import { explain, readMarker, restoreInto, runCli, type RestoreIntoResult } from '../support/run-cli.js';
import { openSource, prefill, type Db } from '../support/workload.js';

const bucket = 'backups';
const prefix = 'apps/upgraded';
let minio: Minio;
let work: string;

before(
  async () => {
    minio = await startMinio();
    work = await makeTempDir('e2e-litestream-upgrade');
    await createBucket(minio, bucket);
  },
  { timeout: 60_000 },
);

after(async () => {
  await minio?.stop();
  if (work) await removeDir(work);
});

/** A few committed transactions while `replication` runs, then its final sync; returns the source's state. */
async function writeWhile(db: Db, dbPath: string, replication: Replication, tag: string): Promise<DbDigest> {
  try {
    for (let i = 0; i < 20; i += 1) {
      db.prepare('INSERT INTO kv (k, v) VALUES (?, ?)').run(`${tag}:${i}`, 'x'.repeat(2_000));
      if (i % 5 === 0) db.prepare('UPDATE items SET qty = qty + 1 WHERE id % 7 = ?').run(i % 7);
      await sleep(100);
    }
    await replication.stopAndFlush(800);
  } catch (err) {
    await replication.kill();
    throw err;
  }
  return logicalDigest(dbPath);
}

const replicaUrl = `s3://${bucket}/${prefix}`;

function restore(name: string, extra: Record<string, string> = {}): Promise<RestoreIntoResult> {
  return restoreInto(path.join(work, 'restores', name), replicaUrl, { s3: s3Env(minio), extra: { SQLITE_RESTORE_VERIFY: 'full', ...extra } });
}

/** The layout the run restored, as its marker records it. */
async function restoredLayout(markerPath: string): Promise<unknown> {
  return ((await readMarker(markerPath)).source as unknown as Record<string, unknown>).layout;
}

test('Litestream 0.3.13 then 0.5.18 on one replica path (and back): auto restores the newer, says why; list shows both', { timeout: 600_000 }, async (t) => {
  const dir = path.join(work, 'source');
  await mkdir(dir, { recursive: true });
  const dbPath = path.join(dir, 'source.db');
  const s3 = { s3: minio, bucket, path: prefix };
  const db = openSource(dbPath);
  let v3State: DbDigest;
  let v5State: DbDigest;
  let betweenUpgrade: string;
  try {
    prefill(db, 2_000, 1);
    v3State = await writeWhile(db, dbPath, await startReplication({ dbPath, replicas: [{ type: 's3', ...s3 }] }), 'v3');
    await sleep(1_500);
    betweenUpgrade = new Date().toISOString();
    await sleep(1_500);
    v5State = await writeWhile(db, dbPath, await startReplicationV5({ version: '0.5.18', dbPath, replica: { type: 's3', ...s3 } }), 'v5');
  } catch (err) {
    db.close();
    throw err;
  }
  assert.notEqual(v3State.sha256, v5State.sha256, 'the upgrade phase must change the database');

  await t.test('after the upgrade: the v0.5 state, with a log line saying why', async () => {
    const { r, target, markerPath } = await restore('upgraded');
    assertExit(r, 0);
    assertJsonLogs(r);
    assertSameDatabase(target, v5State);
    assert.equal(await restoredLayout(markerPath), 'litestream-v0.5');
    const choice = r.logs.find((l) => l.event === 'choice');
    assert.match(
      String(choice?.msg),
      /^the replica holds litestream-v0\.3 \(generations\/\) and litestream-v0\.5 \(.*\) \(as an upgrade leaves behind\); restoring litestream-v0\.5 \(written .*\), newer than litestream-v0\.3 \(written .*\)$/,
      explain(r),
    );
  });

  await t.test('the older v0.3 state is still there for whoever names it', async () => {
    const { r, target } = await restore('named-v3', { SQLITE_RESTORE_LAYOUT: 'litestream-v0.3' });
    assertExit(r, 0);
    assertSameDatabase(target, v3State);
  });

  await t.test('a time before the upgrade: only v0.3 reaches it, and is chosen', async () => {
    const { r, target, markerPath } = await restore('before-upgrade', { SQLITE_RESTORE_TARGET_TIME: betweenUpgrade, SQLITE_RESTORE_TARGET_MATCH: 'at-or-before' });
    assertExit(r, 0);
    assertSameDatabase(target, v3State);
    assert.equal(await restoredLayout(markerPath), 'litestream-v0.3');
    assert.match(String(r.logs.find((l) => l.event === 'choice')?.msg), /restoring litestream-v0\.3, the only one that reaches the target \(litestream-v0\.5 does not\)/, explain(r));
  });

  await t.test('list shows both layouts', async () => {
    const r = await runCli(['list', '--json'], { SQLITE_RESTORE_REPLICA_URL: replicaUrl, SQLITE_RESTORE_TERMINATION_LOG: path.join(work, 'tl-list'), ...s3Env(minio) });
    assertExit(r, 0);
    const listing = JSON.parse(r.stdout) as { layouts: Array<{ layout: string }>; notes: string[] };
    assert.deepEqual(listing.layouts.map((l) => l.layout), ['litestream-v0.3', 'litestream-v0.5'], r.stdout);
    assert.ok(listing.notes.some((n) => n.includes('a restore uses the one written last')), r.stdout);
  });

  await t.test('after a downgrade back to 0.3.13: the newer v0.3 state', async () => {
    let downgraded: DbDigest;
    try {
      await sleep(1_200);
      downgraded = await writeWhile(db, dbPath, await startReplication({ dbPath, replicas: [{ type: 's3', ...s3 }] }), 'v3-again');
    } finally {
      db.close();
    }
    const { r, target, markerPath } = await restore('downgraded');
    assertExit(r, 0);
    assertSameDatabase(target, downgraded);
    assert.equal(await restoredLayout(markerPath), 'litestream-v0.3');
    assert.match(String(r.logs.find((l) => l.event === 'choice')?.msg), /restoring litestream-v0\.3 \(written .*\), newer than litestream-v0\.5/, explain(r));
  });
});
