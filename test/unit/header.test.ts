import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { DB_HEADER_SIZE, checkDbFile, parseDbHeader, type DbHeader } from '../../src/sqlite/header.js';

/** A real database file written by SQLite, read after the connection is closed. */
function realDb(pageSize: number, wal: boolean): Buffer {
  const dir = mkdtempSync(path.join(tmpdir(), 'header-test-'));
  try {
    const file = path.join(dir, 'real.db');
    const db = new Database(file);
    db.pragma(`page_size = ${pageSize}`);
    if (wal) db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
    const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < 100; i += 1) insert.run(`row ${i} `.repeat(40));
    })();
    db.close(); // checkpoints the WAL into the main file
    return readFileSync(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function header(bytes: Uint8Array): DbHeader {
  const h = parseDbHeader(bytes);
  assert.ok(typeof h !== 'string', `expected a header, got "${String(h)}"`);
  return h;
}

test('parseDbHeader reads a real database (rollback journal, 4096-byte pages)', () => {
  const file = realDb(4096, false);
  const h = header(file);
  assert.equal(h.pageSize, 4096);
  assert.equal(h.pageCountValid, true);
  assert.equal(h.pageCount, file.length / 4096);
  assert.ok(h.pageCount > 2);
  assert.equal(h.readVersion, 1);
  assert.equal(checkDbFile(h, file.length), undefined);
});

test('parseDbHeader reads a real WAL-mode database with 1024-byte pages', () => {
  const file = realDb(1024, true);
  const h = header(file);
  assert.equal(h.pageSize, 1024);
  assert.equal(h.readVersion, 2);
  assert.equal(h.pageCountValid, true);
  assert.equal(h.pageCount, file.length / 1024);
  assert.equal(checkDbFile(h, file.length), undefined);
});

test('parseDbHeader reads a header inside a larger buffer at a non-zero offset', () => {
  const file = realDb(4096, false);
  const big = new Uint8Array(file.length + 13);
  big.set(file, 13);
  const h = header(big.subarray(13, 13 + DB_HEADER_SIZE));
  assert.equal(h.pageSize, 4096);
  assert.equal(h.pageCount, file.length / 4096);
});

test('parseDbHeader: all zeros is not a database', () => {
  const r = parseDbHeader(new Uint8Array(4096));
  assert.equal(typeof r, 'string');
  assert.match(r as string, /magic/);
});

test('parseDbHeader: a short buffer is rejected, exactly 100 bytes is enough', () => {
  const file = realDb(4096, false);
  for (const n of [0, 1, 16, 99]) {
    const r = parseDbHeader(file.subarray(0, n));
    assert.equal(typeof r, 'string', `length ${n}`);
    assert.match(r as string, /shorter/);
  }
  assert.equal(header(file.subarray(0, DB_HEADER_SIZE)).pageSize, 4096);
});

test('parseDbHeader: a bad page size is rejected; 1 means 65536', () => {
  const file = Buffer.from(realDb(4096, false).subarray(0, DB_HEADER_SIZE));
  for (const bad of [0, 2, 256, 1000, 4097, 0xffff]) {
    file.writeUInt16BE(bad, 16);
    const r = parseDbHeader(file);
    assert.equal(typeof r, 'string', `page size ${bad}`);
    assert.match(r as string, /page size/);
    assert.ok((r as string).includes(String(bad)));
  }
  file.writeUInt16BE(1, 16);
  assert.equal(header(file).pageSize, 65536);
  file.writeUInt16BE(512, 16);
  assert.equal(header(file).pageSize, 512);
  file.writeUInt16BE(32768, 16);
  assert.equal(header(file).pageSize, 32768);
});

test('parseDbHeader: a one-byte change of the magic string is rejected', () => {
  const file = Buffer.from(realDb(4096, false).subarray(0, DB_HEADER_SIZE));
  file[15] = 0x20; // the terminating NUL of "SQLite format 3\0"
  assert.match(parseDbHeader(file) as string, /magic/);
});

test('checkDbFile: size not a multiple of the page size', () => {
  const h: DbHeader = { pageSize: 4096, pageCount: 3, pageCountValid: true, readVersion: 1 };
  assert.equal(checkDbFile(h, 3 * 4096), undefined);
  const problem = checkDbFile(h, 3 * 4096 + 100);
  assert.ok(problem);
  assert.match(problem, /multiple/);
});

test('checkDbFile: header page count differs from the file size', () => {
  const file = realDb(4096, false);
  const h = header(file);
  const bigger = checkDbFile(h, file.length + 4096);
  assert.ok(bigger);
  assert.ok(bigger.includes(String(h.pageCount)) && bigger.includes(String(h.pageCount + 1)), bigger);
  assert.ok(checkDbFile(h, file.length - 4096));
  assert.ok(checkDbFile(h, 0));
});

test('checkDbFile: the in-header page count is ignored when it is not valid-for the change counter', () => {
  const file = Buffer.from(realDb(4096, false));
  const counter = file.readUInt32BE(24);
  file.writeUInt32BE((counter + 1) >>> 0, 92); // version-valid-for no longer matches
  const h = header(file);
  assert.equal(h.pageCountValid, false);
  assert.equal(checkDbFile(h, file.length + 4096), undefined);
  assert.ok(checkDbFile(h, file.length + 1)); // the multiple check still applies
});

test('parseDbHeader: readVersion is byte 18 (the read version), not the write version', () => {
  const file = Buffer.from(realDb(4096, false).subarray(0, DB_HEADER_SIZE));
  file[18] = 2;
  file[19] = 1;
  assert.equal(header(file).readVersion, 2);
  file[18] = 1;
  file[19] = 2;
  assert.equal(header(file).readVersion, 1);
});
