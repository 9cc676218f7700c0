// A small LTX (Litestream v0.5) encoder for tests: hand-made files in both
// page encodings, with fields that tests can set to wrong values on purpose.
// Written from the format description (see src/layout/ltx/decoder.ts), not
// from the product's decoder; only the CRC-64 is shared (it is checked
// against the standard check value and against real Litestream files).
import xxhash from 'xxhash-wasm';
import { Crc64 } from '../../src/codec/crc64.js';

const hasher = await xxhash();
const xxh32 = (data: Uint8Array): number => hasher.h32Raw(data, 0) >>> 0;

export const FLAG_NO_CHECKSUM = 0x2;
const CHECKSUM_FLAG = 1n << 63n;

export interface LtxPageInput {
  readonly pgno: number;
  readonly data: Uint8Array;
}

export interface LtxOptions {
  readonly pageSize: number;
  readonly commit: number;
  readonly minTxid: bigint;
  readonly maxTxid: bigint;
  readonly pages: readonly LtxPageInput[];
  /** 'frame': an LZ4 frame per page (Litestream < 0.5.16); 'block': size + LZ4 block (0.5.16+). */
  readonly encoding: 'frame' | 'block';
  /** Header flags; default FLAG_NO_CHECKSUM as Litestream 0.5 writes. */
  readonly flags?: number;
  readonly preApplyChecksum?: bigint;
  /** Default: computed for snapshots with checksums, 0 with FLAG_NO_CHECKSUM, else required. */
  readonly postApplyChecksum?: bigint;
  readonly timestamp?: number;
  /** Overrides the file checksum written in the trailer. */
  readonly fileChecksum?: bigint;
  /** Store frame-encoded pages in uncompressed LZ4 blocks instead of compressed ones. */
  readonly storedBlocks?: boolean;
  /** Added to every page offset written in the index (a wrong but well-formed index). */
  readonly indexOffsetDelta?: number;
}

/** CRC-64 of one page as LTX's rolling database checksum uses it (page number first). */
export function pageChecksum(pgno: number, data: Uint8Array): bigint {
  const no = Buffer.alloc(4);
  no.writeUInt32BE(pgno);
  return new Crc64().update(no).update(data).digest() | CHECKSUM_FLAG;
}

/** The rolling checksum of a whole database given as its pages. */
export function databaseChecksum(pages: readonly LtxPageInput[]): bigint {
  let sum = 0n;
  for (const p of pages) sum ^= pageChecksum(p.pgno, p.data);
  return sum | CHECKSUM_FLAG;
}

/**
 * An LZ4 block for `data`: a literal byte plus one offset-1 match when the
 * data is one repeated byte (what zero pages look like), else literals only.
 * Both keep LZ4's end rules (the last 5 bytes are literals).
 */
export function lz4Block(data: Uint8Array): Buffer {
  const cached = blocks.get(data);
  if (cached) return cached;
  const block = encodeBlock(data);
  blocks.set(data, block);
  return block;
}

// Tests reuse one buffer for many equal pages (e.g. a GiB of zeros): compress it once.
const blocks = new WeakMap<Uint8Array, Buffer>();

function encodeBlock(data: Uint8Array): Buffer {
  const parts: number[] = [];
  const lengthBytes = (n: number) => {
    for (; n >= 255; n -= 255) parts.push(255);
    parts.push(n);
  };
  const uniform = data.length >= 17 && data.every((b) => b === data[0]);
  if (uniform) {
    const match = data.length - 1 - 5;
    parts.push((1 << 4) | Math.min(15, match - 4));
    parts.push(data[0] as number);
    parts.push(1, 0); // offset 1, little-endian
    if (match - 4 >= 15) lengthBytes(match - 4 - 15);
    parts.push(5 << 4); // last sequence: 5 literals
    for (let i = 0; i < 5; i += 1) parts.push(data[0] as number);
    return Buffer.from(parts);
  }
  parts.push(Math.min(15, data.length) << 4);
  if (data.length >= 15) lengthBytes(data.length - 15);
  return Buffer.concat([Buffer.from(parts), data]);
}

/** One LZ4 frame holding `data` in one block, with a content checksum. */
export function lz4Frame(data: Uint8Array, stored: boolean): Buffer {
  const header = Buffer.alloc(7);
  header.writeUInt32LE(0x184d2204, 0);
  header[4] = 0x40 | 0x20 | 0x04; // version 01, independent blocks, content checksum
  header[5] = 4 << 4; // 64 KiB blocks
  header[6] = (xxh32(header.subarray(4, 6)) >>> 8) & 0xff;
  const block = stored ? Buffer.from(data) : lz4Block(data);
  const size = Buffer.alloc(4);
  size.writeUInt32LE((block.length | (stored ? 0x80000000 : 0)) >>> 0);
  const end = Buffer.alloc(8);
  end.writeUInt32LE(xxh32(data), 4);
  return Buffer.concat([header, size, block, end]);
}

function uvarint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

export function encodeLtx(o: LtxOptions): Buffer {
  const flags = o.flags ?? FLAG_NO_CHECKSUM;
  const noChecksum = (flags & FLAG_NO_CHECKSUM) !== 0;
  const snapshot = o.minTxid === 1n;
  const hash = new Crc64();
  const parts: Buffer[] = [];
  let offset = 0;
  // Compressed bytes are not hashed: the decompressed page is, after them.
  const put = (b: Buffer, hashed = true) => {
    parts.push(b);
    if (hashed) hash.update(b);
    offset += b.length;
  };

  const header = Buffer.alloc(100);
  header.write('LTX1', 0, 'latin1');
  header.writeUInt32BE(flags, 4);
  header.writeUInt32BE(o.pageSize, 8);
  header.writeUInt32BE(o.commit, 12);
  header.writeBigUInt64BE(o.minTxid, 16);
  header.writeBigUInt64BE(o.maxTxid, 24);
  header.writeBigInt64BE(BigInt(o.timestamp ?? 1_790_000_000_000), 32);
  header.writeBigUInt64BE(o.preApplyChecksum ?? 0n, 40);
  put(header);

  const index: number[] = [];
  for (const page of o.pages) {
    const start = offset;
    const ph = Buffer.alloc(6);
    ph.writeUInt32BE(page.pgno, 0);
    if (o.encoding === 'block') {
      ph.writeUInt16BE(1, 4);
      put(ph);
      const block = lz4Block(page.data);
      const size = Buffer.alloc(4);
      size.writeUInt32BE(block.length);
      put(size);
      put(block, false);
    } else {
      put(ph);
      put(lz4Frame(page.data, o.storedBlocks ?? false), false);
    }
    hash.update(page.data);
    index.push(...uvarint(page.pgno), ...uvarint(start + (o.indexOffsetDelta ?? 0)), ...uvarint(offset - start));
  }
  put(Buffer.alloc(6)); // end of pages
  const indexBytes = Buffer.from([...index, 0]);
  put(indexBytes);
  const indexSize = Buffer.alloc(8);
  indexSize.writeBigUInt64BE(BigInt(indexBytes.length));
  put(indexSize);

  const post =
    o.postApplyChecksum ?? (noChecksum ? 0n : snapshot ? databaseChecksum(o.pages) : undefined);
  if (post === undefined) throw new Error('encodeLtx: postApplyChecksum is required for incremental files with checksums');
  const trailer = Buffer.alloc(16);
  trailer.writeBigUInt64BE(post, 0);
  hash.update(trailer.subarray(0, 8));
  trailer.writeBigUInt64BE(o.fileChecksum ?? hash.digest() | CHECKSUM_FLAG, 8);
  parts.push(trailer);
  return Buffer.concat(parts);
}

/** A page of `size` bytes filled from a seed, recognisable in assertions. */
export function patternPage(size: number, seed: number): Buffer {
  const page = Buffer.alloc(size);
  for (let i = 0; i < size; i += 1) page[i] = (seed * 31 + i * 7 + (i >> 8)) & 0xff;
  return page;
}

/** A valid SQLite header page (page 1) of `pageCount` pages, the rest of the page filled. */
export function sqlitePage1(pageSize: number, pageCount: number, seed = 1): Buffer {
  const page = patternPage(pageSize, seed);
  page.fill(0, 0, 100);
  page.write('SQLite format 3\0', 0, 'latin1');
  page.writeUInt16BE(pageSize === 65536 ? 1 : pageSize, 16);
  page[18] = 2; // WAL mode
  page[19] = 2;
  page[21] = 64;
  page[22] = 32;
  page[23] = 32;
  page.writeUInt32BE(1, 24); // change counter
  page.writeUInt32BE(pageCount, 28);
  page.writeUInt32BE(1, 92); // version-valid-for = change counter: page count trusted
  page.writeUInt32BE(3046000, 96);
  return page;
}
