// The zstd decoder of the zlayer layout (src/layout/zlayer/zstd.ts) on frames
// written by the real zstd encoder: the crate's framing (no content size, no
// checksum), the CLI's (content size, XXH64 checksum), several frames and
// skippable frames, in chunks of any size; and every kind of damage is a
// CorruptBackupError. A highly compressed object streams with bounded memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CorruptBackupError } from '../../src/errors.js';
import { decodeInto } from '../../src/codec/decoder.js';
import { createZstdDecoder, MAX_WINDOW } from '../../src/codec/zstd.js';
import { zstdCompress, zstdDecompressCli } from '../support/zlayer.js';

/** Text-like data that compresses well, plus an incompressible stretch (raw blocks). */
function sample(size: number, seed = 1): Buffer {
  const parts: Buffer[] = [];
  let n = 0;
  for (let i = 0; n < size; i += 1) {
    const line = Buffer.from(`row ${i * seed} name-${(i * 2654435761) % 1000003} qty ${i % 97} ${'x'.repeat(i % 50)}\n`);
    parts.push(line);
    n += line.length;
    if (i === 2000) {
      const noise = randomBytes(200_000);
      parts.push(noise);
      n += noise.length;
    }
  }
  return Buffer.concat(parts).subarray(0, size);
}

async function decodeChunked(data: Buffer, chunkSize: number, name = 'object'): Promise<{ out: Buffer; frames: number }> {
  const decoder = await createZstdDecoder({ name });
  const out: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += chunkSize) {
    decoder.push(data.subarray(i, i + chunkSize));
    for (let piece = decoder.read(); piece; piece = decoder.read()) out.push(piece);
  }
  const summary = decoder.end();
  assert.equal(summary.bytesIn, data.length);
  return { out: Buffer.concat(out), frames: summary.frames };
}

async function rejects(data: Buffer, pattern: RegExp, chunkSize = 1 << 16): Promise<void> {
  await assert.rejects(decodeChunked(data, chunkSize, 'wal/00000000000000000001.wal.zst'), (err: unknown) => {
    assert.ok(err instanceof CorruptBackupError, `expected a CorruptBackupError, got ${String(err)}`);
    assert.match(err.message, /^wal\/00000000000000000001\.wal\.zst: zstd: /);
    assert.match(err.message, pattern);
    return true;
  });
}

const source = sample(3_000_000);

test('the crate framing (streaming encoder, no size, no checksum) decodes in chunks of any size', async () => {
  const frame = zstdCompress(source);
  // Descriptor: no content size (bits 7-6 = 0), not single segment, no checksum, no dictionary.
  assert.equal(frame[4]! & 0b1110_0111, 0);
  for (const chunk of [1 << 16, 4096, 1000, 3]) {
    const { out, frames } = await decodeChunked(frame, chunk);
    assert.equal(frames, 1);
    assert.ok(out.equals(source), `chunks of ${chunk}`);
  }
});

test('CLI framing: content size, XXH64 checksum, high levels, empty content', async () => {
  for (const opts of [{ checksum: true, contentSize: true }, { checksum: true }, { level: 19, checksum: true, contentSize: true }, { level: 1 }]) {
    const data = opts.level === 19 ? source.subarray(0, 400_000) : source;
    const { out } = await decodeChunked(zstdCompress(data, opts), 65536);
    assert.ok(out.equals(data), JSON.stringify(opts));
  }
  for (const opts of [{}, { checksum: true, contentSize: true }]) {
    const { out, frames } = await decodeChunked(zstdCompress(Buffer.alloc(0), opts), 7);
    assert.equal(out.length, 0);
    assert.equal(frames, 1);
  }
  const tiny = Buffer.from('tiny');
  assert.ok((await decodeChunked(zstdCompress(tiny, { checksum: true, contentSize: true }), 1)).out.equals(tiny));
});

test('several frames and skippable frames are read in order', async () => {
  const a = sample(100_000, 2);
  const b = sample(50_000, 3);
  const skippable = Buffer.concat([Buffer.from([0x5a, 0x2a, 0x4d, 0x18]), Buffer.from([5, 0, 0, 0]), Buffer.from('hello')]);
  const data = Buffer.concat([skippable, zstdCompress(a, { checksum: true }), skippable, zstdCompress(b), skippable]);
  for (const chunk of [1 << 16, 5]) {
    const { out, frames } = await decodeChunked(data, chunk);
    assert.equal(frames, 2);
    assert.ok(out.equals(Buffer.concat([a, b])));
  }
  assert.ok(zstdDecompressCli(data).equals(Buffer.concat([a, b])), 'the CLI agrees');
});

test('damage is reported: truncation, garbage, checksum, content size, bit flips', async () => {
  const plain = zstdCompress(source);
  const checked = zstdCompress(source, { checksum: true, contentSize: true });
  await rejects(Buffer.alloc(0), /holds no zstd frame/);
  await rejects(plain.subarray(0, 3), /truncated/);
  await rejects(plain.subarray(0, plain.length - 1), /truncated/);
  await rejects(plain.subarray(0, 100_000), /truncated/, 999);
  await rejects(Buffer.concat([plain, Buffer.from('trailing garbage')]), /not a zstd frame at offset \d+/);
  await rejects(Buffer.from('SQLite format 3\0 and more'), /not a zstd frame at offset 0/);

  const badChecksum = Buffer.from(checked);
  badChecksum[badChecksum.length - 1]! ^= 0xff;
  await rejects(badChecksum, /content checksum mismatch/);

  // The content size field follows the descriptor (and the window byte when not single-segment).
  const sized = zstdCompress(source, { contentSize: true });
  const descriptor = sized[4]!;
  assert.equal(descriptor >> 6, 2, 'a 4-byte content size');
  const at = 5 + ((descriptor >> 5) & 1 ? 0 : 1);
  const wrongSize = Buffer.from(sized);
  wrongSize.writeUInt32LE(source.length + 1, at);
  await rejects(wrongSize, /declares 3000001 bytes but holds 3000000|invalid data/);

  // A flipped byte inside compressed data: the decoder fails, or the checksum does.
  let caught = 0;
  for (const offset of [1000, 50_000, 400_000, Math.floor(checked.length / 2)]) {
    const flipped = Buffer.from(checked);
    flipped[offset]! ^= 0x5a;
    try {
      const { out } = await decodeChunked(flipped, 65536);
      assert.ok(!out.equals(source), 'a flip cannot go unnoticed and decode to the original');
    } catch (err) {
      assert.ok(err instanceof CorruptBackupError, String(err));
      caught += 1;
    }
  }
  assert.equal(caught, 4, 'every flip in a checksummed frame is detected');
});

test('frames this layout never writes are refused before anything is allocated', async () => {
  const block = Buffer.from([0x01, 0x00, 0x00]); // last, raw, 0 bytes
  const magic = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
  // Window descriptor exponent 31 - 10 = 21 -> 2 GiB window.
  await rejects(Buffer.concat([magic, Buffer.from([0x00, 21 << 3]), block]), new RegExp(`needs a 2147483648-byte window, more than the ${MAX_WINDOW}`));
  // Dictionary id 7 (1 byte).
  await rejects(Buffer.concat([magic, Buffer.from([0x01, 0x00, 0x07]), block]), /needs dictionary 7/);
  // Reserved descriptor bit.
  await rejects(Buffer.concat([magic, Buffer.from([0x08, 0x00]), block]), /reserved descriptor bit/);
  // Reserved block type 3.
  await rejects(Buffer.concat([magic, Buffer.from([0x00, 0x00]), Buffer.from([0x07, 0x00, 0x00])]), /reserved block type/);
  // A block larger than 128 KiB.
  await rejects(Buffer.concat([magic, Buffer.from([0x00, 0x58]), Buffer.from([0x01, 0x00, 0x11])]), /more than a block may hold/);
  // A window within the limit but smaller than the data's is the decoder's to refuse.
  const ok = await createZstdDecoder({ name: 'x', maxWindow: 1 << 20 });
  ok.push(zstdCompress(source));
  assert.throws(() => ok.read(), /needs a 2097152-byte window, more than the 1048576 bytes allowed/);
});

test('decodeInto streams a zip bomb one block at a time, nothing decoded ahead of the sink', async () => {
  const size = 300 * 1024 * 1024;
  const frame = zstdCompress(Buffer.alloc(size), { level: 3 });
  assert.ok(frame.length < 64 * 1024, `a run of zeros compresses to almost nothing (${frame.length} bytes)`);
  let received = 0;
  let largest = 0;
  const hash = createHash('sha256');
  await decodeInto(
    frame,
    await createZstdDecoder({ name: 'zeros' }),
    async (piece) => {
      largest = Math.max(largest, piece.length);
      received += piece.length;
      hash.update(piece);
      // A slow consumer: the decoder must wait rather than run ahead.
      if (received % (16 << 20) === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    },
    new AbortController().signal,
  );
  assert.equal(received, size);
  assert.equal(hash.digest('hex'), createHash('sha256').update(Buffer.alloc(size)).digest('hex'));
  assert.ok(largest <= 128 * 1024, `one zstd block at most per piece, saw ${largest}`);
});

test('decodeInto reports damage as a CorruptBackupError', async () => {
  const frame = zstdCompress(source);
  await assert.rejects(
    decodeInto(frame.subarray(0, frame.length - 10), await createZstdDecoder({ name: 'snapshots/20260301_120000.sqlite.zst' }), () => undefined, new AbortController().signal),
    (err: unknown) => err instanceof CorruptBackupError && /snapshots\/20260301_120000\.sqlite\.zst: zstd: truncated/.test(err.message),
  );
});
