import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createDecoder, decodeInto } from '../../src/codec/decoder.js';
import { WorkerDecoder } from '../../src/codec/worker-decoder.js';
import { CorruptBackupError } from '../../src/errors.js';
import { lz4EncodeStored } from '../support/lz4.js';

const GO_FRAME = readFileSync(new URL('../../../test/fixtures/lz4/litestream-pierrec-v4.1.18-default.lz4', import.meta.url));

/** `data` in chunks of `size` bytes, each in an ArrayBuffer of its own (as downloaded parts are), counting how many were taken. */
function chunked(data: Uint8Array, size: number): AsyncIterable<Uint8Array> & { taken: number } {
  const source = {
    taken: 0,
    async *[Symbol.asyncIterator]() {
      for (let at = 0; at < data.length; at += size) {
        source.taken += 1;
        yield new Uint8Array(data.subarray(at, Math.min(at + size, data.length)));
      }
    },
  };
  return source;
}

async function collect(run: (sink: (piece: Uint8Array) => Promise<void>) => Promise<void>): Promise<Buffer> {
  const pieces: Buffer[] = [];
  await run(async (piece) => {
    pieces.push(Buffer.from(piece));
    // A slow consumer: the worker must wait for it, not run ahead.
    await new Promise((resolve) => setImmediate(resolve));
  });
  return Buffer.concat(pieces);
}

test('a worker decodes an LZ4 frame to the same bytes as the calling thread, in any chunking, job after job', async () => {
  const big = randomBytes(9 << 20); // three 4 MiB blocks, the last one short
  const frames = [
    { frame: GO_FRAME, chunk: 4096 },
    { frame: lz4EncodeStored(big), chunk: 4 << 20 },
    { frame: lz4EncodeStored(big), chunk: 1 << 20 },
  ];
  const decoder = new WorkerDecoder();
  try {
    for (const { frame, chunk } of frames) {
      const signal = new AbortController().signal;
      const want = await collect(async (sink) => decodeInto(frame, await createDecoder('lz4', 'x'), sink, signal));
      const got = await collect((sink) => decoder.decode(chunked(frame, chunk), 'lz4', 'x', sink, signal));
      assert.ok(got.equals(want), `${frame.length} bytes in chunks of ${chunk}`);
    }
  } finally {
    await decoder.close();
  }
});

test('corrupt input is a CorruptBackupError naming the object, and the worker goes on with the next job', async () => {
  const frame = lz4EncodeStored(randomBytes(6 << 20));
  const damaged = Buffer.from(frame);
  damaged.writeUInt8(damaged.readUInt8(damaged.length - 1) ^ 0xff, damaged.length - 1); // the content checksum
  const decoder = new WorkerDecoder();
  try {
    const signal = new AbortController().signal;
    await assert.rejects(
      decoder.decode(chunked(damaged, 1 << 20), 'lz4', 'wal/00000001.wal.lz4', () => undefined, signal),
      (err: unknown) => err instanceof CorruptBackupError && /^wal\/00000001\.wal\.lz4: .*checksum/i.test(err.message),
    );
    await assert.rejects(decoder.decode(chunked(Buffer.from('not lz4'), 4), 'lz4', 'x', () => undefined, signal), /x: not an LZ4 frame/);
    const got = await collect((sink) => decoder.decode(chunked(frame, 1 << 20), 'lz4', 'y', sink, signal));
    assert.equal(got.length, 6 << 20);
  } finally {
    await decoder.close();
  }
});

test('enough() stops the decoding and the reading of the input; the next job starts clean', async () => {
  const data = randomBytes(24 << 20);
  const frame = lz4EncodeStored(data);
  const decoder = new WorkerDecoder();
  try {
    const signal = new AbortController().signal;
    const input = chunked(frame, 1 << 20);
    let pieces = 0;
    await decoder.decode(input, 'lz4', 'x', () => void (pieces += 1), signal, () => pieces >= 1);
    assert.equal(pieces, 1);
    assert.ok(input.taken < 12, `read ${input.taken} of 25 chunks`);
    const got = await collect((sink) => decoder.decode(chunked(frame, 4 << 20), 'lz4', 'x', sink, signal));
    assert.ok(got.equals(data));
  } finally {
    await decoder.close();
  }
});

test('an abort stops a decoding that waits on its consumer', async () => {
  const frame = lz4EncodeStored(randomBytes(16 << 20));
  const decoder = new WorkerDecoder();
  try {
    const controller = new AbortController();
    const running = decoder.decode(chunked(frame, 1 << 20), 'lz4', 'x', () => controller.abort(), controller.signal);
    await assert.rejects(running, { name: 'AbortError' });
  } finally {
    await decoder.close();
  }
});
