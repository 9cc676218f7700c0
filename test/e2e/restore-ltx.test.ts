// Backups written by real Litestream v0.5 releases (LTX layout) to MinIO
// restore to exactly the source database: one release before 0.5.16 (pages as
// LZ4 frames) and one after (LZ4 blocks). The layout is detected (the
// default SQLITE_RESTORE_LAYOUT=auto); gaps and flipped bytes in real files
// are exit 65, and so is a broken v0.3 backup written after them
// (test/e2e/litestream-upgrade.test.ts has the real upgrade).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { LtxStep } from '../../src/layout/layout.js';
import { LtxDecoder } from '../../src/layout/ltx/decoder.js';
import { planLtx } from '../../src/layout/ltx/plan.js';
import { parseLtxKey, txidHex, type LtxKey } from '../../src/layout/ltx/keys.js';
import { assertExit, assertJsonLogs, assertNoLeftovers, assertSameDatabase } from '../support/assertions.js';
import { fileSha256, logicalDigest, type DbDigest } from '../support/digest.js';
import { LITESTREAM_V5_VERSIONS, startReplicationV5, type V5ReplicaTarget } from '../support/litestream-v5.js';
import { createBucket, s3Client, s3Env, startMinio, type Minio } from '../support/minio.js';
import { makeTempDir, removeDir } from '../support/paths.js';
import { sleep } from '../support/process.js';
import { FileStore, S3Store, type ReplicaStore, type StoredObject } from '../support/replica.js';
import { readMarker, readTerminationLog, restoreInto, type RestoreIntoResult } from '../support/run-cli.js';
import { openSource, prefill, runWorkload } from '../support/workload.js';

const bucket = 'backups';
let minio: Minio;
let work: string;

before(
  async () => {
    minio = await startMinio();
    work = await makeTempDir('e2e-restore-ltx');
    await createBucket(minio, bucket);
  },
  { timeout: 60_000 },
);

after(async () => {
  await minio?.stop();
  if (work) await removeDir(work);
});

interface LtxFile extends StoredObject, LtxKey {}

interface Backup {
  digest: DbDigest;
  files: LtxFile[];
}

/** Source database + Litestream v0.5 + the standard workload (with a VACUUM), then a final sync. */
async function backupWith(version: string, name: string, replica: V5ReplicaTarget): Promise<Backup & { store: ReplicaStore }> {
  const dir = path.join(work, name);
  await mkdir(dir, { recursive: true });
  const dbPath = path.join(dir, 'source.db');
  const db = openSource(dbPath);
  try {
    prefill(db, 3_000, 2);
    const repl = await startReplicationV5({ version, dbPath, replica });
    try {
      // Let the first level-9 snapshot be taken before the workload, so the restore needs later files.
      await sleep(1_500);
      const stats = await runWorkload(db, { rows: 4_000, bigTransactionMiB: 6, pauseMs: 1_200 });
      // A few last small transactions, likely still only at level 0 when Litestream stops.
      for (let i = 0; i < 3; i += 1) {
        db.prepare('INSERT INTO kv (k, v) VALUES (?, ?)').run(`last:${i}`, 'tail');
        await sleep(150);
      }
      await repl.stopAndFlush(500);
      console.log(`# ${name}: workload ${JSON.stringify(stats.rows)} in ${stats.durationMs} ms`);
    } catch (err) {
      await repl.kill();
      throw err;
    }
  } finally {
    db.close();
  }
  const store: ReplicaStore =
    replica.type === 's3' ? new S3Store(s3Client(minio), bucket, replica.path) : new FileStore(replica.dir);
  const files: LtxFile[] = [];
  for (const o of await store.list()) {
    const key = parseLtxKey(o.key);
    if (key) files.push({ ...o, ...key });
  }
  files.sort((a, b) => a.level - b.level || Number(a.minTxid - b.minTxid));
  return { digest: logicalDigest(dbPath), files, store };
}

function describeLevels(files: LtxFile[]): string {
  const counts = new Map<number, number>();
  for (const f of files) counts.set(f.level, (counts.get(f.level) ?? 0) + 1);
  return [...counts].map(([level, n]) => `L${level}:${n}`).join(' ');
}

/** Decodes a real file with the product's decoder; returns how its pages are stored. */
async function encodingOf(store: ReplicaStore, key: string): Promise<string> {
  const decoder = new LtxDecoder({ name: key });
  decoder.push(await store.get(key));
  while (decoder.read());
  return decoder.end().encoding;
}

function restoreTo(name: string, replicaUrl: string, extra: Record<string, string> = {}): Promise<RestoreIntoResult> {
  return restoreInto(path.join(work, 'restores', name), replicaUrl, {
    ...(replicaUrl.startsWith('s3://') ? { s3: s3Env(minio) } : {}),
    extra: { SQLITE_RESTORE_VERIFY: 'full', ...extra },
  });
}

/** Copies every object of one S3 prefix to another, optionally leaving some out. */
async function copyPrefix(from: string, to: string, keep: (key: string) => boolean = () => true): Promise<S3Store> {
  const source = new S3Store(s3Client(minio), bucket, from);
  const dest = new S3Store(s3Client(minio), bucket, to);
  for (const o of await source.list()) if (keep(o.key)) await dest.put(o.key, await source.get(o.key));
  return dest;
}

for (const version of LITESTREAM_V5_VERSIONS) {
  const expectedEncoding = version === '0.5.15' ? 'frame' : 'block';

  test(`Litestream ${version} to MinIO: restore reproduces the source exactly; gaps, bit flips and mixed layouts fail`, { timeout: 600_000 }, async (t) => {
    const prefix = `apps/v${version}`;
    const backup = await backupWith(version, `s3-${version}`, { type: 's3', s3: minio, bucket, path: prefix });
    console.log(`# ${version}: ${backup.files.length} LTX files: ${describeLevels(backup.files)}`);
    const levels = new Set(backup.files.map((f) => f.level));
    const snapshots = backup.files.filter((f) => f.level === 9);
    const lastTxid = backup.files.reduce((max, f) => (f.maxTxid > max ? f.maxTxid : max), 0n);

    await t.test('the replica has a level-9 snapshot, level-0 files and compactions, in the S3 naming', async () => {
      assert.ok(levels.has(9) && levels.has(0), describeLevels(backup.files));
      assert.ok([...levels].some((l) => l >= 1 && l <= 8), `no compaction level: ${describeLevels(backup.files)}`);
      assert.ok(backup.files.every((f) => f.style === 's3'));
      assert.ok((snapshots.at(-1)?.maxTxid ?? 0n) < lastTxid, 'writes after the newest snapshot');
    });

    await t.test(`real files store pages as LZ4 ${expectedEncoding}s`, async () => {
      const samples = [snapshots.at(-1), backup.files.find((f) => f.level === 0 && f.maxTxid === lastTxid), backup.files.find((f) => f.level === 1)];
      for (const f of samples) {
        assert.ok(f, 'sample file');
        assert.equal(await encodingOf(backup.store, f.key), expectedEncoding, f.key);
      }
    });

    await t.test('auto-detected restore equals the source (full verify) and the marker names the TXID', async () => {
      const { r, target, markerPath } = await restoreTo(`ok-${version}`, `s3://${bucket}/${prefix}`);
      assertExit(r, 0);
      assertJsonLogs(r);
      await assertNoLeftovers(path.dirname(target));
      assertSameDatabase(target, backup.digest);
      const marker = await readMarker(markerPath);
      const source = marker.source as unknown as Record<string, unknown>;
      assert.deepEqual(
        {
          outcome: marker.outcome,
          layout: source.layout,
          snapshot: source.snapshot,
          txid: source.txid,
          severalFiles: (source.files as number) > 1,
          bytesDatabase: marker.bytes?.database,
          sha256: marker.sha256,
        },
        {
          outcome: 'restored',
          layout: 'litestream-v0.5',
          snapshot: snapshots.at(-1)?.key,
          txid: txidHex(lastTxid),
          severalFiles: true,
          bytesDatabase: (await stat(target)).size,
          sha256: await fileSha256(target),
        },
        `marker: ${JSON.stringify(marker)}`,
      );
      const plan = planLtx(backup.files).plan;
      const steps = (plan?.steps ?? []) as LtxStep[];
      console.log(`# ${version}: restored from ${steps.map((s) => `L${s.level}:${s.minTxid}-${s.maxTxid}`).join(' ')}`);
    });

    await t.test('a hole in the TXIDs is exit 65 naming the missing TXIDs', async () => {
      // Remove every non-snapshot file holding the first TXID after the snapshot.
      const first = (snapshots.at(-1)?.maxTxid ?? 0n) + 1n;
      const holds = (key: string) => {
        const k = parseLtxKey(key);
        return !!k && k.level < 9 && k.minTxid <= first && first <= k.maxTxid;
      };
      await copyPrefix(prefix, `${prefix}-gap`, (key) => !holds(key));
      const { r, target, terminationLog } = await restoreTo(`gap-${version}`, `s3://${bucket}/${prefix}-gap`);
      assertExit(r, 65);
      assert.match(await readTerminationLog(terminationLog), new RegExp(`^corrupt: missing TXIDs ${txidHex(first)}\\.\\.`));
      await assert.rejects(stat(target), 'no database may appear');
      await assertNoLeftovers(path.dirname(target));
    });

    await t.test('a flipped bit in the snapshot is exit 65 naming the file', async () => {
      const snapshot = snapshots.at(-1) as LtxFile;
      // Two places a flip is always caught: the first page's encoding (LZ4 frame magic
      // or compressed size, right after the 100-byte header and 6-byte page header),
      // and the trailer's file checksum.
      for (const [label, offsetOf, pattern] of [
        ['page', () => 109, /: (page 1: |LTX file checksum mismatch|page index)/],
        ['trailer', (n: number) => n - 4, /: LTX file checksum mismatch/],
      ] as const) {
        const copy = await copyPrefix(prefix, `${prefix}-flip-${label}`);
        const bytes = await copy.get(snapshot.key);
        const at = offsetOf(bytes.length);
        bytes[at] = (bytes[at] as number) ^ 0x01;
        await copy.put(snapshot.key, bytes);
        const { r, target, terminationLog } = await restoreTo(`flip-${label}-${version}`, `s3://${bucket}/${prefix}-flip-${label}`);
        assertExit(r, 65);
        const message = await readTerminationLog(terminationLog);
        assert.ok(message.startsWith(`corrupt: ${snapshot.key}: `), message);
        assert.match(message, pattern);
        await assert.rejects(stat(target), 'no database may appear');
      }
    });

    await t.test('a broken v0.3 snapshot newer than the v0.5 files is exit 65, never the older backup, unless SQLITE_RESTORE_LAYOUT names one', async () => {
      const copy = await copyPrefix(prefix, `${prefix}-mixed`);
      await sleep(1_100); // a second later than every LTX file
      await copy.put('generations/0123456789abcdef/snapshots/00000000.snapshot.lz4', Buffer.from('not really'));
      const mixed = await restoreTo(`mixed-${version}`, `s3://${bucket}/${prefix}-mixed`);
      assertExit(mixed.r, 65);
      assert.match(await readTerminationLog(mixed.terminationLog), /^corrupt: generations\/0123456789abcdef\/snapshots\/00000000\.snapshot\.lz4: /);
      await assert.rejects(stat(mixed.target), 'no database may appear');
      const chosen = await restoreTo(`chosen-${version}`, `s3://${bucket}/${prefix}-mixed`, { SQLITE_RESTORE_LAYOUT: 'litestream-v0.5' });
      assertExit(chosen.r, 0);
      assertSameDatabase(chosen.target, backup.digest);
    });
  });
}

test('Litestream 0.5.18 to a file replica (ltx/<level>/ naming) restores exactly', { timeout: 300_000 }, async () => {
  const dir = path.join(work, 'file-replica');
  const backup = await backupWith('0.5.18', 'file-0.5.18', { type: 'file', dir });
  console.log(`# file replica: ${backup.files.length} LTX files: ${describeLevels(backup.files)}`);
  assert.ok(backup.files.length > 0 && backup.files.every((f) => f.style === 'file'));
  const { r, target } = await restoreTo('file-0.5.18', `file://${dir}`);
  assertExit(r, 0);
  assertSameDatabase(target, backup.digest);
});
