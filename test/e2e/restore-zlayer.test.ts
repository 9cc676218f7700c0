// Replicas in the zlayer-storage crate's layout, in MinIO and in a file
// replica, made the way the crate makes them (test/support/zlayer.ts: a real
// WAL-mode database, its main file and whole -wal file copied at chosen
// moments, each one zstd frame under the crate's key names; "written after"
// is S3 LastModified, whole seconds, so uploads are spaced by phases). Every
// case gives the documented safe result:
//   1. snapshot + newer WAL copies: the newest one is applied; the database is
//      the source exactly as it was when that copy was taken;
//   2. a WAL copy from an older generation, from another database, or one
//      that skips commits after the snapshot: not applied; the next candidate
//      or the snapshot alone, with warnings in the log and the marker;
//   3. a snapshot newer than every WAL copy: the snapshot alone, with a warning;
//   4. no metadata.json: still restored, with a warning;
//   5. a snapshot that fails verification even alone: exit 65, nothing published.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { assertExit, assertJsonLogs, assertNoLeftovers, assertSameDatabase } from '../support/assertions.js';
import type { DbDigest } from '../support/digest.js';
import { createBucket, s3Client, s3Env, startMinio, type Minio } from '../support/minio.js';
import { makeTempDir, removeDir } from '../support/paths.js';
import { sleep } from '../support/process.js';
import { FileStore, S3Store } from '../support/replica.js';
import { readTerminationLog, restoreInto, type RestoreIntoResult, type RunResult } from '../support/run-cli.js';
import { crateFrameCount, crateSnapshotKey, crateWalKey, digestOfFile, SourceDb, ZlayerWriter } from '../support/zlayer.js';

const bucket = 'backups';
let minio: Minio;
let work: string;

/** Copies of the source at chosen moments, and what each holds. */
interface Fixture {
  snapOld: Buffer; // main file before anything below: an older snapshot
  walA: Buffer; // -wal after t1 (first generation)
  walB: Buffer; // after t2
  snap1: Buffer; // main file while the -wal holds t1, t2
  walC: Buffer; // after t3, still the first generation
  walD: Buffer; // second generation (after a full checkpoint), t4
  snap2: Buffer; // main file after t4 was checkpointed
  foreign: Buffer; // -wal of another database, 8 KiB pages
  base: DbDigest; // what snap1 alone holds
  atC: DbDigest; // the source when walC was taken
  atD: DbDigest; // the source when walD / snap2 were taken
}

let fx: Fixture;

function makeFixture(dir: string): Fixture {
  const db = new SourceDb(path.join(dir, 'source.db'));
  db.insert(1500, 'base');
  db.churn('base');
  db.checkpoint('TRUNCATE');
  const snapOld = db.mainFile();
  const base = db.digest();
  db.insert(500, 't1');
  const walA = db.walFile();
  db.churn('t2');
  const walB = db.walFile();
  const snap1 = db.mainFile();
  db.insert(300, 't3');
  const walC = db.walFile();
  const atC = db.digest();
  db.checkpoint('TRUNCATE');
  db.insert(400, 't4');
  const walD = db.walFile();
  const atD = db.digest();
  db.checkpoint('PASSIVE');
  const snap2 = db.mainFile();
  db.insert(10, 'never copied');
  db.close();

  const other = new SourceDb(path.join(dir, 'other.db'), 8192);
  other.insert(50, 'other');
  const foreign = other.walFile();
  other.close();

  // The copies are what the scenarios need them to be.
  assert.deepEqual(digestOfFile(snap1, dir, 'snap1'), base, 'snap1 alone holds the base state (t1, t2 only in the WAL)');
  assert.deepEqual(digestOfFile(snap2, dir, 'snap2'), atD, 'snap2 holds t4');
  const keys = [walA, walB, walC, walD].map((w) => crateWalKey(crateFrameCount(w)));
  assert.equal(new Set(keys).size, 4, `distinct WAL keys: ${keys.join(' ')}`);
  return { snapOld, walA, walB, snap1, walC, walD, snap2, foreign, base, atC, atD };
}

before(
  async () => {
    minio = await startMinio();
    work = await makeTempDir('e2e-restore-zlayer');
    await createBucket(minio, bucket);
    fx = makeFixture(work);
  },
  { timeout: 60_000 },
);

after(async () => {
  await minio?.stop();
  if (work) await removeDir(work);
});

function s3Writer(prefix: string): ZlayerWriter {
  return new ZlayerWriter(new S3Store(s3Client(minio), bucket, prefix), `${prefix}/`);
}

function restoreTo(name: string, replicaUrl: string, extra: Record<string, string> = {}): Promise<RestoreIntoResult> {
  return restoreInto(path.join(work, 'restores', name), replicaUrl, {
    ...(replicaUrl.startsWith('s3://') ? { s3: s3Env(minio) } : {}),
    extra: extra,
  });
}

async function readMarkerJson(file: string): Promise<Record<string, unknown> & { source: Record<string, unknown>; warnings?: string[] }> {
  return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown> & { source: Record<string, unknown>; warnings?: string[] };
}

/** The warning that the newest upload is a WAL copy well after the snapshot (the fixtures never flush). */
const unflushed = (w: string) => /^the newest upload is WAL copy \S+ at \S+, \d+ s after the newest snapshot: the replicator stopped without flush\(\)/.test(w);
const otherWarnings = (warnings: string[] | undefined) => (warnings ?? []).filter((w) => !unflushed(w));

/** Warn-level log lines of one kind. */
function warnLines(r: RunResult, event: string): string[] {
  return r.logs.filter((l) => l.level === 'warn' && l.event === event).map((l) => String(l.msg));
}

test('zlayer-storage replicas restore to the documented safe result', { timeout: 300_000 }, async (t) => {
  // Each scenario has its own prefix; objects go up in phases at least a second apart.
  const keys: Record<string, string> = {};
  const phase = async (uploads: Array<Promise<unknown>>) => {
    await Promise.all(uploads);
    await sleep(1_100);
  };
  const normal = s3Writer('normal/sqlite-replication');
  const older = s3Writer('older-generation');
  const foreign = s3Writer('foreign-wal');
  const gap = s3Writer('newer-generation');
  const noWal = s3Writer('snapshot-newest');
  const noMeta = s3Writer('no-metadata');
  const broken = s3Writer('broken-snapshot');
  const now = () => new Date();

  // A: before the snapshots.
  await phase([
    normal.putSnapshot(fx.snapOld, new Date(Date.now() - 3_600_000)),
    normal.putWal(fx.walA),
    noWal.putWal(fx.walA),
    noWal.putWal(fx.walB),
  ]);
  // B: the snapshots (named after their upload time, as the crate does) and metadata.json.
  const snapshots = {
    normal: await normal.putSnapshot(fx.snap1, now()),
    older: await older.putSnapshot(fx.snap2, now()),
    foreign: await foreign.putSnapshot(fx.snap1, now()),
    gap: await gap.putSnapshot(fx.snap1, now()),
    noWal: await noWal.putSnapshot(fx.snap2, now()),
    noMeta: await noMeta.putSnapshot(fx.snap1, now()),
  };
  // A b-tree page of the snapshot zeroed: no WAL copy can make it valid.
  const damaged = Buffer.from(fx.snap1);
  damaged.fill(0, 2 * 4096, 3 * 4096);
  const brokenSnapshot = await broken.putSnapshot(damaged, now());
  await phase([
    normal.putMetadata(snapshots.normal, 2),
    older.putMetadata(snapshots.older, 1),
    foreign.putMetadata(snapshots.foreign, 1),
    gap.putMetadata(snapshots.gap, 1),
    noWal.putMetadata(snapshots.noWal, 1),
    broken.putMetadata(brokenSnapshot, 1),
  ]);
  // C: WAL copies written after the snapshots.
  await phase([
    normal.putWal(fx.walB),
    older.putWal(fx.walC).then((k) => (keys.olderWal = k)),
    foreign.putWal(fx.foreign).then((k) => (keys.foreignWal = k)),
    gap.putWal(fx.walC).then((k) => (keys.gapC = k)),
    noMeta.putWal(fx.walC).then((k) => (keys.noMetaWal = k)),
    broken.putWal(fx.foreign),
  ]);
  // D: the newest WAL copies.
  await Promise.all([normal.putWal(fx.walC).then((k) => (keys.normalWal = k)), gap.putWal(fx.walD).then((k) => (keys.gapD = k))]);

  await t.test('1. snapshot + newer WAL copies: the newest copy is applied, the source exactly as it was then', async () => {
    const { r, target, markerPath } = await restoreTo('normal', `s3://${bucket}/normal/sqlite-replication/`);
    assertExit(r, 0);
    assertJsonLogs(r);
    await assertNoLeftovers(path.dirname(target));
    assertSameDatabase(target, fx.atC);
    const marker = await readMarkerJson(markerPath);
    assert.equal(marker.outcome, 'restored');
    assert.equal(marker.verify, 'full', 'a WAL copy is only accepted by integrity_check');
    assert.deepEqual(
      { layout: marker.source.layout, snapshot: marker.source.snapshot, wal: marker.source.wal, walSequence: marker.source.walSequence },
      { layout: 'zlayer', snapshot: snapshots.normal, wal: keys.normalWal, walSequence: crateFrameCount(fx.walC) },
    );
    assert.ok(marker.warnings?.some(unflushed), 'the copies came after the snapshot and no snapshot after them: no flush');
    assert.deepEqual(otherWarnings(marker.warnings), [], `no other warnings: ${JSON.stringify(marker.warnings)}`);
    assert.deepEqual(warnLines(r, 'fallback'), []);
  });

  await t.test('2a. a WAL copy of an older generation, uploaded after the snapshot: not applied, snapshot alone, warnings', async () => {
    const { r, target, markerPath } = await restoreTo('older', `s3://${bucket}/older-generation`);
    assertExit(r, 0);
    assertSameDatabase(target, fx.atD);
    const marker = await readMarkerJson(markerPath);
    assert.equal(marker.source.snapshot, snapshots.older);
    assert.equal(marker.source.wal, 'none');
    // The snapshot already holds part of what the copy writes: it is at or past the copy, which is left
    // out before anything is built (without that evidence, the change counter refuses it: zlayer-build test).
    const warnings = otherWarnings(marker.warnings);
    assert.equal(warnings.length, 2, JSON.stringify(warnings));
    assert.match(
      warnings[0] ?? '',
      new RegExp(
        `^WAL copy ${keys.olderWal} \\(\\d+ committed frames, uploaded \\S+\\) was left out: uploaded after snapshot ${snapshots.older}, but the snapshot already holds the newest version of \\d+ of the \\d+ pages it writes, so the snapshot is at or past it`,
      ),
    );
    assert.match(warnings[1] ?? '', /^no WAL copy continues snapshot \S+: restored the snapshot alone/);
    assert.equal(warnLines(r, 'fallback').length, 0, 'nothing had to be built and rejected');
  });

  await t.test('2b. a WAL copy of another database (other page size): not applied, snapshot alone', async () => {
    const { r, target, markerPath } = await restoreTo('foreign', `s3://${bucket}/foreign-wal`);
    assertExit(r, 0);
    assertSameDatabase(target, fx.base);
    const marker = await readMarkerJson(markerPath);
    assert.equal(marker.source.wal, 'none');
    assert.match(marker.warnings?.[0] ?? '', new RegExp(`${keys.foreignWal}: WAL page size 8192 differs from the snapshot's 4096; falling back`));
  });

  await t.test('2c. the newest copy is of a WAL restarted after the snapshot: skipped for the next copy, which applies', async () => {
    const { r, target, markerPath } = await restoreTo('gap', `s3://${bucket}/newer-generation`);
    assertExit(r, 0);
    assertSameDatabase(target, fx.atC);
    const marker = await readMarkerJson(markerPath);
    assert.equal(marker.source.wal, keys.gapC);
    assert.deepEqual(otherWarnings(marker.warnings).length, 1, JSON.stringify(marker.warnings));
    assert.match(
      otherWarnings(marker.warnings)[0] ?? '',
      new RegExp(`^rejected snapshot \\S+ with WAL copy ${keys.gapD}: .*commits between the two are in neither .*; falling back to snapshot \\S+ with WAL copy ${keys.gapC}$`),
    );
  });

  await t.test('3. a snapshot newer than every WAL copy: the snapshot alone, with a warning', async () => {
    const { r, target, markerPath } = await restoreTo('snapshot-newest', `s3://${bucket}/snapshot-newest`);
    assertExit(r, 0);
    assertSameDatabase(target, fx.atD);
    const marker = await readMarkerJson(markerPath);
    assert.equal(marker.source.wal, 'none');
    assert.equal(marker.verify, 'quick', 'the snapshot alone gets the configured verification');
    // The two older copies are in the snapshot already (it holds their pages): nothing to warn about but this.
    assert.deepEqual(marker.warnings, [
      `no WAL copy continues snapshot ${snapshots.noWal}: restored the snapshot alone; transactions that were still only in the -wal file when it was taken are not in it`,
    ]);
  });

  await t.test('4. no metadata.json: still restored (SQLITE_RESTORE_LAYOUT=zlayer), with a warning', async () => {
    const { r, target, markerPath } = await restoreTo('no-metadata', `s3://${bucket}/no-metadata`, { SQLITE_RESTORE_LAYOUT: 'zlayer' });
    assertExit(r, 0);
    assertSameDatabase(target, fx.atC);
    const marker = await readMarkerJson(markerPath);
    assert.equal(marker.source.wal, keys.noMetaWal);
    assert.deepEqual(otherWarnings(marker.warnings), [
      `metadata.json is missing: the newest snapshot could not be cross-checked; restoring the newest one listed, ${snapshots.noMeta}`,
    ]);
    assert.deepEqual(warnLines(r, 'backup-warning'), marker.warnings);
  });

  await t.test('5. a snapshot that fails verification even alone: exit 65, nothing published', async () => {
    const { r, target, terminationLog } = await restoreTo('broken', `s3://${bucket}/broken-snapshot`);
    assertExit(r, 65);
    assert.match(await readTerminationLog(terminationLog), new RegExp(`^corrupt: ${brokenSnapshot}: restored database (failed quick_check|cannot be opened)`));
    assert.equal(warnLines(r, 'fallback').length, 1, 'the WAL candidate was tried first');
    await assert.rejects(stat(target), 'no database may appear');
    await assertNoLeftovers(path.dirname(target));
  });
});

test('a file replica (modification times order the copies) restores the newest applicable copy', async () => {
  const root = path.join(work, 'file-replica');
  const writer = new ZlayerWriter(new FileStore(root), '', root);
  const t0 = Date.now() - 600_000;
  const at = (s: number) => new Date(t0 + s * 1000);
  await writer.putWal(fx.walA, at(5));
  const snapshot = await writer.putSnapshot(fx.snap1, at(9), at(10));
  await writer.putMetadata(snapshot, 1, at(10));
  await writer.putWal(fx.walB, at(20));
  const newest = await writer.putWal(fx.walC, at(30));
  assert.equal(snapshot, crateSnapshotKey(at(9)));

  const { r, target, markerPath } = await restoreTo('file', `file://${root}`);
  assertExit(r, 0);
  assertSameDatabase(target, fx.atC);
  const marker = await readMarkerJson(markerPath);
  assert.deepEqual([marker.source.snapshot, marker.source.wal, otherWarnings(marker.warnings)], [snapshot, newest, []]);
});
