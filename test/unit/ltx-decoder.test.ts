// The LTX decoder on hand-made files: both page encodings, any chunking, the
// file checksum, the page index and every structural rule it enforces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CorruptBackupError } from '../../src/errors.js';
import { crc64, Crc64 } from '../../src/codec/crc64.js';
import { LtxDecoder, lockPgno, parseLtxHeader, type LtxSummary } from '../../src/layout/ltx/decoder.js';
import { databaseChecksum, encodeLtx, lz4Block, patternPage, type LtxOptions, type LtxPageInput } from '../support/ltx.js';

const PS = 4096;

function pages(pgnos: number[], size = PS, seed = 0): LtxPageInput[] {
  return pgnos.map((pgno) => ({ pgno, data: patternPage(size, pgno + seed) }));
}

function snapshotOptions(encoding: 'frame' | 'block', n = 5): LtxOptions {
  const all = pages(Array.from({ length: n }, (_, i) => i + 1));
  all[2] = { pgno: 3, data: Buffer.alloc(PS) }; // a zero page: compressed with a match
  return { pageSize: PS, commit: n, minTxid: 1n, maxTxid: 7n, pages: all, encoding };
}

/** Feeds `file` in chunks of the given sizes (cycled) and collects the pages. */
function decode(file: Uint8Array, chunkSizes: number[] = [file.length]): { pages: LtxPageInput[]; summary: LtxSummary } {
  const decoder = new LtxDecoder({ name: 'test.ltx' });
  const out: LtxPageInput[] = [];
  let offset = 0;
  for (let i = 0; offset < file.length; i += 1) {
    const size = Math.max(1, chunkSizes[i % chunkSizes.length] as number);
    decoder.push(file.subarray(offset, offset + size));
    offset += size;
    for (let page = decoder.read(); page; page = decoder.read()) out.push({ pgno: page.pgno, data: Buffer.from(page.data) });
  }
  return { pages: out, summary: decoder.end() };
}

function expectCorrupt(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CorruptBackupError, `expected CorruptBackupError, got ${String(err)}`);
    assert.equal(err.exitCode, 65);
    assert.match(err.message, pattern);
    assert.ok(err.message.startsWith('test.ltx: '), err.message);
    return true;
  });
}

/** CRC-64/GO-ISO one bit at a time, as its definition reads: the reference for the fast paths. */
function crc64Bitwise(data: Uint8Array): bigint {
  const mask = (1n << 64n) - 1n;
  let crc = mask;
  for (const byte of data) {
    crc ^= BigInt(byte);
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 1n ? (crc >> 1n) ^ 0xd800000000000000n : crc >> 1n;
  }
  return crc ^ mask;
}

test('CRC-64 matches its bitwise definition at every alignment and word count', () => {
  const backing = new Uint8Array(4200);
  for (let i = 0; i < backing.length; i += 1) backing[i] = (i * 7919 + 13) & 0xff;
  for (const shift of [0, 1, 2, 3]) {
    for (const length of [1, 3, 4, 5, 8, 12, 13, 4096, 4100, 4103]) {
      const view = backing.subarray(4 + shift, 4 + shift + length);
      assert.equal(crc64(view), crc64Bitwise(view), `shift ${shift} length ${length}`);
    }
  }
});

test('CRC-64 is Go\'s crc64 with the ISO table (check value), incremental or not', () => {
  assert.equal(crc64(Buffer.from('123456789')).toString(16), 'b90956c775a41001');
  const data = patternPage(10_007, 3);
  const split = new Crc64().update(data.subarray(0, 5)).update(data.subarray(5, 4099)).update(data.subarray(4099)).digest();
  assert.equal(split, crc64(data));
  assert.equal(crc64(new Uint8Array(0)), 0n);
  // Word-aligned input takes a faster path: same result at every alignment and length.
  const backing = new Uint8Array(10_100);
  backing.set(data.subarray(0, 10_096), 4);
  for (const shift of [0, 1, 2, 3]) {
    for (const length of [0, 7, 8, 9, 4096, 10_000]) {
      const view = backing.subarray(4 + shift, 4 + shift + length);
      assert.equal(crc64(view), crc64(Buffer.from(view)), `shift ${shift} length ${length}`);
    }
  }
});

for (const [label, encoding, storedBlocks] of [
  ['LZ4 blocks (0.5.16+)', 'block', false],
  ['LZ4 frames, compressed (before 0.5.16)', 'frame', false],
  ['LZ4 frames, stored blocks', 'frame', true],
] as const) {
  test(`decodes a snapshot with ${label}, whatever the chunking`, () => {
    const options = { ...snapshotOptions(encoding), storedBlocks };
    const file = encodeLtx(options);
    for (const chunks of [[file.length], [1], [7, 100, 3], [4096], [6, 4, 1]]) {
      const { pages: got, summary } = decode(file, chunks);
      assert.deepEqual(
        got.map((p) => p.pgno),
        [1, 2, 3, 4, 5],
      );
      got.forEach((p, i) => assert.ok(Buffer.from(p.data).equals(options.pages[i]?.data as Buffer), `page ${p.pgno}`));
      assert.equal(summary.pages, 5);
      assert.equal(summary.encoding, encoding);
      assert.equal(summary.size, file.length);
      assert.equal(summary.header.commit, 5);
      assert.equal(summary.header.maxTxid, 7n);
    }
  });
}

test('header fields are read big-endian at their offsets', () => {
  const file = encodeLtx({ ...snapshotOptions('block'), timestamp: 1_790_000_123_456, flags: 0x2 });
  file.writeBigInt64BE(4096n, 48); // WAL offset
  file.writeBigInt64BE(8240n, 56); // WAL size
  file.writeUInt32BE(0xdeadbeef, 64);
  file.writeUInt32BE(0x01020304, 68);
  file.writeBigUInt64BE(42n, 72);
  const h = parseLtxHeader(file, 'x');
  assert.deepEqual(h, {
    flags: 2,
    pageSize: 4096,
    commit: 5,
    minTxid: 1n,
    maxTxid: 7n,
    timestamp: 1_790_000_123_456,
    preApplyChecksum: 0n,
    walOffset: 4096n,
    walSize: 8240n,
    walSalt1: 0xdeadbeef,
    walSalt2: 0x01020304,
    nodeId: 42n,
  });
});

test('an incremental file: sparse ascending pages, pages past the end of the old size', () => {
  const file = encodeLtx({ pageSize: 512, commit: 40, minTxid: 8n, maxTxid: 8n, pages: pages([1, 7, 39, 40], 512), encoding: 'frame' });
  const { pages: got, summary } = decode(file, [33]);
  assert.deepEqual(
    got.map((p) => p.pgno),
    [1, 7, 39, 40],
  );
  assert.equal(summary.header.minTxid, 8n);
});

test('the file checksum covers the decompressed pages: a flipped page byte fails', () => {
  for (const encoding of ['block', 'frame'] as const) {
    const options = { ...snapshotOptions(encoding), storedBlocks: true };
    const file = encodeLtx(options);
    // Flip a byte of page 2's data (literal bytes in both encodings).
    const needle = Buffer.from(options.pages[1]?.data.subarray(100, 132) as Uint8Array);
    const at = file.indexOf(needle);
    assert.ok(at > 0);
    file[at + 3] = (file[at + 3] as number) ^ 0x40;
    expectCorrupt(() => decode(file), /LTX file checksum mismatch/);
  }
});

test('a wrong file checksum in the trailer fails', () => {
  const file = encodeLtx({ ...snapshotOptions('block'), fileChecksum: (1n << 63n) | 12345n });
  expectCorrupt(() => decode(file), /LTX file checksum mismatch \(trailer 8000000000003039, computed /);
});

test('truncation anywhere is reported by end(); extra bytes after the trailer fail', () => {
  const file = encodeLtx(snapshotOptions('frame'));
  for (const cut of [0, 50, 100, 103, 200, file.length - 30, file.length - 1]) {
    expectCorrupt(() => decode(file.subarray(0, cut)), /truncated LTX file: it ends/);
  }
  expectCorrupt(() => decode(Buffer.concat([file, Buffer.from([0])])), /unexpected data after the trailer/);
});

test('header validation: magic, flags, page size, TXID range, commit, checksums', () => {
  const base = encodeLtx(snapshotOptions('block'));
  const cases: Array<[(b: Buffer) => void, RegExp]> = [
    [(b) => b.write('LTX2', 0, 'latin1'), /not an LTX file/],
    [(b) => b.writeUInt32BE(0x3, 4), /unsupported flags 0x3/],
    [(b) => b.writeUInt32BE(1000, 8), /page size 1000/],
    [(b) => b.writeBigUInt64BE(0n, 16), /transaction range 0\.\.7/],
    [(b) => b.writeBigUInt64BE(9n, 16), /transaction range 9\.\.7/],
    [(b) => b.writeUInt32BE(0, 12), /database size 0/],
    [(b) => b.writeBigUInt64BE(5n, 40), /pre-apply checksum set where none may be/],
  ];
  for (const [tamper, pattern] of cases) {
    const file = Buffer.from(base);
    tamper(file);
    expectCorrupt(() => decode(file), pattern);
  }
  // With checksums tracked, an incremental file needs a well-formed pre-apply checksum.
  const incremental = encodeLtx({
    pageSize: PS, commit: 2, minTxid: 3n, maxTxid: 3n, pages: pages([2]), encoding: 'block', flags: 0,
    preApplyChecksum: 77n, postApplyChecksum: (1n << 63n) | 1n,
  });
  expectCorrupt(() => decode(incremental), /malformed pre-apply checksum 000000000000004d/);
});

test('page rules: ascending, within the commit, never the lock page, known flags', () => {
  const incremental = (pgnos: number[], commit: number, pageSize = PS) => encodeLtx({
    pageSize, commit, minTxid: 5n, maxTxid: 6n, pages: pages(pgnos, pageSize), encoding: 'block',
  });
  expectCorrupt(() => decode(incremental([3, 2], 5)), /page 2 follows page 3: pages must ascend/);
  expectCorrupt(() => decode(incremental([3, 3], 5)), /page 3 follows page 3/);
  expectCorrupt(() => decode(incremental([2, 6], 5)), /page 6 lies past the database size of 5 pages/);
  const lock = lockPgno(65536);
  assert.equal(lock, 16385);
  assert.equal(lockPgno(4096), 262145);
  assert.equal(lockPgno(512), 2097153);
  expectCorrupt(() => decode(incremental([lock], lock + 1, 65536)), /page 16385 is SQLite's lock page/);

  const file = incremental([2], 5);
  file.writeUInt16BE(0x2, 104); // flags of the first page header
  expectCorrupt(() => decode(file), /page 2: unsupported page flags 0x2/);
  // LTX format 2 wrote a 4-byte page header straight before the page's LZ4 frame.
  const v2 = encodeLtx({ pageSize: PS, commit: 5, minTxid: 5n, maxTxid: 6n, pages: pages([2]), encoding: 'frame' });
  expectCorrupt(() => decode(Buffer.concat([v2.subarray(0, 104), v2.subarray(106)])), /LTX format 2 \(4-byte page headers/);
  const end = encodeLtx({ pageSize: PS, commit: 5, minTxid: 5n, maxTxid: 6n, pages: [], encoding: 'block' });
  end.writeUInt16BE(0x1, 104); // flags on the end-of-pages marker
  expectCorrupt(() => decode(end), /end-of-pages marker has flags 0x1/);
});

test('a file without pages decodes (encoding none)', () => {
  const file = encodeLtx({ pageSize: PS, commit: 5, minTxid: 5n, maxTxid: 6n, pages: [], encoding: 'block' });
  const { pages: got, summary } = decode(file);
  assert.deepEqual(got, []);
  assert.equal(summary.encoding, 'none');
});

test('a snapshot must hold every page from 1 to its commit', () => {
  const missing = encodeLtx({ pageSize: PS, commit: 4, minTxid: 1n, maxTxid: 2n, pages: pages([1, 2, 4]), encoding: 'block' });
  expectCorrupt(() => decode(missing), /snapshot is missing page 3 \(next stored page is 4\)/);
  const short = encodeLtx({ pageSize: PS, commit: 4, minTxid: 1n, maxTxid: 2n, pages: pages([1, 2, 3]), encoding: 'frame' });
  expectCorrupt(() => decode(short), /snapshot holds 3 pages, but a 4-page database needs 4/);
  const late = encodeLtx({ pageSize: PS, commit: 4, minTxid: 1n, maxTxid: 2n, pages: pages([2, 3]), encoding: 'frame' });
  expectCorrupt(() => decode(late), /snapshot is missing page 1/);
});

test('with checksums tracked, a snapshot\'s pages must match its post-apply checksum', () => {
  const options: LtxOptions = { ...snapshotOptions('block'), flags: 0 };
  const { summary } = decode(encodeLtx(options));
  assert.equal(summary.trailer.postApplyChecksum, databaseChecksum(options.pages));
  const wrong = encodeLtx({ ...options, postApplyChecksum: databaseChecksum(options.pages) ^ 1n });
  expectCorrupt(() => decode(wrong), /snapshot pages do not match its post-apply checksum/);
  // Without checksums the field must be zero.
  expectCorrupt(
    () => decode(encodeLtx({ ...snapshotOptions('block'), postApplyChecksum: 1n << 63n })),
    /malformed post-apply checksum 8000000000000000/,
  );
});

test('the page index must list exactly the pages read, at their offsets', () => {
  expectCorrupt(() => decode(encodeLtx({ ...snapshotOptions('frame'), indexOffsetDelta: 1 })), /page index does not match the 5 page\(s\)/);
});

test('LZ4 problems inside a page are reported with the page number', () => {
  // A block page whose compressed size field is impossible.
  const file = encodeLtx({ pageSize: PS, commit: 5, minTxid: 5n, maxTxid: 6n, pages: pages([2]), encoding: 'block' });
  file.writeUInt32BE(5000, 106);
  expectCorrupt(() => decode(file), /page 2: compressed size 5000 is impossible for a 4096-byte page/);
  // A block that decodes to less than a page.
  const halfBlock = lz4Block(patternPage(2048, 1));
  const bad = encodeLtx({ pageSize: PS, commit: 5, minTxid: 5n, maxTxid: 6n, pages: pages([2]), encoding: 'block' });
  const rebuilt = Buffer.concat([bad.subarray(0, 106), Buffer.from([0, 0, halfBlock.length >> 8, halfBlock.length & 0xff]), halfBlock, Buffer.alloc(6)]);
  expectCorrupt(() => decode(rebuilt), /page 2: LZ4 block decodes to 2048 bytes, expected 4096/);
  // A frame page whose magic is wrong.
  const frame = encodeLtx({ pageSize: PS, commit: 5, minTxid: 5n, maxTxid: 6n, pages: pages([2]), encoding: 'frame' });
  frame.writeUInt32LE(0x184d2a50, 106);
  expectCorrupt(() => decode(frame), /page 2: expected an LZ4 frame, found magic 0x184d2a50/);
});

test('a snapshot past 1 GiB skips the lock page', { timeout: 60_000 }, () => {
  // 64 KiB pages put the lock page at 16385; zero pages keep the file small.
  const pageSize = 65536;
  const lock = lockPgno(pageSize);
  const zero = Buffer.alloc(pageSize);
  const numbers = [...Array.from({ length: lock - 1 }, (_, i) => i + 1), lock + 1];
  const all = numbers.map((pgno) => ({ pgno, data: zero }));
  const file = encodeLtx({ pageSize, commit: lock + 1, minTxid: 1n, maxTxid: 1n, pages: all, encoding: 'block' });
  const decoder = new LtxDecoder({ name: 'big.ltx' });
  decoder.push(file);
  let count = 0;
  let last = 0;
  for (let page = decoder.read(); page; page = decoder.read()) {
    count += 1;
    last = page.pgno;
  }
  assert.equal(decoder.end().pages, lock);
  assert.equal(count, lock);
  assert.equal(last, lock + 1);
});
