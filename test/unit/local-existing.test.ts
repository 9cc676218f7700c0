// The cheap judgement of a database in place (src/local/effective-database.ts)
// on hand-made headers, and the -wal scan (src/local/wal-scan.ts) on WAL files
// written by real SQLite and on crafted ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { judgeEffective, type WalState } from '../../src/local/effective-database.js';
import { scanWal } from '../../src/local/wal-scan.js';

/** A 100-byte SQLite header: page size, page count, and whether that count is current. */
function header(pageSize: number, pages: number, countValid = true): Uint8Array {
  const b = Buffer.alloc(100);
  b.write('SQLite format 3\0', 0, 'latin1');
  b.writeUInt16BE(pageSize === 65536 ? 1 : pageSize, 16);
  b[18] = 2;
  b[19] = 2;
  b.writeUInt32BE(7, 24); // change counter
  b.writeUInt32BE(pages, 28);
  b.writeUInt32BE(countValid ? 7 : 6, 92); // version-valid-for
  return b;
}

const none: WalState = { kind: 'none' };

test('without a -wal: the file decides, as before', () => {
  assert.deepEqual(judgeEffective(header(4096, 3), 3 * 4096, none), { kind: 'valid', pageSize: 4096, pageCount: 3 });
  assert.equal(judgeEffective(header(4096, 3), 0, none).kind, 'not-a-database');
  assert.deepEqual(judgeEffective(Buffer.from('hello'), 4096, none), { kind: 'not-a-database', reason: 'shorter than a SQLite header' });
  assert.equal(judgeEffective(Buffer.alloc(100), 4096, none).kind, 'not-a-database');
  assert.deepEqual(judgeEffective(header(4096, 15), 2 * 4096, none), { kind: 'doubtful', reason: 'header says 15 pages but the file holds 2' });
  assert.equal(judgeEffective(header(4096, 3), 3 * 4096 + 1, none).kind, 'doubtful');
  // An in-header count SQLite itself ignores (written by an old version) is ignored here too.
  assert.equal(judgeEffective(header(4096, 15, false), 2 * 4096, none).kind, 'valid');
});

test('mid-checkpoint: page 1 already counts pages only the -wal holds; the last commit decides', () => {
  const wal: WalState = { kind: 'valid', pageSize: 4096, commitPages: 15, page1: header(4096, 15) };
  assert.deepEqual(judgeEffective(header(4096, 15), 2 * 4096, wal), { kind: 'valid', pageSize: 4096, pageCount: 15 });
  // Page 1 from the -wal wins over a stale one in the main file.
  assert.deepEqual(judgeEffective(header(4096, 2), 2 * 4096, wal), { kind: 'valid', pageSize: 4096, pageCount: 15 });
  // No page 1 in the -wal: the main file's, against the last commit's size.
  const noPage1: WalState = { kind: 'valid', pageSize: 4096, commitPages: 15, page1: undefined };
  assert.equal(judgeEffective(header(4096, 15), 2 * 4096, noPage1).kind, 'valid');
  assert.equal(judgeEffective(header(4096, 14), 2 * 4096, noPage1).kind, 'doubtful');
  // A valid -wal without any commit adds nothing.
  assert.equal(judgeEffective(header(4096, 15), 2 * 4096, { kind: 'valid', pageSize: 4096, commitPages: undefined, page1: undefined }).kind, 'doubtful');
});

test('what SQLite might refuse is doubtful, so that SQLite decides; what it cannot open is not a database', () => {
  assert.equal(judgeEffective(header(4096, 3), 3 * 4096, { kind: 'unusable', reason: 'bad magic' }).kind, 'doubtful');
  const otherSize: WalState = { kind: 'valid', pageSize: 1024, commitPages: 3, page1: undefined };
  assert.match((judgeEffective(header(4096, 3), 3 * 4096, otherSize) as { reason: string }).reason, /pages of 1024 bytes/);
  const garbagePage1: WalState = { kind: 'valid', pageSize: 4096, commitPages: 3, page1: Buffer.alloc(100, 1) };
  assert.equal(judgeEffective(header(4096, 3), 3 * 4096, garbagePage1).kind, 'not-a-database');
});

/** A WAL-mode database whose last transaction is only in its -wal (copied while the writer is open). */
function withWal(dir: string): { db: string; wal: Buffer; pageSize: number } {
  const src = path.join(dir, 'src.db');
  const writer = new Database(src);
  writer.pragma('journal_mode = WAL');
  writer.pragma('wal_autocheckpoint = 0');
  writer.exec('CREATE TABLE t (v TEXT)');
  const insert = writer.prepare('INSERT INTO t (v) VALUES (?)');
  writer.transaction(() => {
    for (let i = 0; i < 500; i++) insert.run('x'.repeat(50));
  })();
  const db = path.join(dir, 'copy.db');
  copyFileSync(src, db);
  copyFileSync(`${src}-wal`, `${db}-wal`);
  writer.close();
  const wal = readFileSync(`${db}-wal`);
  return { db, wal, pageSize: wal.readUInt32BE(8) };
}

test('scanWal reads a real -wal as SQLite recovers it: last commit size and newest committed page 1', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wal-scan-'));
  try {
    const { db, wal, pageSize } = withWal(dir);
    const state = await scanWal(`${db}-wal`, new AbortController().signal);
    assert.equal(state.kind, 'valid');
    if (state.kind !== 'valid') return;
    assert.equal(state.pageSize, pageSize);
    const check = new Database(path.join(dir, 'src.db'), { readonly: true });
    assert.equal(state.commitPages, check.pragma('page_count', { simple: true }));
    check.close();
    assert.equal(Buffer.from(state.page1 ?? []).subarray(0, 16).toString('latin1'), 'SQLite format 3\0');

    // An uncommitted tail (the last frame's commit mark cleared, so its checksum no longer matches) is dropped.
    const frameSize = 24 + pageSize;
    const frames = (wal.length - 32) / frameSize;
    const torn = Buffer.from(wal);
    torn.writeUInt32BE(0, 32 + (frames - 1) * frameSize + 4);
    writeFileSync(`${db}-wal`, torn);
    let previousCommit: number | undefined;
    for (let i = 0; i < frames - 1; i++) previousCommit = wal.readUInt32BE(32 + i * frameSize + 4) || previousCommit;
    assert.ok(previousCommit !== undefined, 'the CREATE TABLE commit precedes the inserts');
    const tornState = await scanWal(`${db}-wal`, new AbortController().signal);
    assert.equal(tornState.kind === 'valid' && tornState.commitPages, previousCommit);

    // A bad header checksum: SQLite would ignore or refuse it; only SQLite can tell which.
    const badHeader = Buffer.from(wal);
    badHeader[24] = (badHeader[24] ?? 0) ^ 0xff;
    writeFileSync(`${db}-wal`, badHeader);
    assert.equal((await scanWal(`${db}-wal`, new AbortController().signal)).kind, 'unusable');

    // Short or missing: nothing SQLite would read.
    writeFileSync(`${db}-wal`, wal.subarray(0, 32 + frameSize - 1));
    assert.deepEqual(await scanWal(`${db}-wal`, new AbortController().signal), { kind: 'valid', pageSize, commitPages: undefined, page1: undefined });
    writeFileSync(`${db}-wal`, wal.subarray(0, 32));
    assert.deepEqual(await scanWal(`${db}-wal`, new AbortController().signal), { kind: 'none' });
    assert.deepEqual(await scanWal(path.join(dir, 'absent-wal'), new AbortController().signal), { kind: 'none' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('scanWal stops at the first invalid frame instead of reading a huge crafted tail', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wal-scan-'));
  try {
    const { db, wal, pageSize } = withWal(dir);
    // 64 GiB of zeros (a sparse file) after the valid frames: read no further than one frame past them.
    writeFileSync(`${db}-wal`, wal);
    truncateSync(`${db}-wal`, 64 * 2 ** 30);
    const started = process.hrtime.bigint();
    const state = await scanWal(`${db}-wal`, new AbortController().signal);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.equal(state.kind, 'valid');
    if (state.kind === 'valid') assert.equal(state.pageSize, pageSize);
    // Reading 64 GiB would take minutes; 5 s leaves room for a loaded machine.
    assert.ok(ms < 5000, `${ms} ms`);
    const aborted = new AbortController();
    aborted.abort(new Error('stop'));
    await assert.rejects(scanWal(`${db}-wal`, aborted.signal), /stop/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
