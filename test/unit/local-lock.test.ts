// The restore lock (src/local/lock.ts) within one process, where SQLite's own
// per-process bookkeeping makes a second connection's BEGIN IMMEDIATE busy just
// as another process's would be; the holder file parser; directory modes and
// the marker's replaceability.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { TemporaryError, LocalIoError } from '../../src/errors.js';
import { acquireRestoreLock, lockPaths } from '../../src/local/lock.js';
import { describeHolder, parseHolder } from '../../src/local/lock-holder.js';
import { replaceProblem, type FileFacts } from '../../src/local/marker.js';
import { directoryMode } from '../../src/local/ownership.js';

const log = pino({ level: 'silent' });

function options(deadlineInMs: number, signal = new AbortController().signal) {
  return { log, signal, deadline: performance.now() + deadlineInMs, mode: 0o644 };
}

test('a second holder on one path waits, then gives up naming the first; the lock leaves nothing behind', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lock-test-'));
  try {
    const db = path.join(dir, 'app.db');
    const first = await acquireRestoreLock(db, options(1000));
    assert.deepEqual(readdirSync(dir).sort(), ['.app.db.restore-lock', '.app.db.restore-lock.holder']);
    const started = performance.now();
    await assert.rejects(acquireRestoreLock(db, options(400)), (err: unknown) => {
      assert.ok(err instanceof TemporaryError);
      assert.match(err.message, new RegExp(`pid ${process.pid} on host .+ since `));
      assert.ok(err.message.includes(lockPaths(db).lock));
      return true;
    });
    assert.ok(performance.now() - started >= 350, 'it waited until its deadline');

    // An abort while waiting ends the wait with the abort's reason.
    const controller = new AbortController();
    const waiting = acquireRestoreLock(db, options(60_000, controller.signal));
    setTimeout(() => controller.abort(new Error('SIGTERM')), 100);
    await assert.rejects(waiting, /SIGTERM/);

    // Released: the next one gets it at once, and a released lock leaves no file.
    const later = acquireRestoreLock(db, options(5000));
    setTimeout(() => void first.release(), 300);
    const second = await later;
    await second.release();
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a lock file that is not an empty regular file is refused, naming it', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lock-test-'));
  try {
    const db = path.join(dir, 'app.db');
    writeFileSync(lockPaths(db).lock, 'SQLite format 3\0 crafted');
    await assert.rejects(acquireRestoreLock(db, options(1000)), (err: unknown) => err instanceof LocalIoError && err.message.includes('not empty'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('holder files are parsed strictly and shown as one printable line', () => {
  const holder = parseHolder('{"pid":42,"host":"pod-7","since":"2026-11-30T10:00:00.000Z"}');
  assert.deepEqual(holder, { pid: 42, host: 'pod-7', since: '2026-11-30T10:00:00.000Z' });
  assert.equal(describeHolder(holder), 'pid 42 on host pod-7 since 2026-11-30T10:00:00.000Z');
  assert.equal(parseHolder('{"pid":42,"host":"a\\nb\\u001b[31m","since":"2026-11-30T10:00:00Z"}')?.host, 'a?b?[31m');
  assert.equal(parseHolder(JSON.stringify({ pid: 1, host: 'x'.repeat(10_000), since: '2026-11-30T10:00:00Z' }))?.host.length, 253);
  for (const bad of ['', 'null', '[]', '{"pid":-1,"host":"h","since":"2026-11-30T10:00:00Z"}', '{"pid":1.5,"host":"h","since":"2026-11-30T10:00:00Z"}', '{"pid":1,"host":"h","since":"yesterday"}', '{"pid":1,"host":"","since":"2026-11-30T10:00:00Z"}', '{"pid":"1","host":"h","since":"2026-11-30T10:00:00Z"}']) {
    assert.equal(parseHolder(bad), undefined, bad);
  }
  assert.equal(describeHolder(undefined), 'a holder that has not recorded itself');
});

test('a directory made for a file lets in whoever may use the file', () => {
  assert.equal(directoryMode(0o644), 0o755);
  assert.equal(directoryMode(0o660), 0o770);
  assert.equal(directoryMode(0o600), 0o700);
  assert.equal(directoryMode(0o664), 0o775);
  assert.equal(directoryMode(0o640), 0o750);
  assert.equal(directoryMode(0o220), 0o330);
});

test('a marker path that a rename cannot replace is named before anything is published', () => {
  const facts = (over: Partial<{ dev: number; uid: number; mode: number; dir: boolean }>): FileFacts => ({
    dev: over.dev ?? 1,
    uid: over.uid ?? 0,
    mode: over.mode ?? 0o100644,
    isDirectory: () => over.dir ?? false,
  });
  const dir = facts({ mode: 0o40755, dir: true });
  assert.equal(replaceProblem(facts({}), dir, 0), undefined);
  assert.equal(replaceProblem(facts({ dir: true }), dir, 0), 'is a directory');
  assert.match(replaceProblem(facts({ dev: 2 }), dir, 0) ?? '', /mount point/);
  const sticky = facts({ mode: 0o41777, dir: true, uid: 0 });
  assert.match(replaceProblem(facts({ uid: 1000 }), sticky, 2000) ?? '', /sticky directory/);
  assert.equal(replaceProblem(facts({ uid: 2000 }), sticky, 2000), undefined, 'its owner may');
  assert.equal(replaceProblem(facts({ uid: 1000 }), sticky, 0), undefined, 'root may');
  assert.equal(replaceProblem(facts({ uid: 1000 }), dir, 2000), undefined, 'without the sticky bit the directory decides');
});
