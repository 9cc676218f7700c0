import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, closeSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { CorruptBackupError, InternalError } from '../../src/errors.js';
import type { Compression } from '../../src/layout/layout.js';
import { imageSource } from '../../src/apply/image-source.js';
import { SnapshotFile } from '../../src/apply/snapshot-file.js';
import { SnapshotProgress } from '../../src/apply/snapshot-progress.js';
import { writeSnapshot, writeSnapshotInWorker } from '../../src/apply/snapshot-writer.js';
import { ltxSnapshotSource } from '../../src/layout/ltx/snapshot-source.js';
import type { LtxSummary } from '../../src/layout/ltx/decoder.js';
import { encodeLtx, patternPage, sqlitePage1 } from '../support/ltx.js';
import { zstdCompress } from '../support/zlayer.js';

const fixtures = new URL('../../../test/fixtures/lz4/', import.meta.url);
const litestreamFrame = readFileSync(new URL('litestream-pierrec-v4.1.18-default.lz4', fixtures));
const expectedSha = readFileSync(new URL('expected-sha256.txt', fixtures), 'utf8').split(/\s+/)[0];

/** The input in pieces of `size` bytes, each a separate Buffer, as a download would deliver them. */
function pieces(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(Buffer.from(data.subarray(i, i + size)));
  return out;
}

async function withFile<T>(flags: string, fn: (fd: number, file: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(tmpdir(), 'snapshot-writer-'));
  const file = path.join(dir, 'db');
  if (flags === 'r') closeSync(openSync(file, 'w'));
  const fd = openSync(file, flags);
  try {
    return await fn(fd, file);
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function roundTrip(compression: Compression, compressed: Buffer, chunk: number) {
  return withFile('w+', async (fd, file) => {
    const written = await writeSnapshotInWorker(Readable.from(pieces(compressed, chunk)), {
      source: imageSource(compression),
      fd,
      name: 'snapshot',
      signal: new AbortController().signal,
    });
    return { written, bytes: readFileSync(file) };
  });
}

test('a Litestream LZ4 snapshot is decoded and written by the worker, whatever the chunking', async () => {
  for (const chunk of [7, 997, 65536, 1 << 22]) {
    const { written, bytes } = await roundTrip('lz4', litestreamFrame, chunk);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), expectedSha, `chunks of ${chunk}`);
    assert.equal(written.bytes, bytes.length);
    assert.deepEqual(written.head, bytes.subarray(0, 100));
  }
});

test('zstd and uncompressed snapshots larger than several batches round-trip', async () => {
  const data = Buffer.concat([randomBytes(3 << 20), Buffer.alloc(3 << 20, 7)]);
  for (const [compression, input] of [
    ['zstd', zstdCompress(data)],
    ['none', data],
  ] as const) {
    const { written, bytes } = await roundTrip(compression, input, 100_003);
    assert.equal(written.bytes, data.length, compression);
    assert.ok(bytes.equals(data), `${compression}: file content`);
  }
});

test('a corrupt snapshot is a CorruptBackupError naming the object', async () => {
  const bad = Buffer.from(litestreamFrame);
  bad[bad.length - 2] = (bad[bad.length - 2] as number) ^ 0xff; // inside the content checksum
  await assert.rejects(roundTrip('lz4', bad, 4096), (err: unknown) => err instanceof CorruptBackupError && /^snapshot: /.test(err.message));
  await assert.rejects(roundTrip('lz4', litestreamFrame.subarray(0, 1000), 4096), CorruptBackupError, 'truncated');
});

test('a download error and an abort stop the worker and surface as they are', async () => {
  await withFile('w+', async (fd) => {
    async function* failing() {
      yield Buffer.from(litestreamFrame.subarray(0, 5000));
      throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
    }
    await assert.rejects(
      writeSnapshotInWorker(Readable.from(failing()), { source: imageSource('lz4'), fd, name: 's', signal: new AbortController().signal }),
      /connection reset/,
    );
    const abort = new AbortController();
    async function* endless() {
      for (;;) {
        yield Buffer.alloc(1 << 20);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    setTimeout(() => abort.abort(new Error('stop now')), 50);
    await assert.rejects(writeSnapshotInWorker(Readable.from(endless()), { source: imageSource('none'), fd, name: 's', signal: abort.signal }), /stop now/);
  });
});

test('a write error keeps its errno code, so a full disk maps to its exit code', async () => {
  await withFile('r', async (fd) => {
    await assert.rejects(
      writeSnapshotInWorker(Readable.from([Buffer.alloc(1000)]), { source: imageSource('none'), fd, name: 's', signal: new AbortController().signal }),
      (err: NodeJS.ErrnoException) => err.code === 'EBADF',
    );
  });
});

test('an LTX snapshot is written in place: pages at their offsets, the size from the commit', async () => {
  const pageSize = 4096;
  const pages = [
    { pgno: 1, data: sqlitePage1(pageSize, 5) },
    ...[2, 3, 4, 5].map((pgno) => ({ pgno, data: patternPage(pageSize, pgno) })),
  ];
  for (const encoding of ['frame', 'block'] as const) {
    const file = encodeLtx({ pageSize, commit: 5, minTxid: 1n, maxTxid: 9n, pages, encoding });
    const { written, bytes } = await withFile('w+', async (fd, path) => {
      const result = await writeSnapshotInWorker(Readable.from(pieces(file, 1000)), {
        source: ltxSnapshotSource(),
        fd,
        name: 'snap.ltx',
        signal: new AbortController().signal,
      });
      return { written: result, bytes: readFileSync(path) };
    });
    assert.equal(written.bytes, 5 * pageSize, encoding);
    assert.equal(bytes.length, 5 * pageSize, `${encoding}: file size`);
    for (const { pgno, data } of pages) assert.ok(bytes.subarray((pgno - 1) * pageSize, pgno * pageSize).equals(data), `${encoding}: page ${pgno}`);
    assert.deepEqual(written.head, bytes.subarray(0, 100));
    assert.equal((written.details as LtxSummary | undefined)?.header.maxTxid, 9n);
  }
  const truncated = encodeLtx({ pageSize, commit: 5, minTxid: 1n, maxTxid: 9n, pages, encoding: 'block' }).subarray(0, 5000);
  await assert.rejects(
    withFile('w+', (fd) => writeSnapshotInWorker(Readable.from([truncated]), { source: ltxSnapshotSource(), fd, name: 'snap.ltx', signal: new AbortController().signal })),
    (err: unknown) => err instanceof CorruptBackupError && /^snap\.ltx: truncated LTX file/.test(err.message),
  );
});

test('whole downloaded parts move to the worker without a copy; slices of shared memory are copied', async () => {
  const data = Buffer.concat([randomBytes(1 << 20), Buffer.alloc(3 << 20, 1)]);
  const owned = [0, 1, 2, 3].map((i) => Buffer.from(data.subarray(i << 20, (i + 1) << 20)));
  const shared = Buffer.from(data); // one ArrayBuffer for all of it
  const mixed = [owned[0] as Buffer, shared.subarray(1 << 20, 2 << 20), owned[2] as Buffer, owned[3] as Buffer];
  await withFile('w+', async (fd, file) => {
    const written = await writeSnapshotInWorker(Readable.from(mixed), { source: imageSource('none'), fd, name: 's', signal: new AbortController().signal });
    assert.equal(written.bytes, data.length);
    assert.ok(readFileSync(file).equals(data));
  });
  assert.equal(owned[0]?.byteLength, 0, 'a part that owns its memory was transferred (detached here)');
  assert.equal(shared.byteLength, data.length, 'a slice of a larger buffer was copied, not taken');
});

test('the progress never runs ahead of a write still in flight, and is the whole file at the end', async () => {
  const data = randomBytes(12 << 20);
  await withFile('w+', async (fd) => {
    const progress = new SnapshotProgress();
    const file = await SnapshotFile.open(imageSource('none'), fd, 's', progress.buffer);
    let seen = 0;
    for (const piece of pieces(data, 1 << 20)) {
      await file.feed(piece);
      const settled = progress.settled;
      assert.ok(settled >= seen, 'it only grows');
      seen = settled;
      const onDisk = Buffer.alloc(settled);
      assert.equal(readSync(fd, onDisk, 0, settled, 0), settled, `the first ${settled} bytes are in the file`);
      assert.ok(onDisk.equals(data.subarray(0, settled)), `the first ${settled} bytes are final`);
    }
    assert.ok(seen > 0, 'it moves before the end');
    await file.finish();
    assert.equal(progress.settled, data.length);
  });
});

test('the worker and the inline writer both advance a shared progress', async () => {
  const data = randomBytes(10 << 20);
  for (const size of [data.length, 1000]) {
    await withFile('w+', async (fd) => {
      const progress = new SnapshotProgress();
      await writeSnapshot(Readable.from(pieces(data, 1 << 20)), { source: imageSource('none'), fd, name: 's', size, progress: progress.buffer, signal: new AbortController().signal });
      assert.equal(progress.settled, data.length, `stored size ${size}`);
    });
  }
});

test('a snapshot source whose writes go back is refused: the progress relies on them ascending', async () => {
  const module = `data:text/javascript,${encodeURIComponent(`
    export async function createSnapshotSource() {
      const writes = [{ position: 4096, data: new Uint8Array(4096) }, { position: 0, data: new Uint8Array(4096) }];
      return { push() {}, read: () => writes.shift(), end: () => ({ size: 8192 }) };
    }`)}`;
  await withFile('w+', async (fd) => {
    const file = await SnapshotFile.open({ module, params: {} }, fd, 's', new SnapshotProgress().buffer);
    await assert.rejects(file.feed(new Uint8Array(1)), (err: unknown) => err instanceof InternalError && /snapshot writes must ascend: 0 after 8192/.test(err.message));
  });
});
