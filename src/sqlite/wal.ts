// SQLite write-ahead-log parsing: header, frames, salts and the cumulative
// checksum chain (https://www.sqlite.org/fileformat.html#the_write_ahead_log).
// Pure: bytes in, validated frames out.
import { CorruptBackupError } from '../errors.js';

export const WAL_HEADER_SIZE = 32;
export const WAL_FRAME_HEADER_SIZE = 24;
const MAGIC_LE = 0x377f0682;
const MAGIC_BE = 0x377f0683;
const WAL_VERSION = 3007000;

export interface WalHeader {
  /** True when checksum words are read big-endian (magic 0x377f0683). */
  readonly bigEndian: boolean;
  readonly pageSize: number;
  readonly checkpointSeq: number;
  readonly salt1: number;
  readonly salt2: number;
  readonly checksum1: number;
  readonly checksum2: number;
}

const NATIVE_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function isValidPageSize(n: number): boolean {
  return n >= 512 && n <= 65536 && (n & (n - 1)) === 0;
}

/**
 * SQLite's WAL checksum over `data` (a multiple of 8 bytes), continuing from
 * (s0, s1). Returns the new pair.
 */
export function walChecksum(data: Uint8Array, bigEndian: boolean, s0: number, s1: number): [number, number] {
  if (data.length % 8 !== 0) throw new RangeError('WAL checksum input must be a multiple of 8 bytes');
  let a = s0 >>> 0;
  let b = s1 >>> 0;
  if (!bigEndian && NATIVE_LITTLE_ENDIAN && data.byteOffset % 4 === 0) {
    // The common case (SQLite on x86 and ARM writes little-endian checksums):
    // whole words straight from memory, about twice as fast as a DataView.
    const words = new Uint32Array(data.buffer, data.byteOffset, data.length >>> 2);
    for (let i = 0; i < words.length; i += 2) {
      a = (a + (words[i] as number) + b) >>> 0;
      b = (b + (words[i + 1] as number) + a) >>> 0;
    }
    return [a, b];
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const little = !bigEndian;
  for (let i = 0; i < data.length; i += 8) {
    a = (a + view.getUint32(i, little) + b) >>> 0;
    b = (b + view.getUint32(i + 4, little) + a) >>> 0;
  }
  return [a, b];
}

function readU32BE(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}

/**
 * Checks a frame's checksum (over its first 8 bytes and its page, continuing
 * from (s0, s1)) against the one it carries; on a match leaves the new pair
 * in `sums`. One pass over the frame, nothing allocated in the common case:
 * a WAL is read a frame at a time, hundreds of thousands of them.
 */
export function frameChecksum(frame: Uint8Array, bigEndian: boolean, s0: number, s1: number, sums: Uint32Array): boolean {
  let a = s0 >>> 0;
  let b = s1 >>> 0;
  if (!bigEndian && NATIVE_LITTLE_ENDIAN && frame.byteOffset % 4 === 0) {
    const words = new Uint32Array(frame.buffer, frame.byteOffset, frame.length >>> 2);
    a = (a + (words[0] as number) + b) >>> 0;
    b = (b + (words[1] as number) + a) >>> 0;
    for (let i = WAL_FRAME_HEADER_SIZE >>> 2; i < words.length; i += 2) {
      a = (a + (words[i] as number) + b) >>> 0;
      b = (b + (words[i + 1] as number) + a) >>> 0;
    }
  } else {
    [a, b] = walChecksum(frame.subarray(0, 8), bigEndian, a, b);
    [a, b] = walChecksum(frame.subarray(WAL_FRAME_HEADER_SIZE), bigEndian, a, b);
  }
  if (a !== readU32BE(frame, 16) || b !== readU32BE(frame, 20)) return false;
  sums[0] = a;
  sums[1] = b;
  return true;
}

export function parseWalHeader(bytes: Uint8Array, name: string): WalHeader {
  if (bytes.length < WAL_HEADER_SIZE) throw new CorruptBackupError(`${name}: WAL header is truncated`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, WAL_HEADER_SIZE);
  const magic = view.getUint32(0);
  if (magic !== MAGIC_LE && magic !== MAGIC_BE) {
    throw new CorruptBackupError(`${name}: not a SQLite WAL (bad magic 0x${magic.toString(16)})`);
  }
  const version = view.getUint32(4);
  if (version !== WAL_VERSION) throw new CorruptBackupError(`${name}: unsupported WAL format version ${version}`);
  const rawPageSize = view.getUint32(8);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  if (!isValidPageSize(pageSize)) throw new CorruptBackupError(`${name}: WAL header has invalid page size ${rawPageSize}`);
  const header: WalHeader = {
    bigEndian: magic === MAGIC_BE,
    pageSize,
    checkpointSeq: view.getUint32(12),
    salt1: view.getUint32(16),
    salt2: view.getUint32(20),
    checksum1: view.getUint32(24),
    checksum2: view.getUint32(28),
  };
  const [c1, c2] = walChecksum(bytes.subarray(0, 24), header.bigEndian, 0, 0);
  if (c1 !== header.checksum1 || c2 !== header.checksum2) {
    throw new CorruptBackupError(`${name}: WAL header checksum mismatch`);
  }
  return header;
}

export interface WalFrame {
  readonly pgno: number;
  /** Database size in pages after this commit; 0 when the frame is not a commit. */
  readonly commitSize: number;
  /** Only valid during the callback: copy it if you keep it. */
  readonly page: Uint8Array;
  /** Byte offset of the frame header inside the WAL file. */
  readonly offset: number;
}

export interface WalReaderOptions {
  /** Used in error messages; updated by the caller as segments change. */
  name: string;
  /**
   * strict: every frame must be valid and the WAL must end on a commit (a
   * backup layout that ships only committed frames). lenient: stop at the
   * first invalid frame, as SQLite recovery does, and drop the uncommitted tail.
   */
  readonly mode: 'strict' | 'lenient';
  /** Returning true pauses: push() returns right after this frame (see its return value). */
  readonly onFrame: (frame: WalFrame) => boolean | void;
}

/**
 * Incremental WAL reader: push() the bytes of one WAL file in order, in
 * chunks of any size (not kept after the call), then end(). Frames are delivered as they complete;
 * callers decide what "committed" means via `commitSize`.
 */
export class WalReader {
  private header: WalHeader | undefined;
  private frameSize = 0;
  private readonly pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private s0 = 0;
  private s1 = 0;
  /** frameChecksum()'s result, reused: one frame after another, no allocation. */
  private readonly sums = new Uint32Array(2);
  private stopped_ = false;
  private paused = false;
  /** Bytes consumed so far: the offset in the WAL file of the next byte. */
  offset = 0;
  /** End offset of the last commit frame seen (0 before any). */
  committedOffset = 0;
  frames = 0;

  constructor(private readonly options: WalReaderOptions) {}

  get walHeader(): WalHeader | undefined {
    return this.header;
  }

  /** Lenient mode: an invalid frame was met, so nothing after it counts. */
  get stopped(): boolean {
    return this.stopped_;
  }

  /**
   * Consumes `chunk` frame by frame. Returns the bytes consumed: all of them,
   * or fewer when onFrame asked to pause; push the rest later.
   */
  push(chunk: Uint8Array): number {
    let pos = 0;
    this.paused = false;
    while (pos < chunk.length && !this.paused) {
      const need = (this.header ? this.frameSize : WAL_HEADER_SIZE) - this.pendingBytes;
      const available = chunk.length - pos;
      if (this.pendingBytes === 0 && available >= need) {
        // Fast path: the whole unit is inside this chunk, no copy.
        this.consume(chunk.subarray(pos, pos + need));
        pos += need;
      } else {
        const take = Math.min(need, available);
        // A copy (Buffer#slice would not be one): callers may reuse `chunk` once push() returns.
        this.pending.push(new Uint8Array(chunk.subarray(pos, pos + take)));
        this.pendingBytes += take;
        pos += take;
        if (take === need) {
          const unit = Buffer.concat(this.pending, this.pendingBytes);
          this.pending.length = 0;
          this.pendingBytes = 0;
          this.consume(unit);
        }
      }
    }
    return pos;
  }

  /** Checks the end state; returns the committed length of the WAL in bytes. */
  end(): number {
    const { name, mode } = this.options;
    if (mode === 'strict') {
      if (!this.header) throw new CorruptBackupError(`${name}: WAL ends before its header`);
      if (this.pendingBytes > 0) throw new CorruptBackupError(`${name}: WAL ends inside a frame at offset ${this.offset}`);
      if (this.committedOffset !== this.offset) {
        throw new CorruptBackupError(`${name}: WAL ends inside an uncommitted transaction at offset ${this.offset}`);
      }
    }
    return this.committedOffset;
  }

  setName(name: string): void {
    this.options.name = name;
  }

  private consume(unit: Uint8Array): void {
    const at = this.offset;
    this.offset += unit.length;
    if (this.stopped_) return;
    if (!this.header) {
      this.header = parseWalHeader(unit, this.options.name);
      this.frameSize = WAL_FRAME_HEADER_SIZE + this.header.pageSize;
      this.s0 = this.header.checksum1;
      this.s1 = this.header.checksum2;
      this.committedOffset = WAL_HEADER_SIZE;
      return;
    }
    const problem = this.checkFrame(unit);
    if (problem) {
      if (this.options.mode === 'strict') {
        throw new CorruptBackupError(`${this.options.name}: invalid WAL frame at offset ${at}: ${problem}`);
      }
      this.stopped_ = true;
      return;
    }
    const commitSize = readU32BE(unit, 4);
    this.frames += 1;
    if (commitSize > 0) this.committedOffset = this.offset;
    if (this.options.onFrame({ pgno: readU32BE(unit, 0), commitSize, page: unit.subarray(WAL_FRAME_HEADER_SIZE), offset: at })) {
      this.paused = true;
    }
  }

  private checkFrame(frame: Uint8Array): string | undefined {
    const header = this.header as WalHeader;
    if (readU32BE(frame, 0) === 0) return 'page number 0';
    if (readU32BE(frame, 8) !== header.salt1 || readU32BE(frame, 12) !== header.salt2) return 'salt mismatch';
    if (!frameChecksum(frame, header.bigEndian, this.s0, this.s1, this.sums)) return 'checksum mismatch';
    this.s0 = this.sums[0] as number;
    this.s1 = this.sums[1] as number;
    return undefined;
  }
}
