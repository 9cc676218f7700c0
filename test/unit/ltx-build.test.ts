// Applying an LTX plan (src/build.ts) from a file store of hand-made LTX
// files, and choosing the layout (src/layout/detect.ts, SQLITE_RESTORE_LAYOUT).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buildDatabase, type BuildResult } from '../../src/apply/build.js';
import { loadConfig } from '../../src/config.js';
import { ConfigError, CorruptBackupError } from '../../src/errors.js';
import { autoLayout, layoutByName } from '../../src/layout/detect.js';
import { lockPgno } from '../../src/layout/ltx/decoder.js';
import { litestreamV5 } from '../../src/layout/ltx/index.js';
import { ltxKey } from '../../src/layout/ltx/keys.js';
import { FileStore } from '../../src/store/file.js';
import type { Store } from '../../src/store/store.js';
import { databaseChecksum, encodeLtx, patternPage, sqlitePage1, type LtxOptions, type LtxPageInput } from '../support/ltx.js';
import { makeTempDir, removeDir } from '../support/paths.js';

const PS = 4096;
let work: string;
let counter = 0;

before(async () => {
  work = await makeTempDir('unit-ltx-build');
});

after(async () => {
  if (work) await removeDir(work);
});

/** A fresh replica directory holding the given LTX files (S3 naming unless `style` says file). */
async function replica(files: Array<{ level: number } & LtxOptions>, style: 's3' | 'file' = 's3'): Promise<string> {
  counter += 1;
  const dir = path.join(work, `replica-${counter}`);
  for (const f of files) {
    const key = path.join(dir, ltxKey(style, f.level, f.minTxid, f.maxTxid));
    await mkdir(path.dirname(key), { recursive: true });
    await writeFile(key, encodeLtx(f));
  }
  return dir;
}

async function build(dir: string, store: Store = new FileStore(dir)): Promise<{ result: BuildResult; db: Buffer; file: string }> {
  const signal = new AbortController().signal;
  const plan = await litestreamV5.plan(store, signal);
  assert.ok(plan, 'expected a plan');
  const file = path.join(dir, 'out.db');
  const result = await buildDatabase({
    store,
    plan,
    dbTempPath: file,
    spillPath: path.join(dir, 'out.spill'),
    concurrency: 4,
    signal,
    onBytes: () => undefined,
  });
  return { result, db: await readFile(file), file };
}

const page = (pgno: number, seed: number): LtxPageInput => ({ pgno, data: patternPage(PS, pgno * 100 + seed) });

function snapshot(commit: number, maxTxid: bigint, extra: Partial<LtxOptions> = {}): { level: number } & LtxOptions {
  const pages = [{ pgno: 1, data: sqlitePage1(PS, commit) }, ...Array.from({ length: commit - 1 }, (_, i) => page(i + 2, 0))];
  return { level: 9, pageSize: PS, commit, minTxid: 1n, maxTxid, pages, encoding: 'block', ...extra };
}

function pageOf(db: Buffer, pgno: number): Buffer {
  return db.subarray((pgno - 1) * PS, pgno * PS);
}

test('snapshot, then files in both encodings: growth, shrink and regrowth, newest page wins', async () => {
  const snap = snapshot(6, 3n);
  const p1 = { pgno: 1, data: sqlitePage1(PS, 4, 9) };
  const dir = await replica([
    snap,
    { level: 1, pageSize: PS, commit: 8, minTxid: 4n, maxTxid: 5n, pages: [page(2, 1), page(7, 1), page(8, 1)], encoding: 'frame' },
    { level: 0, pageSize: PS, commit: 4, minTxid: 6n, maxTxid: 6n, pages: [p1, page(3, 2)], encoding: 'block' },
    // Regrowing, SQLite writes every page it adds.
    { level: 0, pageSize: PS, commit: 7, minTxid: 7n, maxTxid: 7n, pages: [page(5, 3), page(6, 3), page(7, 3)], encoding: 'frame', storedBlocks: true },
  ]);
  const { result, db } = await build(dir);
  assert.equal(db.length, 7 * PS);
  assert.ok(pageOf(db, 1).equals(p1.data), 'page 1 from TXID 6');
  assert.ok(pageOf(db, 2).equals(page(2, 1).data), 'page 2 from TXIDs 4-5');
  assert.ok(pageOf(db, 3).equals(page(3, 2).data), 'page 3 from TXID 6');
  assert.ok(pageOf(db, 4).equals(snap.pages[3]?.data as Buffer), 'page 4 from the snapshot');
  // Pages cut off by the shrink to 4 come back only as TXID 7 wrote them.
  assert.ok(pageOf(db, 5).equals(page(5, 3).data), 'page 5 from TXID 7');
  assert.ok(pageOf(db, 6).equals(page(6, 3).data), 'page 6 from TXID 7');
  assert.ok(pageOf(db, 7).equals(page(7, 3).data), 'page 7 from TXID 7, not from TXIDs 4-5');
  assert.equal(result.pageCount, 7);
  assert.equal(result.pageSize, PS);
  assert.equal(result.transactions, 3);
  assert.deepEqual(result.details, { ltxFiles: 4, txid: '0000000000000007' });
});

test('a commit that claims pages nobody wrote is refused: no sparse file of any size', async () => {
  const snap = snapshot(6, 3n);
  const dir = await replica([
    snap,
    { level: 0, pageSize: PS, commit: 4, minTxid: 4n, maxTxid: 4n, pages: [page(3, 2)], encoding: 'block' },
    // Regrows to 7 writing only page 6: pages 5 and 7 would be holes.
    { level: 0, pageSize: PS, commit: 7, minTxid: 5n, maxTxid: 5n, pages: [page(6, 3)], encoding: 'block' },
  ]);
  await expectBuildFails(dir, /says the database has 7 pages, but only 5 of them were ever written/);
  const huge = await replica([
    snap,
    { level: 0, pageSize: PS, commit: 0xfffffffe, minTxid: 4n, maxTxid: 4n, pages: [page(2, 1)], encoding: 'block' },
  ]);
  await expectBuildFails(huge, /says the database has 4294967294 pages, but only 7 of them were ever written/);
});

test('a database growing past 1 GiB keeps the lock page zero, the one page SQLite never writes', { timeout: 120_000 }, async () => {
  const pageSize = 65536;
  const lock = lockPgno(pageSize);
  const first = { pgno: 1, data: sqlitePage1(pageSize, 3) };
  const pages = [first, { pgno: 2, data: patternPage(pageSize, 2) }, { pgno: 3, data: patternPage(pageSize, 3) }];
  const below = { pgno: lock - 1, data: patternPage(pageSize, 5) };
  const above = { pgno: lock + 1, data: patternPage(pageSize, 6) };
  const zero = Buffer.alloc(pageSize);
  const grown = Array.from({ length: lock - 5 }, (_, i) => ({ pgno: i + 4, data: zero }));
  const dir = await replica([
    { level: 9, pageSize, commit: 3, minTxid: 1n, maxTxid: 1n, pages, encoding: 'block' },
    { level: 0, pageSize, commit: lock + 1, minTxid: 2n, maxTxid: 2n, pages: [first, ...grown, below, above], encoding: 'block' },
  ]);
  const store = new FileStore(dir);
  const signal = new AbortController().signal;
  const plan = await litestreamV5.plan(store, signal);
  assert.ok(plan);
  const file = path.join(dir, 'out.db');
  const result = await buildDatabase({ store, plan, dbTempPath: file, spillPath: `${file}.spill`, concurrency: 2, signal, onBytes: () => undefined });
  assert.equal(result.pageCount, lock + 1);
  assert.equal((await stat(file)).size, (lock + 1) * pageSize);
  const handle = await open(file, 'r');
  try {
    const read = async (pgno: number) => {
      const buf = Buffer.alloc(pageSize);
      await handle.read(buf, 0, pageSize, (pgno - 1) * pageSize);
      return buf;
    };
    assert.ok((await read(2)).equals(pages[1]?.data as Buffer));
    assert.ok((await read(4)).equals(zero), 'page 4 as written');
    assert.ok((await read(lock - 1)).equals(below.data));
    assert.ok((await read(lock)).equals(Buffer.alloc(pageSize)), 'the lock page is zeros');
    assert.ok((await read(lock + 1)).equals(above.data));
  } finally {
    await handle.close();
  }
});

test('a large LTX file moves in step with the snapshot: its pages go straight into the file, none through the spill', async () => {
  // Incompressible pages, so both objects are over 8 MiB stored: the snapshot goes to the worker, the L1 file is in step.
  const count = 2600;
  const noise = (seed: number) => createHash('sha256').update(String(seed)).digest();
  const random = (seed: number) => Buffer.concat(Array.from({ length: PS / 32 }, (_, i) => noise(seed * 1000 + i)));
  const snapPages = [{ pgno: 1, data: sqlitePage1(PS, count) }, ...Array.from({ length: count - 1 }, (_, i) => ({ pgno: i + 2, data: random(i + 2) }))];
  const newer = Array.from({ length: count - 1 }, (_, i) => ({ pgno: i + 2, data: random(-(i + 2)) }));
  const dir = await replica([
    { level: 9, pageSize: PS, commit: count, minTxid: 1n, maxTxid: 1n, pages: snapPages, encoding: 'block' },
    { level: 1, pageSize: PS, commit: count, minTxid: 2n, maxTxid: 2n, pages: newer, encoding: 'block' },
  ]);
  // The snapshot arrives slowly, so the fold would run ahead of it and spill if it did not wait.
  const files = new FileStore(dir);
  const slowSnapshot: Store = {
    location: files.location,
    list: (prefix, signal) => files.list(prefix, signal),
    read(info, options) {
      const body = files.read(info, options);
      if (!info.key.startsWith('0009/')) return body;
      return Readable.from((async function* () {
        for await (const chunk of body) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          yield chunk as Buffer;
        }
      })());
    },
  };
  const { result, db } = await build(dir, slowSnapshot);
  assert.equal(result.pagesSpilled, 0);
  assert.equal(result.pagesWritten, count - 1);
  for (const { pgno, data } of [newer[0], newer[1234], newer[count - 2]] as LtxPageInput[]) assert.ok(pageOf(db, pgno).equals(data), `page ${pgno} from TXID 2`);
});

async function expectBuildFails(dir: string, pattern: RegExp): Promise<void> {
  await assert.rejects(build(dir), (err: unknown) => {
    assert.ok(err instanceof CorruptBackupError, `expected CorruptBackupError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

test('with checksums tracked, each file must continue the previous one', async () => {
  const snap = snapshot(3, 2n, { flags: 0 });
  const post = databaseChecksum(snap.pages);
  const next = page(2, 7);
  // The rolling checksum after replacing page 2.
  const after = post ^ databaseChecksum([snap.pages[1] as LtxPageInput]) ^ databaseChecksum([next]) | (1n << 63n);
  const good = { level: 0, pageSize: PS, commit: 3, minTxid: 3n, maxTxid: 3n, pages: [next], encoding: 'block' as const, flags: 0, preApplyChecksum: post, postApplyChecksum: after };
  const { db } = await build(await replica([snap, good]));
  assert.ok(pageOf(db, 2).equals(next.data));

  const foreign = { ...good, preApplyChecksum: post ^ 0x10n };
  await expectBuildFails(
    await replica([snap, foreign]),
    /0000\/0000000000000003-0000000000000003\.ltx does not continue the previous LTX file: its pre-apply checksum [0-9a-f]{16} is not the database checksum [0-9a-f]{16} after TXID 0000000000000002/,
  );
});

test('a file whose header disagrees with its name, or with the snapshot\'s page size, is refused', async () => {
  const snap = snapshot(3, 2n);
  const dir = await replica([snap]);
  // Same bytes under a name claiming more TXIDs.
  await mkdir(path.join(dir, '0000'), { recursive: true });
  await writeFile(path.join(dir, '0000', '0000000000000003-0000000000000004.ltx'),
    encodeLtx({ pageSize: PS, commit: 3, minTxid: 3n, maxTxid: 3n, pages: [page(2, 1)], encoding: 'block' }));
  await expectBuildFails(dir, /0000\/0000000000000003-0000000000000004\.ltx: header says TXIDs 0000000000000003-0000000000000003, the name says 0000000000000003-0000000000000004/);

  await expectBuildFails(
    await replica([snap, { level: 0, pageSize: 8192, commit: 3, minTxid: 3n, maxTxid: 3n, pages: [{ pgno: 2, data: patternPage(8192, 1) }], encoding: 'block' }]),
    /LTX page size 8192 differs from the snapshot's 4096/,
  );
  await expectBuildFails(
    await replica([{ ...snap, pages: [{ pgno: 1, data: patternPage(PS, 1) }, ...snap.pages.slice(1)] }]),
    /snapshot page 1 is not a SQLite database/,
  );
});

test('a corrupt file in the middle fails the build with the key in the message', async () => {
  const dir = await replica([
    snapshot(3, 2n),
    { level: 0, pageSize: PS, commit: 3, minTxid: 3n, maxTxid: 3n, pages: [page(2, 1)], encoding: 'frame', fileChecksum: (1n << 63n) | 1n },
  ]);
  await expectBuildFails(dir, /^0000\/0000000000000003-0000000000000003\.ltx: LTX file checksum mismatch/);
});

test('layout detection: none, v0.3, v0.5 in either naming, and both with a broken v0.3 part (exit 65)', async () => {
  const signal = new AbortController().signal;
  const empty = path.join(work, 'empty');
  await mkdir(empty, { recursive: true });
  assert.equal(await autoLayout.plan(new FileStore(empty), signal), null);
  assert.equal(await autoLayout.plan(new FileStore(path.join(work, 'does-not-exist')), signal), null);

  const v5 = await replica([snapshot(3, 2n)]);
  assert.equal((await autoLayout.plan(new FileStore(v5), signal))?.layout, 'litestream-v0.5');
  const v5file = await replica([snapshot(3, 2n)], 'file');
  assert.equal((await autoLayout.plan(new FileStore(v5file), signal))?.source.snapshot, 'ltx/9/0000000000000001-0000000000000002.ltx');

  // A v0.3 generation holding only a WAL segment: detected, then planned (and refused) by the v0.3 layout.
  const v3 = path.join(work, 'v3');
  await mkdir(path.join(v3, 'generations', '0123456789abcdef', 'wal'), { recursive: true });
  await writeFile(path.join(v3, 'generations', '0123456789abcdef', 'wal', '00000000_00000000.wal.lz4'), 'x');
  await assert.rejects(autoLayout.plan(new FileStore(v3), signal), /newest generation 0123456789abcdef has no snapshot/);

  // Both Litestream layouts (an upgrade leaves both): a broken v0.3 part is never skipped for the v0.5 one.
  const both = await replica([snapshot(3, 2n)]);
  await mkdir(path.join(both, 'generations', '0123456789abcdef', 'wal'), { recursive: true });
  await writeFile(path.join(both, 'generations', '0123456789abcdef', 'wal', '00000000_00000000.wal.lz4'), 'x');
  await assert.rejects(autoLayout.plan(new FileStore(both), signal), (err: unknown) => {
    assert.ok(err instanceof CorruptBackupError, String(err));
    assert.match(err.message, /has no snapshot.*\(the replica also holds litestream-v0\.5 backups: if the litestream-v0\.3 one is the older, set SQLITE_RESTORE_LAYOUT=litestream-v0\.5/);
    return true;
  });
  // Naming the layout reads only that one.
  assert.equal((await layoutByName('litestream-v0.5').plan(new FileStore(both), signal))?.layout, 'litestream-v0.5');
  await assert.rejects(layoutByName('litestream-v0.3').plan(new FileStore(both), signal), /has no snapshot/);
});

test('both Litestream layouts: the one written last is restored, a tie within a second is exit 78', async () => {
  const signal = new AbortController().signal;
  const at = (dir: string, key: string) => path.join(dir, ...key.split('/'));
  const v3Key = 'generations/0123456789abcdef/snapshots/00000000.snapshot.lz4';
  const v5Key = ltxKey('s3', 9, 1n, 2n);
  /** A replica whose v0.3 snapshot and v0.5 file were uploaded at the given times (seconds since the epoch). */
  const mixed = async (v3Time: number, v5Time: number) => {
    const dir = await replica([snapshot(3, 2n)]);
    await mkdir(path.dirname(at(dir, v3Key)), { recursive: true });
    await writeFile(at(dir, v3Key), 'snapshot');
    await utimes(at(dir, v3Key), v3Time, v3Time);
    await utimes(at(dir, v5Key), v5Time, v5Time);
    return new FileStore(dir);
  };
  const t0 = 1_780_000_000;
  const v5Newer = await autoLayout.plan(await mixed(t0, t0 + 60), signal);
  assert.equal(v5Newer?.layout, 'litestream-v0.5');
  assert.match(v5Newer?.choice ?? '', /holds litestream-v0\.3 \(generations\/\) and litestream-v0\.5 \(0009\/\) \(as an upgrade leaves behind\); restoring litestream-v0\.5 \(written 2026-.*\), newer than litestream-v0\.3/);
  const v3Newer = await autoLayout.plan(await mixed(t0 + 60, t0), signal);
  assert.equal(v3Newer?.layout, 'litestream-v0.3');
  assert.equal(v3Newer?.source.generation, '0123456789abcdef');
  await assert.rejects(autoLayout.plan(await mixed(t0, t0), signal), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.match(err.message, /written within the same second: .*; which one is newer cannot be told, set SQLITE_RESTORE_LAYOUT/);
    return true;
  });
  // A target only one layout understands goes to that one.
  const txid = await autoLayout.plan(await mixed(t0 + 60, t0), signal, { kind: 'txid', txid: 2n, match: 'exact' });
  assert.equal(txid?.layout, 'litestream-v0.5');
  assert.match(txid?.choice ?? '', /restoring litestream-v0\.5, the only one that reaches the target \(litestream-v0\.3 does not\)/);
});

test('SQLITE_RESTORE_LAYOUT: auto by default, the two layouts, anything else is a config error', () => {
  const env = { SQLITE_RESTORE_REPLICA_URL: 's3://bucket/db', SQLITE_RESTORE_DB_PATH: '/data/app.db' };
  assert.equal(loadConfig(env).layout, 'auto');
  assert.equal(loadConfig({ ...env, SQLITE_RESTORE_LAYOUT: 'litestream-v0.3' }).layout, 'litestream-v0.3');
  assert.equal(loadConfig({ ...env, SQLITE_RESTORE_LAYOUT: 'litestream-v0.5' }).layout, 'litestream-v0.5');
  assert.throws(() => loadConfig({ ...env, SQLITE_RESTORE_LAYOUT: 'v0.5' }), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /SQLITE_RESTORE_LAYOUT/);
    return true;
  });
});
