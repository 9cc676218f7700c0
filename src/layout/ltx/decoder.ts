// Streaming decoder for one LTX file (Litestream v0.5), pure: bytes in, pages
// out, nothing touches the file system. Memory stays bounded whatever the file
// size: at most one page, one compressed page and the caller's current chunk.
//
// File layout (all integers big-endian):
//   header (100): "LTX1" | flags u32 | page size u32 | commit u32 (pages after apply)
//                 | min TXID u64 | max TXID u64 | timestamp ms u64 | pre-apply checksum u64
//                 | WAL offset u64 | WAL size u64 | WAL salt-1 u32 | WAL salt-2 u32
//                 | node id u64 | reserved (20)
//   pages, ascending page number, each: pgno u32 | flags u16, then
//     flags 0 (Litestream 0.5.0-0.5.15): one LZ4 frame holding the page
//     flags 1 (0.5.16 on): compressed size u32 | one LZ4 block holding the page
//   end of pages: a page header of all zeros
//   page index: uvarint triples (pgno, offset of the page header, frame size),
//     ascending, ended by a 0 pgno; then the index size u64
//   trailer (16): post-apply checksum u64 | file checksum u64
//
// The file checksum is CRC-64/ISO over every byte up to the file checksum,
// except that page data is hashed decompressed (and LZ4 frame bytes not at
// all), with bit 63 set. It is why the LZ4 frames' own xxhash checksums are
// skipped here: the file checksum already covers every decoded page. Both
// page encodings are decoded by the shared codecs (src/codec/).
import { Crc64 } from '../../codec/crc64.js';
import { decodeBlock, Lz4BlockError } from '../../codec/lz4-block.js';
import { ItemReader } from '../../codec/item-reader.js';
import { Lz4FrameDecoder } from '../../codec/lz4-frame.js';
import { getXxhash } from '../../codec/xxhash.js';
import { CorruptBackupError } from '../../errors.js';
import { isValidPageSize } from '../../sqlite/wal.js';

// For the frame headers' own checksum byte; loaded once, before any decoder exists.
const xx = await getXxhash();
/** Latest time a JavaScript Date (and the marker's ISO strings) can hold, in ms. */
const MAX_TIME = 8.64e15;

export const LTX_HEADER_SIZE = 100;
export const LTX_PAGE_HEADER_SIZE = 6;
export const LTX_TRAILER_SIZE = 16;

/** Header flag: the file carries no rolling database checksums. */
export const HEADER_FLAG_NO_CHECKSUM = 0x2;
const KNOWN_HEADER_FLAGS = HEADER_FLAG_NO_CHECKSUM;
/** Page header flag: a u32 size and an LZ4 block follow (instead of an LZ4 frame). */
export const PAGE_FLAG_BLOCK = 0x1;

/** Bit 63, set on every checksum so a real one is never zero. */
export const CHECKSUM_FLAG = 1n << 63n;

/** The LZ4 frame magic's first two bytes read as page flags. */
const LTX_V2_PAGE_START = 0x0422;
/** SQLite's lock-byte page holds the byte at 1 GiB; it is never stored. */
const PENDING_BYTE = 0x40000000;

export function lockPgno(pageSize: number): number {
  return Math.floor(PENDING_BYTE / pageSize) + 1;
}

/** Largest LZ4 block a page can compress to (LZ4's worst-case expansion). */
function compressBound(size: number): number {
  return size + Math.floor(size / 255) + 16;
}

export interface LtxHeader {
  readonly flags: number;
  readonly pageSize: number;
  /** Database size in pages once this file is applied. */
  readonly commit: number;
  readonly minTxid: bigint;
  readonly maxTxid: bigint;
  /** Milliseconds since the Unix epoch. */
  readonly timestamp: number;
  readonly preApplyChecksum: bigint;
  readonly walOffset: bigint;
  readonly walSize: bigint;
  readonly walSalt1: number;
  readonly walSalt2: number;
  readonly nodeId: bigint;
}

export interface LtxTrailer {
  readonly postApplyChecksum: bigint;
  readonly fileChecksum: bigint;
}

export interface LtxPage {
  readonly pgno: number;
  /** Only valid until the next read(): copy it to keep it. */
  readonly data: Uint8Array;
}

export interface LtxSummary {
  readonly header: LtxHeader;
  readonly trailer: LtxTrailer;
  readonly pages: number;
  /** How the pages were stored; 'none' when the file holds no page. */
  readonly encoding: 'frame' | 'block' | 'none' | 'mixed';
  /** Bytes of the file. */
  readonly size: number;
}

/** A file whose range starts at TXID 1 holds the whole database. */
export function isSnapshot(header: LtxHeader): boolean {
  return header.minTxid === 1n;
}

export function parseLtxHeader(bytes: Uint8Array, name: string): LtxHeader {
  if (bytes.length < LTX_HEADER_SIZE) throw new CorruptBackupError(`${name}: LTX header is truncated`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, LTX_HEADER_SIZE);
  const magic = String.fromCharCode(bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!);
  if (magic !== 'LTX1') throw new CorruptBackupError(`${name}: not an LTX file (magic ${JSON.stringify(magic)})`);
  const header: LtxHeader = {
    flags: view.getUint32(4),
    pageSize: view.getUint32(8),
    commit: view.getUint32(12),
    minTxid: view.getBigUint64(16),
    maxTxid: view.getBigUint64(24),
    timestamp: Number(view.getBigInt64(32)),
    preApplyChecksum: view.getBigUint64(40),
    walOffset: view.getBigInt64(48),
    walSize: view.getBigInt64(56),
    walSalt1: view.getUint32(64),
    walSalt2: view.getUint32(68),
    nodeId: view.getBigUint64(72),
  };
  const fail = (what: string) => new CorruptBackupError(`${name}: invalid LTX header: ${what}`);
  if ((header.flags & ~KNOWN_HEADER_FLAGS) !== 0) {
    throw fail(`unsupported flags 0x${header.flags.toString(16)} (written by a newer Litestream?)`);
  }
  if (!isValidPageSize(header.pageSize)) throw fail(`page size ${header.pageSize}`);
  if (header.minTxid === 0n || header.maxTxid < header.minTxid) {
    throw fail(`transaction range ${header.minTxid}..${header.maxTxid}`);
  }
  // A SQLite database in WAL mode always has at least one page.
  if (header.commit === 0) throw fail('database size 0 after apply');
  if (!(header.timestamp >= 0 && header.timestamp <= MAX_TIME)) throw fail(`timestamp ${view.getBigInt64(32)} ms is out of range`);
  if (header.walOffset < 0n || header.walSize < 0n) throw fail('negative WAL offset or size');
  const noChecksum = (header.flags & HEADER_FLAG_NO_CHECKSUM) !== 0;
  if (isSnapshot(header) || noChecksum) {
    if (header.preApplyChecksum !== 0n) throw fail('pre-apply checksum set where none may be');
  } else if ((header.preApplyChecksum & CHECKSUM_FLAG) === 0n) {
    throw fail(`malformed pre-apply checksum ${hex64(header.preApplyChecksum)}`);
  }
  return header;
}

export function hex64(n: bigint): string {
  return n.toString(16).padStart(16, '0');
}

const enum State {
  Header,
  PageHeader,
  BlockSize,
  BlockData,
  Frame, // one LZ4 frame, fed to the frame decoder as it comes
  Index, // byte by byte: uvarints
  IndexSize,
  Trailer,
  Done,
}

export interface LtxDecoderOptions {
  /** Prepended to every error message, e.g. the object key. */
  readonly name: string;
}

/**
 * Pull-style decoder: push() a chunk, then call read() until it returns
 * undefined (each call yields at most one page, so the caller can write pages
 * out before more are decoded), then push the next chunk; end() after the last.
 */
export class LtxDecoder {
  private readonly name: string;
  private state: State = State.Header;
  private need = LTX_HEADER_SIZE;
  private readonly reader = new ItemReader();

  private readonly hash = new Crc64();
  private hdr: LtxHeader | undefined;
  private trl: LtxTrailer | undefined;
  private page = new Uint8Array(0);
  private lock = 0;

  // Current page.
  private pgno = 0;
  private pageStart = 0;
  private pageFilled = 0;
  private prevPgno = 0;
  private pages = 0;
  private frames = 0;
  private blocks = 0;

  /** The current page's LZ4 frame (old page encoding). */
  private frame: Lz4FrameDecoder | undefined;

  // Snapshot rolling checksum: XOR of every page's CRC-64 (as two halves).
  private snapshotHi = 0;
  private snapshotLo = 0;

  // Page index: a running digest of (pgno, offset, size) from the pages and
  // from the index, compared at the end, so the index needs no memory.
  private pagesDigest = 0;
  private indexDigest = 0;
  private indexEntries = 0;
  private indexStart = 0;
  private indexPrevPgno = 0;
  private varint = 0;
  private varintScale = 1;
  private varintBytes = 0;
  private readonly entry: number[] = [];

  constructor(options: LtxDecoderOptions) {
    this.name = options.name;
  }

  get header(): LtxHeader | undefined {
    return this.hdr;
  }

  /** Hands the decoder the next chunk; everything pushed before must have been read. */
  push(chunk: Uint8Array): void {
    this.reader.push(chunk, 'LtxDecoder');
  }

  /** The next page decoded from the input pushed so far, or undefined when more input is needed. */
  read(): LtxPage | undefined {
    for (;;) {
      if (this.state === State.Frame) {
        if (!this.readFrameBytes()) return undefined;
        return this.finishPage();
      }
      if (this.state === State.Index) {
        if (!this.readIndexBytes()) return undefined;
        continue;
      }
      if (this.state === State.Done) {
        if (this.reader.available > 0) {
          throw this.fail(`unexpected data after the trailer, at offset ${this.reader.position}`);
        }
        return undefined;
      }
      const item = this.reader.take(this.need);
      if (!item) return undefined;
      const page = this.handle(item);
      if (page) return page;
    }
  }

  /** Checks that the whole file was seen and returns what it held. */
  end(): LtxSummary {
    if (this.state !== State.Done || !this.hdr || !this.trl) {
      throw this.fail(`truncated LTX file: it ends ${this.where()} (after ${this.reader.position} bytes)`);
    }
    const encoding = this.pages === 0 ? 'none' : this.frames === 0 ? 'block' : this.blocks === 0 ? 'frame' : 'mixed';
    return { header: this.hdr, trailer: this.trl, pages: this.pages, encoding, size: this.reader.position };
  }

  private fail(message: string): CorruptBackupError {
    return new CorruptBackupError(`${this.name}: ${message}`);
  }

  private where(): string {
    switch (this.state) {
      case State.Header:
        return 'in its header';
      case State.PageHeader:
        return `after ${this.pages} page(s), where a page header or the end of pages was expected`;
      case State.Index:
      case State.IndexSize:
        return 'in its page index';
      case State.Trailer:
        return 'in its trailer';
      default:
        return `inside page ${this.pgno}`;
    }
  }

  private setState(state: State, need: number): void {
    this.state = state;
    this.need = need;
  }

  private handle(item: Uint8Array): LtxPage | undefined {
    switch (this.state) {
      case State.Header: {
        const header = parseLtxHeader(item, this.name);
        this.hash.update(item);
        this.hdr = header;
        this.page = new Uint8Array(header.pageSize);
        this.lock = lockPgno(header.pageSize);
        this.setState(State.PageHeader, LTX_PAGE_HEADER_SIZE);
        return undefined;
      }
      case State.PageHeader:
        this.hash.update(item);
        this.startPage(item);
        return undefined;
      case State.BlockSize: {
        this.hash.update(item);
        const size = readU32(item, 0);
        const header = this.hdr as LtxHeader;
        if (size === 0 || size > compressBound(header.pageSize)) {
          throw this.fail(`page ${this.pgno}: compressed size ${size} is impossible for a ${header.pageSize}-byte page`);
        }
        this.setState(State.BlockData, size);
        return undefined;
      }
      case State.BlockData: {
        const end = this.decode(item, 0);
        if (end !== this.page.length) {
          throw this.fail(`page ${this.pgno}: LZ4 block decodes to ${end} bytes, expected ${this.page.length}`);
        }
        this.blocks += 1;
        return this.finishPage();
      }
      case State.IndexSize: {
        this.hash.update(item);
        const size = readU32(item, 0) * 2 ** 32 + readU32(item, 4);
        if (size !== this.reader.itemPosition - this.indexStart) {
          throw this.fail(`page index size field says ${size} bytes, the index has ${this.reader.itemPosition - this.indexStart}`);
        }
        this.setState(State.Trailer, LTX_TRAILER_SIZE);
        return undefined;
      }
      case State.Trailer:
        this.finishFile(item);
        return undefined;
      default:
        throw new Error(`LtxDecoder: unexpected state ${this.state}`);
    }
  }

  private startPage(item: Uint8Array): void {
    const header = this.hdr as LtxHeader;
    const pgno = readU32(item, 0);
    const flags = (item[4]! << 8) | item[5]!;
    if (pgno === 0) {
      if (flags !== 0) throw this.fail(`end-of-pages marker has flags 0x${flags.toString(16)}`);
      if (isSnapshot(header)) {
        const expected = header.commit >= this.lock ? header.commit - 1 : header.commit;
        if (this.pages !== expected) {
          throw this.fail(`snapshot holds ${this.pages} pages, but a ${header.commit}-page database needs ${expected}`);
        }
      }
      this.indexStart = this.reader.position;
      this.state = State.Index;
      this.entry.length = 0;
      return;
    }
    if (pgno <= this.prevPgno) throw this.fail(`page ${pgno} follows page ${this.prevPgno}: pages must ascend`);
    if (pgno > header.commit) throw this.fail(`page ${pgno} lies past the database size of ${header.commit} pages`);
    if (pgno === this.lock) throw this.fail(`page ${pgno} is SQLite's lock page, which is never stored`);
    if (isSnapshot(header)) {
      const expected = this.prevPgno + 1 === this.lock ? this.prevPgno + 2 : this.prevPgno + 1;
      if (pgno !== expected) throw this.fail(`snapshot is missing page ${expected} (next stored page is ${pgno})`);
    }
    this.pgno = pgno;
    this.pageStart = this.reader.itemPosition;
    this.pageFilled = 0;
    if (flags === PAGE_FLAG_BLOCK) this.setState(State.BlockSize, 4);
    else if (flags === 0) {
      this.frame = new Lz4FrameDecoder(xx, { name: `${this.name}: page ${pgno}`, single: true, checksums: false });
      this.setState(State.Frame, 0);
    }
    else if (flags === LTX_V2_PAGE_START) {
      // 04 22 are the first bytes of an LZ4 frame: a 4-byte page header, as LTX format 2 had.
      throw this.fail('LTX format 2 (4-byte page headers, Litestream 0.5.0 pre-releases) is not supported');
    } else throw this.fail(`page ${pgno}: unsupported page flags 0x${flags.toString(16)}`);
  }

  /** Feeds input to the page's LZ4 frame; true once the frame (and so the page) is complete. */
  private readFrameBytes(): boolean {
    const frame = this.frame as Lz4FrameDecoder;
    const rest = this.reader.peekRest();
    if (rest.length === 0) return false;
    frame.push(rest);
    for (let out = frame.read(); out; out = frame.read()) {
      if (out.length > this.page.length - this.pageFilled) throw this.fail(`page ${this.pgno}: LZ4 frame holds more than one page`);
      this.page.set(out, this.pageFilled);
      this.pageFilled += out.length;
    }
    this.reader.consumed(rest.length - frame.unconsumed);
    if (!frame.done) return false;
    frame.end();
    if (this.pageFilled !== this.page.length) {
      throw this.fail(`page ${this.pgno}: LZ4 frame holds ${this.pageFilled} bytes, expected ${this.page.length}`);
    }
    this.frame = undefined;
    this.frames += 1;
    return true;
  }

  private decode(block: Uint8Array, start: number): number {
    try {
      return decodeBlock(block, this.page, start, this.page.length);
    } catch (err) {
      if (err instanceof Lz4BlockError) throw this.fail(`page ${this.pgno}: corrupt LZ4 block: ${err.message}`);
      throw err;
    }
  }

  private finishPage(): LtxPage {
    const header = this.hdr as LtxHeader;
    this.hash.update(this.page);
    if (isSnapshot(header) && (header.flags & HEADER_FLAG_NO_CHECKSUM) === 0) {
      const pageHash = new Crc64().update(pgnoBytes(this.pgno)).update(this.page);
      const [hi, lo] = pageHash.digestParts();
      this.snapshotHi ^= hi;
      this.snapshotLo ^= lo;
    }
    this.pagesDigest = mix(mix(mix(this.pagesDigest, this.pgno), this.pageStart), this.reader.position - this.pageStart);
    this.pages += 1;
    this.prevPgno = this.pgno;
    this.setState(State.PageHeader, LTX_PAGE_HEADER_SIZE);
    return { pgno: this.pgno, data: this.page };
  }

  /** Consumes page index bytes from the input; false when it needs more. */
  private readIndexBytes(): boolean {
    const input = this.reader.peekRest();
    let i = 0;
    while (i < input.length && this.state === State.Index) {
      const byte = input[i]!;
      i += 1;
      this.varint += (byte & 0x7f) * this.varintScale;
      this.varintScale *= 128;
      this.varintBytes += 1;
      if (byte & 0x80) {
        // Offsets and sizes fit far below 2^53; longer varints are corrupt.
        if (this.varintBytes >= 8) throw this.fail('malformed page index (varint too long)');
        continue;
      }
      this.indexValue(this.varint);
      this.varint = 0;
      this.varintScale = 1;
      this.varintBytes = 0;
    }
    this.hash.update(input.subarray(0, i));
    this.reader.consumed(i);
    return this.state !== State.Index;
  }

  private indexValue(value: number): void {
    if (this.entry.length === 0 && value === 0) {
      // End marker: the index must list exactly the pages read.
      if (this.indexEntries !== this.pages || this.indexDigest !== this.pagesDigest) {
        throw this.fail(`page index does not match the ${this.pages} page(s) in the file`);
      }
      this.setState(State.IndexSize, 8);
      return;
    }
    this.entry.push(value);
    if (this.entry.length < 3) return;
    const [pgno, offset, size] = this.entry as [number, number, number];
    if (pgno <= this.indexPrevPgno) throw this.fail('page index is not in ascending page order');
    this.indexPrevPgno = pgno;
    this.indexDigest = mix(mix(mix(this.indexDigest, pgno), offset), size);
    this.indexEntries += 1;
    this.entry.length = 0;
  }

  private finishFile(item: Uint8Array): void {
    const header = this.hdr as LtxHeader;
    const view = new DataView(item.buffer, item.byteOffset, LTX_TRAILER_SIZE);
    const trailer: LtxTrailer = { postApplyChecksum: view.getBigUint64(0), fileChecksum: view.getBigUint64(8) };
    this.hash.update(item.subarray(0, 8));
    const computed = this.hash.digest() | CHECKSUM_FLAG;
    if (computed !== trailer.fileChecksum) {
      throw this.fail(`LTX file checksum mismatch (trailer ${hex64(trailer.fileChecksum)}, computed ${hex64(computed)})`);
    }
    const noChecksum = (header.flags & HEADER_FLAG_NO_CHECKSUM) !== 0;
    if (noChecksum ? trailer.postApplyChecksum !== 0n : (trailer.postApplyChecksum & CHECKSUM_FLAG) === 0n) {
      throw this.fail(`malformed post-apply checksum ${hex64(trailer.postApplyChecksum)}`);
    }
    if (isSnapshot(header) && !noChecksum) {
      // A snapshot's post-apply checksum is the XOR of all its page checksums.
      const rolling = ((BigInt(this.snapshotHi >>> 0) << 32n) | BigInt(this.snapshotLo >>> 0)) | CHECKSUM_FLAG;
      if (rolling !== trailer.postApplyChecksum) {
        throw this.fail(
          `snapshot pages do not match its post-apply checksum (trailer ${hex64(trailer.postApplyChecksum)}, pages ${hex64(rolling)})`,
        );
      }
    }
    this.trl = trailer;
    this.setState(State.Done, 0);
  }
}

function readU32(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}


function pgnoBytes(pgno: number): Uint8Array {
  return Uint8Array.of(pgno >>> 24, (pgno >>> 16) & 0xff, (pgno >>> 8) & 0xff, pgno & 0xff);
}

/** An order-sensitive 32-bit digest step (values up to 2^53). */
function mix(acc: number, value: number): number {
  const lo = value >>> 0;
  const hi = Math.floor(value / 2 ** 32) >>> 0;
  return Math.imul(Math.imul(acc ^ lo, 0x9e3779b1) ^ hi, 0x85ebca77) ^ (acc >>> 15);
}
