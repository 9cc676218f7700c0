import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, rmSync, writeSync, closeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { runCheck } from '../../src/sqlite/check-run.js';
import { parseReadAheadReport } from '../../src/sqlite/read-ahead.js';
import { howToRead, INLINE_CHECK_BYTES, READ_AHEAD_BYTES, runSqliteCheck, type CheckJob, type CheckOutcome } from '../../src/sqlite/sqlite-check.js';

const MiB = 1 << 20;

test('a private file that fits in the page cache is mapped; every other file is read with read-ahead when its window has room', () => {
  const own: CheckJob = { file: 'x', access: 'read-write', level: 'quick', exclusive: true };
  assert.deepEqual(howToRead(own, 64 * MiB, 100 * MiB), { ...own, mmapBytes: 64 * MiB });
  assert.deepEqual(howToRead(own, 101 * MiB, 100 * MiB), { ...own, readAheadBytes: READ_AHEAD_BYTES });
  assert.deepEqual(howToRead(own, 101 * MiB, 10 * MiB), { ...own, readAheadBytes: 5 * MiB });
  assert.deepEqual(howToRead(own, 101 * MiB, 1 * MiB), own, 'no room for a window');
  const shared: CheckJob = { file: 'x', access: 'read-only', level: 'quick' };
  assert.deepEqual(howToRead(shared, 64 * MiB, 100 * MiB), { ...shared, readAheadBytes: READ_AHEAD_BYTES }, 'a file others may truncate is never mapped');
  assert.deepEqual(howToRead(shared, 101 * MiB, 100 * MiB), { ...shared, readAheadBytes: READ_AHEAD_BYTES });
});

/** A database of a table and an index over a few hundred pages, closed. */
function database(dir: string): string {
  const file = path.join(dir, 'app.db');
  const db = new Database(file);
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT); CREATE INDEX t_body ON t (body)');
  const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < 3000; i += 1) insert.run(`row ${i} `.repeat(30));
  })();
  db.close();
  return file;
}

/** The outcome without the read-ahead's counters. */
function result(outcome: CheckOutcome): CheckOutcome {
  if (!outcome.ok) return outcome;
  const { readAhead: _, ...rest } = outcome;
  return rest;
}

test('mapped or read ahead, the check finds what it finds read: a sound file is ok, a scribbled index page is not', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sqlite-check-'));
  try {
    const file = database(dir);
    const size = statSync(file).size;
    const ways = [{}, { mmapBytes: size }, { readAheadBytes: MiB }];
    for (const way of ways) {
      const sound = runCheck({ file, access: 'read-write', level: 'quick', exclusive: true, ...way });
      assert.deepEqual(result(sound), { ok: true, messages: ['ok'], pageCount: size / 4096 });
    }
    // Overwrite the middle of the last page (a leaf of the table or index) with garbage.
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(2048, 0x5a), 0, 2048, size - 4096 + 8);
    closeSync(fd);
    const results = ways.map((way) => runCheck({ file, access: 'read-write', level: 'quick', exclusive: true, ...way }));
    assert.equal(results[0]?.ok, true);
    assert.notDeepEqual((results[0] as { messages: readonly string[] }).messages, ['ok']);
    assert.deepEqual(results[1], results[0]);
    assert.ok(results[2]?.ok && results[2].readAhead, 'the read-ahead ran beside the check');
    assert.deepEqual(result(results[2]), results[0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a database in place too large to check inline is checked in a child process with read-ahead, whose counters come back", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sqlite-check-'));
  try {
    const file = path.join(dir, 'app.db');
    const db = new Database(file);
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)');
    const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < 20_000; i += 1) insert.run(Buffer.alloc(2000, i % 251));
    })();
    db.close();
    assert.ok(statSync(file).size > INLINE_CHECK_BYTES, 'checked in a child process');
    const outcome = await runSqliteCheck({ file, access: 'read-only', level: 'quick' }, new AbortController().signal);
    assert.ok(outcome.ok, JSON.stringify(outcome));
    assert.deepEqual(outcome.messages, ['ok']);
    assert.equal(typeof outcome.readAhead?.bytesRead, 'number', `the child's read-ahead counters: ${JSON.stringify(outcome)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the read-ahead's counters from the child: its four numbers, nothing else", () => {
  const report = { orderedPages: 10, samples: 3, seen: 1, bytesRead: 4096 };
  assert.deepEqual(parseReadAheadReport({ ...report, extra: 'x' }), report);
  assert.equal(parseReadAheadReport({ ...report, seen: undefined }), undefined, 'a counter missing');
  assert.equal(parseReadAheadReport({ ...report, bytesRead: '4096' }), undefined, 'not a number');
  assert.equal(parseReadAheadReport({ ...report, samples: null }), undefined);
  assert.equal(parseReadAheadReport('report'), undefined);
  assert.equal(parseReadAheadReport(null), undefined);
});
