// Read-ahead beside a real check of a file that is not in the page cache:
// it finds SQLite's reads and reads ahead of them, and the check's answer is
// the same. (How much faster: npm run bench:limits.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { runCheck } from '../../src/sqlite/check-run.js';

test('on a file out of the page cache, the read-ahead follows the check and reads ahead of it; the answer is the same', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'read-ahead-'));
  try {
    const file = path.join(dir, 'app.db');
    const db = new Database(file);
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT, blob BLOB); CREATE INDEX t_body ON t (body)');
    const insert = db.prepare('INSERT INTO t (body, blob) VALUES (?, ?)');
    db.transaction(() => {
      for (let i = 0; i < 40_000; i++) insert.run(`row ${(i * 7919) % 40_000} `.repeat(60), i % 20 === 0 ? Buffer.alloc(6000, i % 251) : null);
    })();
    const pageCount = db.pragma('page_count', { simple: true }) as number;
    const btreePages = db.prepare("SELECT count(*) FROM dbstat WHERE pagetype != 'overflow'").pluck().get() as number;
    db.close();
    const fd = openSync(file, 'r');
    fsyncSync(fd);
    closeSync(fd);

    const job = { file, access: 'read-write', level: 'quick', exclusive: true } as const;
    const evict = () => assert.equal(spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0'], { stdio: 'ignore' }).status, 0, 'dd drops the file from the page cache');
    evict();
    const plain = runCheck(job);
    evict();
    const ahead = runCheck({ ...job, readAheadBytes: 4 << 20 });
    assert.deepEqual(plain, { ok: true, messages: ['ok'], pageCount });
    assert.ok(ahead.ok && ahead.readAhead, JSON.stringify(ahead));
    const { readAhead, ...rest } = ahead;
    assert.deepEqual(rest, plain);
    assert.equal(readAhead.orderedPages, btreePages, 'the walk found every B-tree page');
    assert.ok(readAhead.seen > 0, `it saw SQLite's reads: ${JSON.stringify(readAhead)}`);
    assert.ok(readAhead.bytesRead > 0, `it read ahead of them: ${JSON.stringify(readAhead)}`);
    console.log(`# ${pageCount} pages: ${JSON.stringify(readAhead)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
