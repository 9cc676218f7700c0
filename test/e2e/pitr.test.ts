// Point-in-time restores of backups written by the real Litestream v0.3.13
// and v0.5.18 to MinIO: the source is written in phases; after each phase the
// test waits until the replica holds it, then records the source's logical
// digest and the point (the newest object's time and the WAL index for v0.3,
// the TXID and the wall-clock time for v0.5). Restoring to that point must
// reproduce that digest; points the backups cannot reach exactly are exit 66
// unless SQLITE_RESTORE_TARGET_MATCH=at-or-before.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { TargetUnreachableError } from '../../src/errors.js';
import { parseLtxKey, txidHex } from '../../src/layout/ltx/keys.js';
import { planLtx } from '../../src/layout/ltx/plan.js';
import { assertExit, assertJsonLogs, assertMarkerSha256, assertNoLeftovers, assertSameDatabase } from '../support/assertions.js';
import { integrityCheck, logicalDigest, type DbDigest } from '../support/digest.js';
import { startReplication } from '../support/litestream.js';
import { startReplicationV5 } from '../support/litestream-v5.js';
import { createBucket, s3Client, s3Env, startMinio, type Minio } from '../support/minio.js';
import { makeTempDir, removeDir } from '../support/paths.js';
import { sleep } from '../support/process.js';
import { S3Store, type StoredObject } from '../support/replica.js';
import { cliEnv, readMarker, readTerminationLog, runRestore, type RunResult } from '../support/run-cli.js';
import { openSource, type Db } from '../support/workload.js';

const bucket = 'backups';
/** Litestream v0.3's own bookkeeping: it bumps _litestream_seq right after each checkpoint, in the next WAL index. */
const LITESTREAM_TABLES = ['_litestream_seq', '_litestream_lock'];
let minio: Minio;
let client: S3Client;
let work: string;

before(
  async () => {
    minio = await startMinio();
    client = s3Client(minio);
    work = await makeTempDir('e2e-pitr');
    await createBucket(minio, bucket);
  },
  { timeout: 60_000 },
);

after(async () => {
  client?.destroy();
  await minio?.stop();
  if (work) await removeDir(work);
});

const fingerprint = (objects: StoredObject[], keep: (key: string) => boolean) =>
  objects
    .filter((o) => keep(o.key))
    .map((o) => `${o.key}:${o.size}`)
    .sort()
    .join('\n');

/** Waits until the replica's objects (those `keep` selects) differ from `previous`, then stay unchanged for `quietMs`. */
async function settle(store: S3Store, previous: string, keep: (key: string) => boolean, quietMs: number): Promise<StoredObject[]> {
  const deadline = Date.now() + 60_000;
  let last = previous;
  let since = Date.now();
  for (;;) {
    const objects = await store.list();
    const fp = fingerprint(objects, keep);
    if (fp !== last) {
      last = fp;
      since = Date.now();
    } else if (fp !== previous && Date.now() - since >= quietMs) {
      return objects;
    }
    if (Date.now() > deadline) throw new Error(`the replica ${store.description} did not settle`);
    await sleep(100);
  }
}

/** One phase of writes: inserts (about 80 pages of incompressible data), an update and a marker row. */
function writePhase(db: Db, k: number, transactions = 1): void {
  const ins = db.prepare('INSERT INTO items (name, qty, price, note, data) VALUES (?, ?, ?, ?, ?)');
  for (let t = 0; t < transactions; t += 1) {
    db.transaction(() => {
      for (let i = 0; i < Math.ceil(300 / transactions); i += 1) ins.run(`phase-${k}-${t}-${i}`, k, i / 3, null, randomBytes(1000));
      db.prepare('UPDATE items SET qty = qty + 100 WHERE qty = ?').run(k - 1);
      db.prepare('INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v').run('phase', `${k}.${t}`);
    })();
  }
}

interface Restored {
  r: RunResult;
  target: string;
  markerPath: string;
  terminationLog: string;
}

let restores = 0;
async function restoreTo(replicaUrl: string, extra: Record<string, string>): Promise<Restored> {
  const dir = path.join(work, 'restores', String((restores += 1)));
  await mkdir(dir, { recursive: true });
  const target = path.join(dir, 'app.db');
  const markerPath = path.join(dir, 'marker.json');
  const terminationLog = path.join(dir, 'termination-log');
  const r = await runRestore(
    cliEnv({
      replicaUrl,
      dbPath: target,
      terminationLog,
      s3: s3Env(minio),
      extra: { SQLITE_RESTORE_VERIFY: 'full', SQLITE_RESTORE_MARKER_PATH: markerPath, ...extra },
    }),
  );
  return { r, target, markerPath, terminationLog };
}

async function expectRestored(replicaUrl: string, extra: Record<string, string>, expected: DbDigest, skipTables: string[] = []): Promise<Record<string, unknown>> {
  const { r, target, markerPath } = await restoreTo(replicaUrl, extra);
  assertExit(r, 0);
  assertJsonLogs(r);
  await assertNoLeftovers(path.dirname(target));
  if (skipTables.length === 0) {
    assertSameDatabase(target, expected);
  } else {
    assert.deepEqual(integrityCheck(target), ['ok']);
    const got = logicalDigest(target, { skipTables });
    assert.deepEqual(got.tables, expected.tables, `row counts for ${JSON.stringify(extra)}`);
    assert.equal(got.sha256, expected.sha256, `digest for ${JSON.stringify(extra)}`);
  }
  await assertMarkerSha256(r, markerPath, target);
  const marker = await readMarker(markerPath);
  return (marker as unknown as { target: Record<string, unknown> }).target;
}

async function expectUnreachable(replicaUrl: string, extra: Record<string, string>, pattern: RegExp): Promise<void> {
  const { r, target, terminationLog } = await restoreTo(replicaUrl, extra);
  assertExit(r, 66);
  const message = await readTerminationLog(terminationLog);
  assert.match(message, /^target-unreachable: /);
  assert.match(message, pattern);
  await assertNoLeftovers(path.dirname(target));
}

// ---------------------------------------------------------------------------

interface V3Capture {
  k: number;
  digest: DbDigest;
  /** The same without Litestream's own tables. */
  app: DbDigest;
  /** LastModified of the newest object once the replica held the phase. */
  newest: Date;
  maxIndex: number;
  segments: Map<number, string>;
}

const V3_KEY = /^generations\/([0-9a-f]{16})\/(snapshots|wal)\/([0-9a-f]{8})(?:_([0-9a-f]{8}))?\./;

function walSegments(objects: StoredObject[]): Map<number, string> {
  const byIndex = new Map<number, string[]>();
  for (const o of objects) {
    const m = V3_KEY.exec(o.key);
    if (!m || m[2] !== 'wal') continue;
    const index = parseInt(m[3] as string, 16);
    byIndex.set(index, [...(byIndex.get(index) ?? []), `${o.key}:${o.size}`]);
  }
  return new Map([...byIndex].map(([i, keys]) => [i, keys.sort().join(',')]));
}

test('Litestream 0.3.13 to MinIO: restores to object times and to generation + WAL index equal the source then', { timeout: 600_000 }, async (t) => {
  const prefix = 'pitr-v3';
  const url = `s3://${bucket}/${prefix}`;
  const dir = path.join(work, 'v3');
  await mkdir(dir, { recursive: true });
  const dbPath = path.join(dir, 'source.db');
  const store = new S3Store(client, bucket, prefix);
  const all = () => true;
  const captures: V3Capture[] = [];
  const db = openSource(dbPath);
  try {
    writePhase(db, 0);
    // Litestream checkpoints past 40 WAL pages: each phase (about 80 pages) closes its WAL index.
    const repl = await startReplication({
      dbPath,
      replicas: [{ type: 's3', s3: minio, bucket, path: prefix, snapshotInterval: '4s' }],
      minCheckpointPageCount: 40,
    });
    try {
      let objects = await settle(store, '', all, 1_500);
      for (let k = 1; k <= 4; k += 1) {
        // Uploads of this phase land in a later second than everything before (S3 times have 1 s resolution).
        await sleep(1_200);
        const previous = fingerprint(objects, all);
        writePhase(db, k);
        objects = await settle(store, previous, all, 1_500);
        const segments = walSegments(objects);
        captures.push({
          k,
          digest: logicalDigest(dbPath),
          app: logicalDigest(dbPath, { skipTables: LITESTREAM_TABLES }),
          newest: new Date(Math.max(...objects.map((o) => o.lastModified.getTime()))),
          maxIndex: Math.max(...segments.keys()),
          segments,
        });
      }
      await repl.stopAndFlush(500);
    } catch (err) {
      await repl.kill();
      throw err;
    }
  } finally {
    db.close();
  }
  const final = logicalDigest(dbPath);
  const finalObjects = await store.list();
  const generations = new Set(finalObjects.map((o) => V3_KEY.exec(o.key)?.[1]).filter((g) => g !== undefined));
  assert.equal(generations.size, 1, `one generation expected: ${[...generations].join(', ')}`);
  const generation = [...generations][0] as string;
  const finalSegments = walSegments(finalObjects);
  const snapshots = finalObjects.filter((o) => o.key.includes('/snapshots/')).sort((a, b) => a.lastModified.getTime() - b.lastModified.getTime());
  const lastTime = new Date(Math.max(...finalObjects.map((o) => o.lastModified.getTime())));
  console.log(
    `# v0.3: generation ${generation}, ${snapshots.length} snapshot(s), WAL indexes ${[...finalSegments.keys()].join(',')}; ` +
      captures.map((c) => `phase ${c.k}: ${c.newest.toISOString()} index ${c.maxIndex}`).join('; '),
  );
  assert.ok(new Set(captures.map((c) => c.digest.sha256)).size === captures.length, 'every phase changed the database');

  await t.test('a time equal to the newest object once a phase was backed up restores that phase exactly', async () => {
    for (const c of captures) {
      const target = await expectRestored(url, { SQLITE_RESTORE_TARGET_TIME: c.newest.toISOString() }, c.digest);
      assert.deepEqual(
        { kind: target.kind, time: target.time, match: target.match, generation: target.generation, reachedTime: target.reachedTime },
        { kind: 'time', time: c.newest.toISOString(), match: 'exact', generation, reachedTime: c.newest.toISOString() },
      );
    }
    // Within the same second, and just before the next phase's uploads, it is the same state.
    const c = captures[1] as V3Capture;
    await expectRestored(url, { SQLITE_RESTORE_TARGET_TIME: new Date(c.newest.getTime() + 999).toISOString() }, c.digest);
  });

  await t.test('generation + WAL index restores the database as its WAL index ended', async () => {
    // Each phase's WAL index is closed by Litestream's checkpoint, which then
    // bumps _litestream_seq as the first write of the next index: the end of
    // the index is the phase's data with the previous bookkeeping row.
    let tested = 0;
    for (const c of captures) {
      const index = c.maxIndex - 1;
      if (index < 0 || c.segments.get(index) !== finalSegments.get(index)) continue;
      const target = await expectRestored(
        url,
        { SQLITE_RESTORE_TARGET_GENERATION: generation, SQLITE_RESTORE_TARGET_INDEX: index.toString(16).padStart(8, '0') },
        c.app,
        LITESTREAM_TABLES,
      );
      assert.equal(target.reachedIndex, index.toString(16).padStart(8, '0'));
      tested += 1;
    }
    assert.ok(tested >= 2, `at least two phases ended a WAL index (tested ${tested})`);
    // The generation alone is its newest state.
    await expectRestored(url, { SQLITE_RESTORE_TARGET_GENERATION: generation }, final);
  });

  await t.test('after the last object: 66 unless at-or-before, which restores the newest state', async () => {
    const later = new Date(lastTime.getTime() + 10_000).toISOString();
    await expectUnreachable(url, { SQLITE_RESTORE_TARGET_TIME: later }, /is after the last object of generation .*SQLITE_RESTORE_TARGET_MATCH=at-or-before/);
    const target = await expectRestored(url, { SQLITE_RESTORE_TARGET_TIME: later, SQLITE_RESTORE_TARGET_MATCH: 'at-or-before' }, final);
    assert.equal(target.reachedTime, lastTime.toISOString());
    const beyond = (Math.max(...finalSegments.keys()) + 5).toString(16).padStart(8, '0');
    await expectUnreachable(url, { SQLITE_RESTORE_TARGET_GENERATION: generation, SQLITE_RESTORE_TARGET_INDEX: beyond }, new RegExp(`WAL index ${beyond} is not in the backup`));
    await expectRestored(url, { SQLITE_RESTORE_TARGET_GENERATION: generation, SQLITE_RESTORE_TARGET_INDEX: beyond, SQLITE_RESTORE_TARGET_MATCH: 'at-or-before' }, final);
  });

  await t.test('before the first snapshot, or an unknown generation: 66 whatever the match; a v0.5 target: 78', async () => {
    const early = new Date((snapshots[0] as StoredObject).lastModified.getTime() - 60_000).toISOString();
    for (const match of ['exact', 'at-or-before']) {
      await expectUnreachable(url, { SQLITE_RESTORE_TARGET_TIME: early, SQLITE_RESTORE_TARGET_MATCH: match }, /no snapshot at or before/);
      await expectUnreachable(url, { SQLITE_RESTORE_TARGET_GENERATION: '00000000deadbeef', SQLITE_RESTORE_TARGET_MATCH: match }, /generation 00000000deadbeef is not in the replica/);
    }
    const { r, terminationLog } = await restoreTo(url, { SQLITE_RESTORE_TARGET_TXID: '5' });
    assertExit(r, 78);
    assert.match(await readTerminationLog(terminationLog), /^config: the litestream-v0\.3 layout cannot restore to a target set by SQLITE_RESTORE_TARGET_TXID/);
  });
});

// ---------------------------------------------------------------------------

interface V5Capture {
  k: number;
  digest: DbDigest;
  txid: bigint;
  /** Wall-clock time once the replica held the phase. */
  time: Date;
}

const isL0 = (key: string) => parseLtxKey(key)?.level === 0;
const maxL0Txid = (objects: StoredObject[]) =>
  objects.reduce((m, o) => {
    const k = parseLtxKey(o.key);
    return k && k.level === 0 && k.maxTxid > m ? k.maxTxid : m;
  }, 0n);

test('Litestream 0.5.18 to MinIO: restores to TXIDs and times equal the source then; compacted points need at-or-before', { timeout: 600_000 }, async (t) => {
  const prefix = 'pitr-v5';
  const url = `s3://${bucket}/${prefix}`;
  const dir = path.join(work, 'v5');
  await mkdir(dir, { recursive: true });
  const dbPath = path.join(dir, 'source.db');
  const store = new S3Store(client, bucket, prefix);
  const captures: V5Capture[] = [];
  const db = openSource(dbPath);
  try {
    writePhase(db, 0);
    const repl = await startReplicationV5({ version: '0.5.18', dbPath, replica: { type: 's3', s3: minio, bucket, path: prefix }, snapshotInterval: '5s' });
    try {
      let objects = await settle(store, '', isL0, 1_000);
      for (let k = 1; k <= 5; k += 1) {
        // Idle time in which the 1 s compaction ends a level-1 file at this point.
        await sleep(1_200);
        const previous = fingerprint(objects, isL0);
        // Three transactions, each its own TXID (Litestream syncs every 100 ms).
        for (let i = 0; i < 3; i += 1) {
          writePhase(db, k * 10 + i, 1);
          await sleep(120);
        }
        objects = await settle(store, previous, isL0, 1_000);
        captures.push({ k, digest: logicalDigest(dbPath), txid: maxL0Txid(objects), time: new Date() });
      }
      await repl.stopAndFlush(500);
    } catch (err) {
      await repl.kill();
      throw err;
    }
  } finally {
    db.close();
  }
  const final = logicalDigest(dbPath);
  const finalObjects = await store.list();
  const lastTxid = finalObjects.reduce((m, o) => {
    const k = parseLtxKey(o.key);
    return k && k.maxTxid > m ? k.maxTxid : m;
  }, 0n);
  const levels = new Map<number, number>();
  for (const o of finalObjects) {
    const k = parseLtxKey(o.key);
    if (k) levels.set(k.level, (levels.get(k.level) ?? 0) + 1);
  }
  console.log(
    `# v0.5: files per level ${[...levels].map(([l, n]) => `L${l}:${n}`).join(' ')}, last TXID ${lastTxid}; ` +
      captures.map((c) => `phase ${c.k}: TXID ${c.txid} at ${c.time.toISOString()}`).join('; '),
  );
  assert.ok(captures.every((c, i) => i === 0 || c.txid > (captures[i - 1] as V5Capture).txid), 'every phase made new TXIDs');

  await t.test('TXID (decimal, 0x hex or 16 hex digits) restores that state exactly', async () => {
    for (const [i, c] of captures.entries()) {
      const forms = [c.txid.toString(), `0x${c.txid.toString(16)}`, txidHex(c.txid)];
      const target = await expectRestored(url, { SQLITE_RESTORE_TARGET_TXID: forms[i % 3] as string }, c.digest);
      assert.deepEqual(target, { kind: 'txid', txid: txidHex(c.txid), match: 'exact', reachedTxid: txidHex(c.txid) });
    }
  });

  await t.test('a time once a phase was backed up restores that phase exactly (the last one only at-or-before)', async () => {
    const last = captures[captures.length - 1] as V5Capture;
    for (const c of captures) {
      if (c === last) continue;
      const target = await expectRestored(url, { SQLITE_RESTORE_TARGET_TIME: c.time.toISOString() }, c.digest);
      assert.equal(target.reachedTxid, txidHex(c.txid));
      assert.equal(target.match, 'exact');
    }
    // Nothing was written after the last phase, but nothing in the backup says so either.
    await expectUnreachable(url, { SQLITE_RESTORE_TARGET_TIME: last.time.toISOString() }, new RegExp(`is after the newest backed-up transaction \\(TXID ${txidHex(last.txid)} from`));
    await expectRestored(url, { SQLITE_RESTORE_TARGET_TIME: last.time.toISOString(), SQLITE_RESTORE_TARGET_MATCH: 'at-or-before' }, last.digest);
  });

  await t.test('past the newest file: 66 unless at-or-before, which restores the newest state', async () => {
    const later = txidHex(lastTxid + 10n);
    await expectUnreachable(url, { SQLITE_RESTORE_TARGET_TXID: later }, new RegExp(`TXID ${later} is not in the backup: its newest LTX file ends at TXID ${txidHex(lastTxid)}`));
    await expectRestored(url, { SQLITE_RESTORE_TARGET_TXID: later, SQLITE_RESTORE_TARGET_MATCH: 'at-or-before' }, final);
    const laterTime = new Date(Date.now() + 60_000).toISOString();
    await expectUnreachable(url, { SQLITE_RESTORE_TARGET_TIME: laterTime }, /is after the newest backed-up transaction/);
    await expectRestored(url, { SQLITE_RESTORE_TARGET_TIME: laterTime, SQLITE_RESTORE_TARGET_MATCH: 'at-or-before' }, final);
    for (const match of ['exact', 'at-or-before']) {
      await expectUnreachable(url, { SQLITE_RESTORE_TARGET_TIME: '2001-01-01T00:00:00Z', SQLITE_RESTORE_TARGET_MATCH: match }, /nothing at or before 2001-01-01T00:00:00\.000Z can be restored/);
    }
    const { r } = await restoreTo(url, { SQLITE_RESTORE_TARGET_GENERATION: '0123456789abcdef' });
    assertExit(r, 78);
  });

  await t.test('without the level-0 files, a TXID or time inside a compacted file is 66 unless at-or-before', async () => {
    const compacted = `${prefix}-compacted`;
    const source = new S3Store(client, bucket, prefix);
    const copy = new S3Store(client, bucket, compacted);
    for (const o of finalObjects) if (!isL0(o.key)) await copy.put(o.key, await source.get(o.key));
    const copied = await copy.list();
    // A phase whose end a compaction kept, and whose next TXID only a larger file holds.
    const reachable = (txid: bigint) => {
      try {
        return planLtx(copied, { kind: 'txid', txid, match: 'exact' }).plan !== null;
      } catch (err) {
        if (err instanceof TargetUnreachableError) return false;
        throw err;
      }
    };
    const c = captures.find((x) => reachable(x.txid) && !reachable(x.txid + 1n) && x.txid + 1n < lastTxid);
    assert.ok(c, `a phase end kept by compaction: ${copied.map((o) => o.key).join(' ')}`);
    const copyUrl = `s3://${bucket}/${compacted}`;
    const inside = txidHex(c.txid + 1n);
    await expectUnreachable(copyUrl, { SQLITE_RESTORE_TARGET_TXID: inside }, new RegExp(`no LTX file ends at TXID ${inside}: it is inside .* \\(compacted\\), so the nearest restorable TXIDs are ${txidHex(c.txid)} and`));
    const target = await expectRestored(copyUrl, { SQLITE_RESTORE_TARGET_TXID: inside, SQLITE_RESTORE_TARGET_MATCH: 'at-or-before' }, c.digest);
    assert.deepEqual(target, { kind: 'txid', txid: inside, match: 'at-or-before', reachedTxid: txidHex(c.txid) });
    // At the phase's time the next TXIDs' times are unknown in the copy.
    await expectUnreachable(copyUrl, { SQLITE_RESTORE_TARGET_TIME: c.time.toISOString() }, /the state at .* is unknown: TXIDs .* were compacted into/);
    await expectRestored(copyUrl, { SQLITE_RESTORE_TARGET_TIME: c.time.toISOString(), SQLITE_RESTORE_TARGET_MATCH: 'at-or-before' }, c.digest);
  });
});
