// The termination message is best effort and must never block, follow a
// symbolic link, or write anything but a regular file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { terminationText, TERMINATION_MESSAGE_MAX_BYTES, writeTerminationMessage } from '../../src/termination-log.js';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'termination-log-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a new file is created; an existing one is replaced, not appended to', () => {
  withDir((dir) => {
    const file = path.join(dir, 'termination-log');
    assert.equal(writeTerminationMessage(file, 'restored: /data/app.db'), undefined);
    assert.equal(readFileSync(file, 'utf8'), 'restored: /data/app.db');
    writeFileSync(file, 'a much longer earlier message that must not survive');
    assert.equal(writeTerminationMessage(file, 'config:\n two\tlines '), undefined);
    assert.equal(readFileSync(file, 'utf8'), 'config: two lines');
  });
});

test('a FIFO without a reader is skipped at once instead of blocking forever', () => {
  withDir((dir) => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const t0 = Date.now();
    assert.equal(writeTerminationMessage(fifo, 'restored'), 'not a regular file');
    assert.ok(Date.now() - t0 < 1_000);
  });
});

test('a symbolic link is not followed: its target stays as it was', () => {
  withDir((dir) => {
    const target = path.join(dir, 'app.db');
    writeFileSync(target, 'SQLite format 3\0');
    const link = path.join(dir, 'termination-log');
    symlinkSync(target, link);
    assert.equal(writeTerminationMessage(link, 'restored'), 'a symbolic link (not followed)');
    assert.equal(readFileSync(target, 'utf8'), 'SQLite format 3\0');
    // A dangling link is not followed either (O_CREAT would create its target).
    const dangling = path.join(dir, 'dangling');
    symlinkSync(path.join(dir, 'created-through-link'), dangling);
    assert.equal(writeTerminationMessage(dangling, 'restored'), 'a symbolic link (not followed)');
    assert.throws(() => readFileSync(path.join(dir, 'created-through-link')));
  });
});

test('a hard link to another file (the database, say) is left alone', () => {
  withDir((dir) => {
    const db = path.join(dir, 'app.db');
    writeFileSync(db, 'SQLite format 3\0');
    const log = path.join(dir, 'termination-log');
    linkSync(db, log);
    assert.equal(writeTerminationMessage(log, 'restored'), 'a file with other hard links');
    assert.equal(readFileSync(db, 'utf8'), 'SQLite format 3\0');
  });
});

test('a directory, a missing parent or a device are reported, never thrown', () => {
  withDir((dir) => {
    const sub = path.join(dir, 'sub');
    mkdirSync(sub);
    assert.equal(writeTerminationMessage(sub, 'x'), 'not a regular file');
    assert.equal(writeTerminationMessage(path.join(dir, 'missing', 'log'), 'x'), 'ENOENT');
    assert.equal(writeTerminationMessage('/dev/null', 'x'), 'not a regular file');
  });
});

test('the message is cut at 4096 bytes on a UTF-8 character boundary', () => {
  const text = terminationText('é'.repeat(3000));
  assert.ok(text.length <= TERMINATION_MESSAGE_MAX_BYTES);
  assert.equal(text.length, TERMINATION_MESSAGE_MAX_BYTES);
  assert.ok(!text.toString('utf8').includes('\ufffd'));
  const odd = terminationText(`x${'€'.repeat(2000)}`);
  assert.ok(odd.length <= TERMINATION_MESSAGE_MAX_BYTES);
  assert.ok(!odd.toString('utf8').includes('\ufffd'));
});
