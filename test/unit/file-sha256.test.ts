import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileSha256 } from '../../src/local/file-sha256.js';

const MiB = 1 << 20;

test('fileSha256 equals the SHA-256 of the whole file at and around its buffer boundaries', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'file-sha256-'));
  try {
    for (const size of [0, 1, MiB - 1, MiB, MiB + 1, 2 * MiB, 3 * MiB + 12_345]) {
      const bytes = randomBytes(size);
      const file = path.join(dir, `f${size}`);
      await writeFile(file, bytes);
      assert.equal(await fileSha256(file, new AbortController().signal), createHash('sha256').update(bytes).digest('hex'), `${size} bytes`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('fileSha256 stops at an abort, with its reads settled', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'file-sha256-'));
  try {
    const file = path.join(dir, 'big');
    await writeFile(file, randomBytes(8 * MiB));
    const controller = new AbortController();
    const hashing = fileSha256(file, controller.signal);
    controller.abort(new Error('stop'));
    await assert.rejects(hashing, /stop/);
    const aborted = AbortSignal.abort(new Error('before'));
    await assert.rejects(fileSha256(file, aborted), /before/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('fileSha256 reports a missing file', async () => {
  await assert.rejects(fileSha256('/nonexistent/file', new AbortController().signal), { code: 'ENOENT' });
});
