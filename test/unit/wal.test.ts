import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  WAL_FRAME_HEADER_SIZE,
  WAL_HEADER_SIZE,
  WalReader,
  frameChecksum,
  isValidPageSize,
  parseWalHeader,
  walChecksum,
  type WalFrame,
} from '../../src/sqlite/wal.js';
import { CorruptBackupError } from '../../src/errors.js';

// ---------------------------------------------------------------------------
// An independent WAL writer, straight from the file-format description.

const MAGIC_LE = 0x377f0682;
const MAGIC_BE = 0x377f0683;

/** Reads a 32-bit word byte by byte (no DataView, to stay independent of the code under test). */
function word(bytes: Uint8Array, at: number, bigEndian: boolean): number {
  const b0 = bytes[at] ?? 0;
  const b1 = bytes[at + 1] ?? 0;
  const b2 = bytes[at + 2] ?? 0;
  const b3 = bytes[at + 3] ?? 0;
  return bigEndian ? (b0 * 0x1000000 + (b1 << 16) + (b2 << 8) + b3) : (b3 * 0x1000000 + (b2 << 16) + (b1 << 8) + b0);
}

/** s0 += x0 + s1; s1 += x1 + s0 over pairs of 32-bit words, mod 2^32. */
function refChecksum(bytes: Uint8Array, bigEndian: boolean, s0: number, s1: number): [number, number] {
  assert.equal(bytes.length % 8, 0);
  for (let i = 0; i < bytes.length; i += 8) {
    s0 = (s0 + word(bytes, i, bigEndian) + s1) % 0x100000000;
    s1 = (s1 + word(bytes, i + 4, bigEndian) + s0) % 0x100000000;
  }
  return [s0, s1];
}

function putU32BE(bytes: Uint8Array, at: number, n: number): void {
  bytes[at] = (n >>> 24) & 0xff;
  bytes[at + 1] = (n >>> 16) & 0xff;
  bytes[at + 2] = (n >>> 8) & 0xff;
  bytes[at + 3] = n & 0xff;
}

function getU32BE(bytes: Uint8Array, at: number): number {
  return word(bytes, at, true);
}

interface FrameSpec {
  pgno: number;
  /** Database size after commit, 0 for a non-commit frame. */
  commit: number;
  /** Distinguishes page versions; written into the page bytes. */
  version?: number;
  /** Override the salts written into this frame's header (checksums stay consistent). */
  salt1?: number;
  salt2?: number;
}

interface WalSpec {
  bigEndian?: boolean;
  pageSize?: number;
  /** Raw value of the page-size field, when it differs from pageSize (1 means 65536). */
  rawPageSize?: number;
  checkpointSeq?: number;
  salt1?: number;
  salt2?: number;
  frames: FrameSpec[];
}

function pageBytes(pageSize: number, pgno: number, version: number): Uint8Array {
  const page = new Uint8Array(pageSize);
  for (let i = 0; i < pageSize; i += 1) page[i] = (i * 31 + pgno * 7 + version * 13) & 0xff;
  page[0] = pgno & 0xff;
  page[1] = version & 0xff;
  return page;
}

function buildWal(spec: WalSpec): Uint8Array {
  const bigEndian = spec.bigEndian ?? false;
  const pageSize = spec.pageSize ?? 512;
  const salt1 = spec.salt1 ?? 0x11223344;
  const salt2 = spec.salt2 ?? 0xa5b6c7d8;
  const frameSize = WAL_FRAME_HEADER_SIZE + pageSize;
  const out = new Uint8Array(WAL_HEADER_SIZE + spec.frames.length * frameSize);
  putU32BE(out, 0, bigEndian ? MAGIC_BE : MAGIC_LE);
  putU32BE(out, 4, 3007000);
  putU32BE(out, 8, spec.rawPageSize ?? pageSize);
  putU32BE(out, 12, spec.checkpointSeq ?? 0);
  putU32BE(out, 16, salt1);
  putU32BE(out, 20, salt2);
  let [s0, s1] = refChecksum(out.subarray(0, 24), bigEndian, 0, 0);
  putU32BE(out, 24, s0);
  putU32BE(out, 28, s1);
  spec.frames.forEach((f, i) => {
    const at = WAL_HEADER_SIZE + i * frameSize;
    putU32BE(out, at, f.pgno);
    putU32BE(out, at + 4, f.commit);
    putU32BE(out, at + 8, f.salt1 ?? salt1);
    putU32BE(out, at + 12, f.salt2 ?? salt2);
    out.set(pageBytes(pageSize, f.pgno, f.version ?? i), at + WAL_FRAME_HEADER_SIZE);
    [s0, s1] = refChecksum(out.subarray(at, at + 8), bigEndian, s0, s1);
    [s0, s1] = refChecksum(out.subarray(at + WAL_FRAME_HEADER_SIZE, at + frameSize), bigEndian, s0, s1);
    putU32BE(out, at + 16, s0);
    putU32BE(out, at + 20, s1);
  });
  return out;
}

interface Seen {
  pgno: number;
  commitSize: number;
  offset: number;
  page: Buffer;
}

function reader(mode: 'strict' | 'lenient', name = 'test.wal'): { wal: WalReader; seen: Seen[] } {
  const seen: Seen[] = [];
  const wal = new WalReader({
    name,
    mode,
    onFrame: (f: WalFrame) => void seen.push({ pgno: f.pgno, commitSize: f.commitSize, offset: f.offset, page: Buffer.from(f.page) }),
  });
  return { wal, seen };
}

function feed(wal: WalReader, bytes: Uint8Array, chunkSizes: number | number[]): void {
  let pos = 0;
  let k = 0;
  while (pos < bytes.length) {
    const n = typeof chunkSizes === 'number' ? chunkSizes : (chunkSizes[k++ % chunkSizes.length] as number);
    wal.push(bytes.subarray(pos, pos + n));
    pos += n;
  }
}

const frameSize512 = WAL_FRAME_HEADER_SIZE + 512;
const frameOffset = (i: number, pageSize = 512) => WAL_HEADER_SIZE + i * (WAL_FRAME_HEADER_SIZE + pageSize);

/** Three transactions: {1,2} size 2; {3,1} size 3; {2} size 3. */
const multiTx: FrameSpec[] = [
  { pgno: 1, commit: 0 },
  { pgno: 2, commit: 2 },
  { pgno: 3, commit: 0 },
  { pgno: 1, commit: 3 },
  { pgno: 2, commit: 3 },
];

// ---------------------------------------------------------------------------
// Checksum

test('walChecksum matches hand-computed vectors in both byte orders', () => {
  // x0 = 1, x1 = 2: s0 = 0 + 1 + 0 = 1, s1 = 0 + 2 + 1 = 3.
  assert.deepEqual(walChecksum(Uint8Array.from([1, 0, 0, 0, 2, 0, 0, 0]), false, 0, 0), [1, 3]);
  assert.deepEqual(walChecksum(Uint8Array.from([0, 0, 0, 1, 0, 0, 0, 2]), true, 0, 0), [1, 3]);
  // Byte order matters.
  assert.deepEqual(walChecksum(Uint8Array.from([1, 0, 0, 0, 2, 0, 0, 0]), true, 0, 0), [0x01000000, 0x03000000]);
  // Seeded and wrapping mod 2^32: s0 = 5 + 0xffffffff + 7 = 0x1_0000_000b -> 0xb; s1 = 7 + 1 + 0xb = 0x13.
  assert.deepEqual(walChecksum(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0]), false, 5, 7), [0xb, 0x13]);
  // Cumulative over two pairs equals chaining.
  const data = Uint8Array.from([9, 8, 7, 6, 5, 4, 3, 2, 1, 2, 3, 4, 5, 6, 7, 8]);
  const [a, b] = walChecksum(data.subarray(0, 8), false, 0, 0);
  assert.deepEqual(walChecksum(data, false, 0, 0), walChecksum(data.subarray(8), false, a, b));
});

test('frameChecksum covers the first 8 bytes of a frame and its page, aligned or not, in both byte orders', () => {
  const backing = new Uint8Array(3 + WAL_FRAME_HEADER_SIZE + 1024);
  let x = 777;
  for (let i = 0; i < backing.length; i += 1) {
    x = (x * 1103515245 + 12345) >>> 0;
    backing[i] = x >>> 24;
  }
  for (const start of [0, 3]) {
    for (const be of [false, true]) {
      const frame = backing.subarray(start, start + WAL_FRAME_HEADER_SIZE + 1024);
      const [a0, b0] = refChecksum(frame.subarray(0, 8), be, 11, 22);
      const [a, b] = refChecksum(frame.subarray(WAL_FRAME_HEADER_SIZE), be, a0, b0);
      const sums = new Uint32Array(2);
      // The checksum the frame carries is compared: first a wrong one, then the right one.
      const view = new DataView(frame.buffer, frame.byteOffset);
      view.setUint32(16, (a + 1) >>> 0);
      view.setUint32(20, b);
      assert.equal(frameChecksum(frame, be, 11, 22, sums), false, `start ${start} be ${be}`);
      assert.deepEqual([...sums], [0, 0]);
      view.setUint32(16, a);
      assert.equal(frameChecksum(frame, be, 11, 22, sums), true, `start ${start} be ${be}`);
      assert.deepEqual([...sums], [a, b]);
    }
  }
});

test('walChecksum agrees with the reference implementation on pseudo-random data and rejects odd lengths', () => {
  const data = new Uint8Array(4096);
  let x = 12345;
  for (let i = 0; i < data.length; i += 1) {
    x = (x * 1103515245 + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  for (const be of [false, true]) {
    assert.deepEqual(walChecksum(data, be, 0xdeadbeef, 0x01234567), refChecksum(data, be, 0xdeadbeef, 0x01234567));
  }
  // A subarray with a non-zero byteOffset.
  const sub = data.subarray(8, 8 + 512);
  assert.deepEqual(walChecksum(sub, false, 0, 0), refChecksum(sub, false, 0, 0));
  // Not 4-byte aligned: the word-array fast path cannot take it.
  const odd = data.subarray(3, 3 + 1024);
  for (const be of [false, true]) assert.deepEqual(walChecksum(odd, be, 1, 2), refChecksum(odd, be, 1, 2));
  assert.throws(() => walChecksum(new Uint8Array(12), false, 0, 0), RangeError);
});

test('isValidPageSize accepts powers of two from 512 to 65536 only', () => {
  for (const n of [512, 1024, 4096, 32768, 65536]) assert.equal(isValidPageSize(n), true, String(n));
  for (const n of [0, 1, 256, 513, 1000, 3072, 131072]) assert.equal(isValidPageSize(n), false, String(n));
});

// ---------------------------------------------------------------------------
// Header

test('parseWalHeader reads the fields of a little-endian-checksum header', () => {
  const bytes = buildWal({ pageSize: 1024, checkpointSeq: 7, salt1: 0xcafebabe, salt2: 0x00c0ffee, frames: [] });
  const h = parseWalHeader(bytes, 'x.wal');
  assert.equal(h.bigEndian, false);
  assert.equal(h.pageSize, 1024);
  assert.equal(h.checkpointSeq, 7);
  assert.equal(h.salt1, 0xcafebabe);
  assert.equal(h.salt2, 0x00c0ffee);
  assert.deepEqual([h.checksum1, h.checksum2], refChecksum(bytes.subarray(0, 24), false, 0, 0));
});

test('parseWalHeader: page-size field 1 means 65536', () => {
  const bytes = buildWal({ pageSize: 65536, rawPageSize: 1, frames: [{ pgno: 1, commit: 1 }] });
  assert.equal(parseWalHeader(bytes, 'x.wal').pageSize, 65536);
  const { wal, seen } = reader('strict');
  wal.push(bytes);
  assert.equal(wal.end(), WAL_HEADER_SIZE + WAL_FRAME_HEADER_SIZE + 65536);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]?.page.length, 65536);
});

test('parseWalHeader rejects bad magic', () => {
  const bytes = buildWal({ frames: [] });
  putU32BE(bytes, 0, 0x377f0684);
  assert.throws(() => parseWalHeader(bytes, 'seg.wal'), (err: unknown) => {
    assert.ok(err instanceof CorruptBackupError);
    assert.match(err.message, /seg\.wal/);
    assert.match(err.message, /magic/);
    return true;
  });
  const { wal } = reader('lenient');
  assert.throws(() => wal.push(bytes), CorruptBackupError);
});

test('parseWalHeader rejects a bad header checksum', () => {
  const bytes = buildWal({ frames: [] });
  bytes[17] = (bytes[17] as number) ^ 0x01; // change salt-1 without fixing the checksum
  assert.throws(() => parseWalHeader(bytes, 'seg.wal'), /header checksum/);
  const good = buildWal({ frames: [] });
  good[31] = (good[31] as number) ^ 0x80; // corrupt the stored checksum itself
  assert.throws(() => parseWalHeader(good, 'seg.wal'), CorruptBackupError);
});

test('parseWalHeader rejects a wrong version, an invalid page size and a short header', () => {
  const v = buildWal({ frames: [] });
  putU32BE(v, 4, 3007001);
  assert.throws(() => parseWalHeader(v, 'a'), /version/);
  assert.throws(() => parseWalHeader(buildWal({ pageSize: 1000, frames: [] }), 'a'), /page size/);
  assert.throws(() => parseWalHeader(buildWal({ pageSize: 256, frames: [] }), 'a'), /page size/);
  assert.throws(() => parseWalHeader(buildWal({ frames: [] }).subarray(0, 31), 'a'), /truncated/);
});

// ---------------------------------------------------------------------------
// Reader: valid input

function checkMultiTx(seen: Seen[], bytes: Uint8Array): void {
  assert.deepEqual(
    seen.map((s) => [s.pgno, s.commitSize, s.offset]),
    multiTx.map((f, i) => [f.pgno, f.commit, frameOffset(i)]),
  );
  seen.forEach((s, i) => {
    const at = frameOffset(i) + WAL_FRAME_HEADER_SIZE;
    assert.ok(s.page.equals(bytes.subarray(at, at + 512)), `page of frame ${i}`);
  });
}

test('WalReader delivers every frame of a valid multi-transaction WAL fed in one chunk', () => {
  const bytes = buildWal({ frames: multiTx });
  const { wal, seen } = reader('strict');
  wal.push(bytes);
  checkMultiTx(seen, bytes);
  assert.equal(wal.frames, 5);
  assert.equal(wal.offset, bytes.length);
  assert.equal(wal.committedOffset, bytes.length);
  assert.equal(wal.end(), bytes.length);
  assert.equal(wal.walHeader?.pageSize, 512);
  assert.equal(wal.walHeader?.bigEndian, false);
});

test('WalReader delivers the same frames when fed 1 byte at a time or in odd chunks', () => {
  const bytes = buildWal({ frames: multiTx });
  const whole = reader('strict');
  whole.wal.push(bytes);
  for (const sizes of [1, [7], [3, 100, 1, 600, 31], [bytes.length - 1, 1], [WAL_HEADER_SIZE, frameSize512 + 5]]) {
    const { wal, seen } = reader('strict');
    feed(wal, bytes, sizes);
    checkMultiTx(seen, bytes);
    assert.deepEqual(seen, whole.seen);
    assert.equal(wal.end(), bytes.length);
  }
});

test('WalReader reads big-endian-checksum WALs (magic 0x377f0683)', () => {
  const bytes = buildWal({ bigEndian: true, frames: multiTx });
  // The same frames with little-endian checksums produce different checksums.
  const le = buildWal({ bigEndian: false, frames: multiTx });
  assert.notDeepEqual(bytes.subarray(24, 32), le.subarray(24, 32));
  for (const sizes of [bytes.length, 1]) {
    const { wal, seen } = reader('strict');
    feed(wal, bytes, sizes);
    assert.equal(wal.walHeader?.bigEndian, true);
    checkMultiTx(seen, bytes);
    assert.equal(wal.end(), bytes.length);
  }
  // A big-endian file with its magic switched to little-endian fails the header checksum.
  const swapped = Uint8Array.from(bytes);
  putU32BE(swapped, 0, MAGIC_LE);
  assert.throws(() => parseWalHeader(swapped, 'x'), /checksum/);
});

test('WalReader: an empty WAL (header only) is committed at offset 32', () => {
  const bytes = buildWal({ frames: [] });
  const { wal, seen } = reader('strict');
  wal.push(bytes);
  assert.equal(wal.end(), WAL_HEADER_SIZE);
  assert.equal(seen.length, 0);
});

test('WalReader strict end() throws when the WAL ends before its header', () => {
  const { wal } = reader('strict', 'empty.wal');
  assert.throws(() => wal.end(), (err: unknown) => err instanceof CorruptBackupError && /empty\.wal/.test(err.message));
  const partial = reader('strict');
  partial.wal.push(buildWal({ frames: [] }).subarray(0, 20));
  assert.throws(() => partial.wal.end(), CorruptBackupError);
});

// ---------------------------------------------------------------------------
// Reader: invalid input

const saltBroken: FrameSpec[] = [
  { pgno: 1, commit: 1 },
  { pgno: 2, commit: 2, salt1: 0x11223345 },
  { pgno: 3, commit: 3 },
];

test('WalReader strict: salt mismatch on frame 2 throws CorruptBackupError naming the offset', () => {
  const bytes = buildWal({ frames: saltBroken });
  const { wal, seen } = reader('strict', 'generations/g/wal/00000001_00000000.wal.lz4');
  assert.throws(
    () => wal.push(bytes),
    (err: unknown) => {
      assert.ok(err instanceof CorruptBackupError);
      assert.equal(err.exitCode, 65);
      assert.match(err.message, new RegExp(`offset ${frameOffset(1)}\\b`));
      assert.match(err.message, /salt/);
      assert.match(err.message, /00000001_00000000\.wal\.lz4/);
      return true;
    },
  );
  assert.equal(seen.length, 1);
});

test('WalReader strict: salt-2 mismatch is detected too', () => {
  const bytes = buildWal({ frames: [{ pgno: 1, commit: 1 }, { pgno: 2, commit: 2, salt2: 1 }] });
  const { wal } = reader('strict');
  assert.throws(() => wal.push(bytes), /salt/);
});

test('WalReader lenient: salt mismatch on frame 2 stops there; committedOffset is the last commit before it', () => {
  const bytes = buildWal({ frames: saltBroken });
  for (const sizes of [bytes.length, 1]) {
    const { wal, seen } = reader('lenient');
    feed(wal, bytes, sizes);
    assert.deepEqual(seen.map((s) => s.pgno), [1]);
    assert.equal(wal.committedOffset, frameOffset(1));
    assert.equal(wal.end(), frameOffset(1));
    assert.equal(wal.frames, 1);
  }
});

test('WalReader lenient: committedOffset is the last commit even when valid uncommitted frames precede the bad one', () => {
  const bytes = buildWal({
    frames: [
      { pgno: 1, commit: 0 },
      { pgno: 2, commit: 2 },
      { pgno: 3, commit: 0 },
      { pgno: 4, commit: 4, salt2: 42 },
      { pgno: 5, commit: 5 },
    ],
  });
  const { wal, seen } = reader('lenient');
  wal.push(bytes);
  assert.deepEqual(seen.map((s) => s.pgno), [1, 2, 3]);
  assert.equal(wal.end(), frameOffset(2));
});

test('WalReader lenient: nothing after the first invalid frame is accepted, even a frame that continues the chain', () => {
  // Frames 1 and 2 form a valid chain on their own; a foreign frame is wedged between them.
  const chain = buildWal({ frames: [{ pgno: 1, commit: 1 }, { pgno: 2, commit: 2 }] });
  const foreign = buildWal({ salt1: 1, salt2: 2, frames: [{ pgno: 3, commit: 3 }] }).subarray(WAL_HEADER_SIZE);
  const bytes = new Uint8Array(chain.length + foreign.length);
  bytes.set(chain.subarray(0, frameOffset(1)), 0);
  bytes.set(foreign, frameOffset(1));
  bytes.set(chain.subarray(frameOffset(1)), frameOffset(2));
  const { wal, seen } = reader('lenient');
  wal.push(bytes);
  assert.deepEqual(seen.map((f) => f.pgno), [1]);
  assert.equal(wal.end(), frameOffset(1));
  assert.equal(wal.offset, bytes.length);
  // Sanity: without the foreign frame, frame 2 is valid.
  const plain = reader('strict');
  plain.wal.push(chain);
  assert.equal(plain.seen.length, 2);
});

test('WalReader: a flipped byte in a page is a checksum mismatch', () => {
  const clean = buildWal({ frames: multiTx });
  const bytes = Uint8Array.from(clean);
  const at = frameOffset(2) + WAL_FRAME_HEADER_SIZE + 100;
  bytes[at] = (bytes[at] as number) ^ 0x04;

  const strict = reader('strict');
  assert.throws(
    () => strict.wal.push(bytes),
    (err: unknown) => err instanceof CorruptBackupError && /checksum/.test(err.message) && err.message.includes(`offset ${frameOffset(2)}`),
  );
  assert.equal(strict.seen.length, 2);

  const lenient = reader('lenient');
  feed(lenient.wal, bytes, 1);
  // Frames after the corrupt one are not delivered although their own bytes are intact.
  assert.deepEqual(lenient.seen.map((s) => s.offset), [frameOffset(0), frameOffset(1)]);
  assert.equal(lenient.wal.end(), frameOffset(2));
});

test('WalReader: a flipped byte in a frame header (page number) is a checksum mismatch', () => {
  const bytes = buildWal({ frames: multiTx });
  bytes[frameOffset(1) + 3] = (bytes[frameOffset(1) + 3] as number) ^ 0x10;
  const { wal } = reader('strict');
  assert.throws(() => wal.push(bytes), /checksum mismatch/);
});

test('WalReader: a frame for page 0 is invalid', () => {
  const bytes = buildWal({ frames: [{ pgno: 1, commit: 1 }, { pgno: 0, commit: 1 }] });
  const strict = reader('strict');
  assert.throws(() => strict.wal.push(bytes), /page number 0/);
  const lenient = reader('lenient');
  lenient.wal.push(bytes);
  assert.equal(lenient.wal.end(), frameOffset(1));
});

test('WalReader: trailing uncommitted frames — strict end() throws, lenient end() returns the last commit', () => {
  const frames: FrameSpec[] = [
    { pgno: 1, commit: 0 },
    { pgno: 2, commit: 2 },
    { pgno: 3, commit: 0 },
    { pgno: 1, commit: 0 },
  ];
  const bytes = buildWal({ frames });

  const strict = reader('strict', 'tail.wal');
  strict.wal.push(bytes); // every frame is valid, so push itself does not throw
  assert.equal(strict.seen.length, 4);
  assert.equal(strict.wal.committedOffset, frameOffset(2));
  assert.throws(
    () => strict.wal.end(),
    (err: unknown) => err instanceof CorruptBackupError && /uncommitted/.test(err.message) && /tail\.wal/.test(err.message),
  );

  const lenient = reader('lenient');
  lenient.wal.push(bytes);
  assert.equal(lenient.wal.end(), frameOffset(2));
});

test('WalReader: a WAL with frames but no commit at all commits only the header', () => {
  const bytes = buildWal({ frames: [{ pgno: 1, commit: 0 }, { pgno: 2, commit: 0 }] });
  const lenient = reader('lenient');
  lenient.wal.push(bytes);
  assert.equal(lenient.wal.end(), WAL_HEADER_SIZE);
  const strict = reader('strict');
  strict.wal.push(bytes);
  assert.throws(() => strict.wal.end(), CorruptBackupError);
});

test('WalReader: a truncated frame at the end — strict end() throws, lenient returns the last commit', () => {
  const bytes = buildWal({ frames: multiTx });
  const cut = bytes.subarray(0, bytes.length - 10);
  for (const sizes of [cut.length, 1]) {
    const strict = reader('strict', 'cut.wal');
    feed(strict.wal, cut, sizes);
    assert.equal(strict.seen.length, 4);
    assert.throws(
      () => strict.wal.end(),
      (err: unknown) => err instanceof CorruptBackupError && /inside a frame/.test(err.message),
    );
    const lenient = reader('lenient');
    feed(lenient.wal, cut, sizes);
    assert.equal(lenient.wal.end(), frameOffset(4));
  }
  // Cut right after a frame header: still inside a frame.
  const strict = reader('strict');
  strict.wal.push(bytes.subarray(0, frameOffset(2) + WAL_FRAME_HEADER_SIZE));
  assert.throws(() => strict.wal.end(), /inside a frame/);
});

test('WalReader: setName changes the name used in later errors', () => {
  const bytes = buildWal({ frames: saltBroken });
  const { wal } = reader('strict', 'first-segment');
  wal.push(bytes.subarray(0, frameOffset(1)));
  wal.setName('second-segment');
  assert.throws(() => wal.push(bytes.subarray(frameOffset(1))), /second-segment: invalid WAL frame at offset/);
});

// ---------------------------------------------------------------------------
// A real WAL written by SQLite

function realWal(work: (db: Database.Database) => void): { wal: Buffer; pageCount: number; pageSize: number } {
  const dir = mkdtempSync(path.join(tmpdir(), 'wal-test-'));
  try {
    const file = path.join(dir, 'real.db');
    const db = new Database(file);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('wal_autocheckpoint = 0');
      work(db);
      const wal = readFileSync(`${file}-wal`);
      const pageCount = db.pragma('page_count', { simple: true }) as number;
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      return { wal, pageCount, pageSize };
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('WalReader reads a real SQLite WAL in strict mode; its checksums match the reference', () => {
  const { wal: bytes, pageCount, pageSize } = realWal((db) => {
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
    const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
    for (let i = 0; i < 5; i += 1) insert.run(`row ${i} `.repeat(50));
    db.transaction(() => {
      for (let i = 0; i < 200; i += 1) insert.run(`bulk ${i} `.repeat(20));
    })();
    db.exec('CREATE INDEX t_body ON t (body)');
  });
  assert.ok(bytes.length > WAL_HEADER_SIZE);

  // Known vector: the header checksum SQLite wrote.
  const magic = getU32BE(bytes, 0);
  assert.ok(magic === MAGIC_LE || magic === MAGIC_BE);
  const bigEndian = magic === MAGIC_BE;
  const stored: [number, number] = [getU32BE(bytes, 24), getU32BE(bytes, 28)];
  assert.deepEqual(walChecksum(bytes.subarray(0, 24), bigEndian, 0, 0), stored);
  assert.deepEqual(refChecksum(bytes.subarray(0, 24), bigEndian, 0, 0), stored);

  // The whole chain, computed by the reference, ends with the last frame's stored checksum.
  const frameSize = WAL_FRAME_HEADER_SIZE + pageSize;
  assert.equal((bytes.length - WAL_HEADER_SIZE) % frameSize, 0);
  const count = (bytes.length - WAL_HEADER_SIZE) / frameSize;
  let chain = stored;
  for (let i = 0; i < count; i += 1) {
    const at = WAL_HEADER_SIZE + i * frameSize;
    chain = refChecksum(bytes.subarray(at, at + 8), bigEndian, chain[0], chain[1]);
    chain = refChecksum(bytes.subarray(at + WAL_FRAME_HEADER_SIZE, at + frameSize), bigEndian, chain[0], chain[1]);
    assert.deepEqual(chain, [getU32BE(bytes, at + 16), getU32BE(bytes, at + 20)], `frame ${i}`);
  }

  for (const sizes of [bytes.length, [1, 4095, 4097, 13]]) {
    const { wal, seen } = reader('strict', 'real.db-wal');
    feed(wal, bytes, sizes);
    assert.equal(wal.end(), bytes.length);
    assert.equal(seen.length, count);
    assert.equal(wal.walHeader?.pageSize, pageSize);
    const last = seen[seen.length - 1] as Seen;
    assert.equal(last.commitSize, pageCount, 'the last frame commits the current page count');
    assert.ok(seen.filter((s) => s.commitSize > 0).length >= 3, 'several transactions');
    for (const s of seen) {
      assert.ok(s.pgno >= 1 && s.pgno <= pageCount, `page ${s.pgno} within 1..${pageCount}`);
      assert.ok(s.commitSize === 0 || s.commitSize <= pageCount);
    }
    assert.ok(seen.some((s) => s.pgno === 1), 'the schema page was written');
  }
});

test('WalReader lenient stops at stale frames left after SQLite restarts the WAL', () => {
  let before: Buffer | undefined;
  const { wal: bytes } = realWal((db) => {
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
    const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < 300; i += 1) insert.run(`filler ${i} `.repeat(30));
    })();
    db.pragma('wal_checkpoint(PASSIVE)');
    before = readFileSync(db.name + '-wal');
    insert.run('after the restart'); // restarts the WAL from its beginning
  });
  assert.ok(before);
  // Same length (SQLite does not shrink the file), new salts.
  assert.equal(bytes.length, before.length);
  const oldHeader = parseWalHeader(before, 'before');
  const newHeader = parseWalHeader(bytes, 'after');
  assert.equal(newHeader.checkpointSeq, oldHeader.checkpointSeq + 1);
  assert.equal(newHeader.salt1, (oldHeader.salt1 + 1) >>> 0);

  const lenient = reader('lenient');
  lenient.wal.push(bytes);
  const committed = lenient.wal.end();
  assert.ok(committed > WAL_HEADER_SIZE && committed < bytes.length, `committed ${committed} of ${bytes.length}`);
  const last = lenient.seen[lenient.seen.length - 1] as Seen;
  assert.ok(last.commitSize > 0);
  assert.equal(committed, last.offset + WAL_FRAME_HEADER_SIZE + newHeader.pageSize);

  const strict = reader('strict');
  assert.throws(() => strict.wal.push(bytes), (err: unknown) => err instanceof CorruptBackupError && err.message.includes(`offset ${committed}`));
});
