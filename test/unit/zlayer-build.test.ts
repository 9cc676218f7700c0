// Building zlayer plans (src/build.ts through src/layout/zlayer/) from file
// replicas made like the crate makes them: a real WAL-mode database whose main
// file and whole -wal file are copied at chosen moments and zstd-compressed.
// Each WAL copy is read leniently (committed frames with valid checksums only)
// and must continue the snapshot (change counter); detection and
// SQLITE_RESTORE_LAYOUT=zlayer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildDatabase, type BuildResult } from '../../src/apply/build.js';
import { loadConfig } from '../../src/config.js';
import { ConfigError, CorruptBackupError } from '../../src/errors.js';
import { autoLayout, layoutByName } from '../../src/layout/detect.js';
import type { RestorePlan } from '../../src/layout/layout.js';
import { readMetadata, zlayer, ZLAYER_PREFIXES } from '../../src/layout/zlayer/index.js';
import { planZlayer } from '../../src/layout/zlayer/plan.js';
import { collectListing, isIrregular } from '../../src/store/store.js';
import { FileStore } from '../../src/store/file.js';
import { logicalDigest, type DbDigest } from '../support/digest.js';
import { makeTempDir, removeDir } from '../support/paths.js';
import { FileStore as ReplicaFiles } from '../support/replica.js';
import { crateSnapshotKey, digestOfFile, SourceDb, ZlayerWriter, zstdCompress } from '../support/zlayer.js';

let work: string;
let counter = 0;
const signal = new AbortController().signal;
const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);
const at = (seconds: number) => new Date(T0 + seconds * 1000);

before(async () => {
  work = await makeTempDir('unit-zlayer-build');
});

after(async () => {
  if (work) await removeDir(work);
});

async function fresh(name: string): Promise<string> {
  counter += 1;
  const dir = path.join(work, `${name}-${counter}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

function source(dir: string, pageSize?: number): SourceDb {
  const db = new SourceDb(path.join(dir, 'source.db'), pageSize);
  db.insert(400, 'base');
  db.checkpoint('TRUNCATE');
  return db;
}

/** A file replica holding one snapshot (uploaded at 10 s) and WAL copies uploaded later, in order. */
async function replica(dir: string, snapshot: Buffer, wals: Buffer[], metadata = true): Promise<string> {
  const root = path.join(dir, 'replica');
  const writer = new ZlayerWriter(new ReplicaFiles(root), 'sqlite-replication/', root);
  const key = await writer.putSnapshot(snapshot, at(9), at(10));
  if (metadata) await writer.putMetadata(key, 1, at(11));
  for (const [i, wal] of wals.entries()) await writer.putWal(wal, at(20 + i), 1000 + i);
  return root;
}

async function build(root: string, plan: RestorePlan): Promise<{ result: BuildResult; digest: DbDigest }> {
  const file = path.join(root, `..`, `out-${++counter}.db`);
  const result = await buildDatabase({
    store: new FileStore(root),
    plan,
    dbTempPath: file,
    spillPath: `${file}.spill`,
    concurrency: 4,
    signal,
    onBytes: () => undefined,
  });
  return { result, digest: logicalDigest(file) };
}

/** The layout's plan; without `evidence`, the plan from the listing alone (the copies uploaded after the snapshot). */
async function planOf(root: string, evidence = true): Promise<RestorePlan> {
  const store = new FileStore(root);
  const entries = await collectListing(store, ZLAYER_PREFIXES, signal);
  const plan = evidence ? await zlayer.plan(store, signal) : planZlayer(entries, await readMetadata(store, entries, signal));
  assert.ok(plan, 'expected a plan');
  return plan;
}

test('snapshot + a later copy of the same -wal: the source exactly as it was when the WAL was copied', async () => {
  const dir = await fresh('normal');
  const db = source(dir);
  db.insert(300, 't1');
  db.churn('t2');
  // Part of the WAL is in the main file too (applying it again is harmless); a
  // reader keeps the next write from restarting the WAL.
  const endRead = db.holdReader();
  db.checkpoint('PASSIVE');
  db.insert(50, 't3');
  endRead();
  const snapshot = db.mainFile();
  db.churn('t4');
  db.insert(200, 't5');
  const wal = db.walFile();
  const expected = db.digest();
  db.insert(10, 'later'); // not in any copy
  db.close();

  const root = await replica(dir, snapshot, [wal]);
  const plan = await planOf(root);
  assert.equal(plan.source.wal, 'wal/00000000000000001000.wal.zst');
  // The copy was uploaded 10 s after the snapshot and nothing after it: the writer never flushed.
  assert.deepEqual(plan.warnings, [
    'the newest upload is WAL copy wal/00000000000000001000.wal.zst at 2026-03-01T12:00:20.000Z, 10 s after the newest snapshot: the replicator stopped without flush() (or is still running), and commits made after that upload, if any, are not in the bucket',
  ]);
  const { result, digest } = await build(root, plan);
  assert.deepEqual(digest, expected);
  assert.equal(result.transactions, 5);
  assert.equal((result.details.position as { offset: number } | undefined)?.offset, wal.length, 'the whole copy was committed');
  // The fallback is the snapshot alone: the main file as it was copied.
  const alone = plan.fallbacks?.at(-1);
  assert.ok(alone);
  assert.deepEqual((await build(root, alone)).digest, digestOfFile(snapshot, dir, 'snapshot'));
});

test('lenient reading: a torn last frame drops its transaction; frames left from before a WAL restart are ignored', async () => {
  const dir = await fresh('lenient');
  const db = source(dir);
  const snapshot = db.mainFile();
  db.insert(300, 't1');
  const afterT1 = db.digest();
  db.insert(20, 't2');
  const torn = db.walFile();
  const root = await replica(dir, snapshot, [torn.subarray(0, torn.length - 100)]);
  const { result, digest } = await build(root, await planOf(root));
  assert.deepEqual(digest, afterT1, 'the torn transaction is not applied');
  assert.equal(result.transactions, 1);

  // Everything checkpointed: the next write restarts the WAL at its start with new salts,
  // leaving the older, longer generation's frames behind it in the file (as the crate copies it).
  db.checkpoint('PASSIVE');
  const snapshot2 = db.mainFile();
  db.insert(3, 't3');
  const restarted = db.walFile();
  assert.equal(restarted.length, torn.length, 'the -wal file is not shrunk by a restart');
  const expected = db.digest();
  db.close();
  const root2 = await replica(await fresh('restarted'), snapshot2, [restarted]);
  const built = await build(root2, await planOf(root2));
  assert.deepEqual(built.digest, expected);
  assert.equal(built.result.transactions, 1);
  assert.ok(((built.result.details.position as { offset: number } | undefined)?.offset ?? 0) < restarted.length);
});

test('a WAL copy older than the snapshot is refused: by the plan (the snapshot holds part of it), and by the change counter', async () => {
  const dir = await fresh('rollback');
  const db = source(dir);
  db.insert(300, 't1');
  const old = db.walFile(); // first generation
  db.checkpoint('PASSIVE');
  db.insert(300, 't2'); // restarts the WAL; grows the file, so page 1 changes
  db.checkpoint('PASSIVE');
  const snapshot = db.mainFile();
  db.close();
  const root = await replica(dir, snapshot, [old]);
  // The evidence: the snapshot already holds the newest version of some of the pages the copy writes.
  const plan = await planOf(root);
  assert.equal(plan.source.wal, 'none');
  assert.ok(
    plan.warnings.some((w) => /^WAL copy wal\/00000000000000001000\.wal\.zst \(\d+ committed frames, uploaded .*\) was left out: uploaded after snapshot .* the snapshot already holds the newest version of \d+ of the \d+ pages it writes/.test(w)),
    plan.warnings.join('\n'),
  );
  assert.deepEqual((await build(root, plan)).digest, digestOfFile(snapshot, dir, 'snapshot'));
  // Without that evidence (the plan of the copies uploaded after the snapshot), the build refuses it.
  await assert.rejects(build(root, await planOf(root, false)), (err: unknown) => {
    assert.ok(err instanceof CorruptBackupError, String(err));
    assert.match(err.message, /^wal\/00000000000000001000\.wal\.zst does not continue the snapshot: it would roll the database header back from change counter \d+ \(snapshot\) to \d+/);
    return true;
  });
});

test('a WAL copy of a generation that started after the snapshot is refused (commits in between are missing)', async () => {
  const dir = await fresh('gap');
  const db = source(dir);
  const snapshot = db.mainFile();
  db.insert(300, 't1');
  db.checkpoint('TRUNCATE'); // t1 is now only in the main file, after the snapshot
  db.insert(300, 't2');
  const later = db.walFile();
  db.close();
  const root = await replica(dir, snapshot, [later]);
  await assert.rejects(build(root, await planOf(root)), /does not continue the snapshot: its first page-1 write has change counter \d+ but the snapshot is at \d+: commits between the two are in neither/);
});

test('a WAL copy with nothing committed, or with another page size, is refused', async () => {
  const dir = await fresh('refused');
  const db = source(dir);
  const snapshot = db.mainFile();
  db.insert(100, 't1');
  const wal = db.walFile();
  db.close();
  const flipped = Buffer.from(wal);
  flipped[32 + 24 + 100]! ^= 0xff; // first frame's page: its checksum no longer matches
  for (const copy of [flipped, wal.subarray(0, 32)]) {
    const root = await replica(await fresh('nothing'), snapshot, [copy]);
    await assert.rejects(build(root, await planOf(root)), /wal\/00000000000000001000\.wal\.zst: WAL holds no committed transaction with valid checksums/);
  }
  const root = await replica(await fresh('garbage'), snapshot, [Buffer.from('not a wal at all, not a wal at all!')]);
  await assert.rejects(build(root, await planOf(root)), /not a SQLite WAL/);

  const other = source(await fresh('other'), 8192);
  other.insert(10, 'x');
  const root2 = await replica(await fresh('pagesize'), snapshot, [other.walFile()]);
  other.close();
  await assert.rejects(build(root2, await planOf(root2)), /WAL page size 8192 differs from the snapshot's 4096/);
});

test('a snapshot that is not zstd, or not a database, fails the build', async () => {
  const dir = await fresh('badsnap');
  const root = path.join(dir, 'replica');
  await mkdir(path.join(root, 'snapshots'), { recursive: true });
  await writeFile(path.join(root, crateSnapshotKey(at(0))), 'SQLite format 3\0 but not compressed');
  await assert.rejects(build(root, await planOf(root)), /snapshots\/20260301_120000\.sqlite\.zst: zstd: not a zstd frame at offset 0/);
  await writeFile(path.join(root, crateSnapshotKey(at(0))), zstdCompress(Buffer.alloc(8192, 7)));
  await assert.rejects(build(root, await planOf(root)), /snapshots\/20260301_120000\.sqlite\.zst: snapshot is not a SQLite database/);
});

test('detection finds the zlayer layout; SQLITE_RESTORE_LAYOUT=zlayer names it', async () => {
  const dir = await fresh('detect');
  const db = source(dir);
  const root = await replica(dir, db.mainFile(), []);
  db.close();
  const plan = await autoLayout.plan(new FileStore(root), signal);
  assert.equal(plan?.layout, 'zlayer');
  assert.equal(plan?.source.wal, 'none');
  assert.equal((await layoutByName('zlayer').plan(new FileStore(root), signal))?.layout, 'zlayer');

  const onlyMetadata = path.join(await fresh('meta'), 'replica');
  await mkdir(onlyMetadata, { recursive: true });
  await writeFile(path.join(onlyMetadata, 'metadata.json'), '{"latest_snapshot": null, "snapshot_count": 0}');
  await assert.rejects(autoLayout.plan(new FileStore(onlyMetadata), signal), /the zlayer replica holds metadata\.json but no snapshot/);

  await mkdir(path.join(root, 'generations', '0123456789abcdef', 'wal'), { recursive: true });
  await writeFile(path.join(root, 'generations', '0123456789abcdef', 'wal', '00000000_00000000.wal.lz4'), 'x');
  await assert.rejects(autoLayout.plan(new FileStore(root), signal), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.match(err.message, /litestream-v0\.3 \(generations\/\) and zlayer \(snapshots\/, metadata\.json\)/);
    return true;
  });

  const env = { SQLITE_RESTORE_REPLICA_URL: 's3://bucket/sqlite-replication/', SQLITE_RESTORE_DB_PATH: '/data/app.db' };
  assert.equal(loadConfig({ ...env, SQLITE_RESTORE_LAYOUT: 'zlayer' }).layout, 'zlayer');
  assert.equal(loadConfig(env).replica.kind === 's3' && loadConfig(env).replica.url, 's3://bucket/sqlite-replication');
});

test('list shows what the replica holds', async () => {
  const dir = await fresh('list');
  const db = source(dir);
  const snapshot = db.mainFile();
  db.insert(10, 'x');
  const root = await replica(dir, snapshot, [db.walFile()], false);
  db.close();
  const listing = await zlayer.list(new FileStore(root), signal);
  assert.equal(listing.layout, 'zlayer');
  assert.deepEqual(listing.tables.map((t) => t.rows.length), [1, 1]);
  assert.ok(listing.notes.includes('metadata.json is missing'));
});

/** A replica where `wal` was uploaded (at 5 s) before the snapshot (taken at 9 s, uploaded at 10 s). */
async function replicaCopyFirst(dir: string, name: string, snapshot: Buffer, wal: Buffer): Promise<string> {
  const root = path.join(dir, name);
  const writer = new ZlayerWriter(new ReplicaFiles(root), 'sqlite-replication/', root);
  await writer.putWal(wal, at(5), 1000);
  const key = await writer.putSnapshot(snapshot, at(9), at(10));
  await writer.putMetadata(key, 1, at(11));
  return root;
}

test('counter-example: a copy uploaded before the snapshot may continue it or be older; the bucket cannot tell, so it is left out', async () => {
  const dir = await fresh('counter-example');
  const db = source(dir); // ends with a TRUNCATE: the main file holds everything
  const snapshotA = db.mainFile();
  const set = (v: string) => db.db.prepare("INSERT INTO kv (k, v) VALUES ('x', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v").run(v);
  set('v1'); // a new WAL generation: one commit rewriting one page
  const copy = db.walFile();
  const atCopy = db.digest();
  set('v2'); // rewrites that same page
  db.checkpoint('PASSIVE'); // ...and puts it into the main file
  const snapshotB = db.mainFile();
  const atB = db.digest();
  db.close();

  // A: the snapshot was taken before the copy's commit (the copy continues it).
  // B: the snapshot was taken after a later commit that rewrote every page the copy writes (the copy is older).
  // The bucket looks the same: one snapshot, one copy of the next generation uploaded before it, and the
  // snapshot holds none of the copy's page versions. Neither has an older snapshot to prove anything with.
  const rootA = await replicaCopyFirst(dir, 'a', snapshotA, copy);
  const rootB = await replicaCopyFirst(dir, 'b', snapshotB, copy);
  for (const [root, snapshot] of [[rootA, snapshotA], [rootB, snapshotB]] as const) {
    const plan = await planOf(root);
    assert.equal(plan.source.wal, 'none', 'the copy is left out');
    assert.ok(
      plan.warnings.some((w) => /^WAL copy wal\/00000000000000001000\.wal\.zst \(1 committed frame, uploaded .*\) was left out: it was uploaded before snapshot .* nothing in the bucket proves it continues the snapshot rather than predates it/.test(w)),
      plan.warnings.join('\n'),
    );
    assert.deepEqual((await build(root, plan)).digest, digestOfFile(snapshot, dir, path.basename(root)), 'the snapshot alone');
  }
  // What applying it would do: right in A, a roll-back in B (v2 back to v1) that integrity_check cannot see.
  const withCopy = async (root: string) => {
    const plan = await planOf(root);
    const store = new FileStore(root);
    const entries = await collectListing(store, ZLAYER_PREFIXES, signal);
    const object = entries.find((e) => e.key === 'wal/00000000000000001000.wal.zst');
    assert.ok(object && !isIrregular(object));
    return build(root, { ...plan, steps: [...plan.steps, { kind: 'wal', object, compression: 'zstd', walIndex: 0, offset: 0 }] });
  };
  assert.deepEqual((await withCopy(rootA)).digest, atCopy, 'A: the copy continues the snapshot');
  const rolledBack = (await withCopy(rootB)).digest;
  assert.notDeepEqual(rolledBack, atB, 'B: applying the copy loses the later commit');
  assert.deepEqual(rolledBack, atCopy, 'B: ...and gives the older state, v1 instead of v2');
});
