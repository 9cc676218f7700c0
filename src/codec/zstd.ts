// Streaming decoder for Zstandard frames (RFC 8878), as the zlayer-storage
// crate writes them: one frame per object, from a streaming encoder, so the
// header carries a window size but neither the content size nor a checksum.
// Frames written by the zstd command line tool (content size, XXH64 content
// checksum, several frames, skippable frames) are read too.
//
// The entropy decoding is the `fzstd` package's; this module walks the frame
// structure itself so that it can (1) refuse windows larger than zstd's own
// default decoder limit before anything is allocated, (2) feed the decoder
// one block at a time, so a highly compressed object never expands into more
// than one block (128 KiB) of output per step and the consumer's back-pressure
// is honoured, and (3) check the content size and checksum when a frame has them.
//
// Frame: magic 0xFD2FB528 (LE) | descriptor (1) | [window descriptor (1)]
//        | [dictionary id (0/1/2/4)] | [content size (0/1/2/4/8)]
//        | blocks: header (3, LE: last bit, type (2 bits), size (21 bits)) + data
//        | [content checksum (4): low 32 bits of XXH64(content, seed 0), LE]
// Skippable frame: magic 0x184D2A5? | size (4, LE) | size bytes.
import { Decompress } from 'fzstd';
import { CorruptBackupError } from '../errors.js';
import type { Decoder } from './decoder.js';
import { getXxhash, updateInSlices, type XXHashApi } from './xxhash.js';

type Hasher = ReturnType<XXHashApi['create64']>;

const ZSTD_MAGIC = 0xfd2fb528;
const MAGIC_BYTES = Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd);
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_BASE = 0x184d2a50;
const BLOCK_MAX = 128 * 1024;
const EMPTY = new Uint8Array(0);
/** zstd's default decoder limit (ZSTD_WINDOWLOG_LIMIT_DEFAULT = 27): larger windows need --memory there too. */
export const MAX_WINDOW = 1 << 27;

const enum State {
  Magic,
  FrameHeader,
  BlockHeader,
  Checksum,
  SkipSize,
  Skip,
}

interface Frame {
  readonly windowSize: number;
  /** Declared content size, when the header has one. */
  readonly contentSize: number | undefined;
  readonly hasChecksum: boolean;
  readonly inner: Decompress;
  readonly hasher: Hasher | undefined;
  /** Input offset of the frame, for messages. */
  readonly start: number;
  produced: number;
}

export interface ZstdSummary {
  readonly frames: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

function u32le(b: Uint8Array, i: number): number {
  return ((b[i] as number) | ((b[i + 1] as number) << 8) | ((b[i + 2] as number) << 16) | ((b[i + 3] as number) << 24)) >>> 0;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/**
 * Pull-based decoder: push() compressed bytes, then call read() until it
 * returns undefined (it needs more input); end() checks the input ended on a
 * frame boundary. Errors are CorruptBackupErrors naming `name`.
 */
/** A frame declares a window larger than the decoder allows (a corrupt backup unless the limit was lowered on purpose). */
export class WindowTooLarge extends CorruptBackupError {}

export class ZstdDecoder implements Decoder {
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  /** Offset into queue[0] of the first unconsumed byte. */
  private head = 0;
  private consumed = 0;
  private state: State = State.Magic;
  private frame: Frame | undefined;
  private skipLeft = 0;
  private readonly output: Uint8Array[] = [];
  private frames = 0;
  private bytesOut = 0;
  private blocks = 0;
  /** The queue holds only a copy made by ownLeftover(). */
  private owned = false;

  constructor(
    private readonly xx: XXHashApi,
    private readonly name: string,
    private readonly maxWindow = MAX_WINDOW,
  ) {}

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.owned = false;
    this.queue.push(chunk);
    this.queued += chunk.length;
  }

  /**
   * The next piece of decompressed data (at most one block), or undefined
   * when more input is needed. A block that decodes to nothing still returns
   * (an empty piece): each block costs fzstd a pass over its window, so a
   * caller must get control back after every one of them.
   */
  read(): Uint8Array | undefined {
    for (;;) {
      const ready = this.output.shift();
      if (ready) return ready;
      const blocks = this.blocks;
      if (!this.step()) {
        this.ownLeftover();
        return undefined;
      }
      if (this.blocks !== blocks && this.output.length === 0) return EMPTY;
    }
  }

  /** What is left of the input (less than a block) is copied: the caller may reuse its chunks. */
  private ownLeftover(): void {
    if (this.queued === 0) {
      this.queue.length = 0;
      this.head = 0;
      return;
    }
    if (this.queue.length === 1 && this.owned) return;
    const copy = new Uint8Array(this.queued);
    let at = 0;
    for (const [i, chunk] of this.queue.entries()) {
      const part = i === 0 ? chunk.subarray(this.head) : chunk;
      copy.set(part, at);
      at += part.length;
    }
    this.queue.length = 0;
    this.queue.push(copy);
    this.head = 0;
    this.owned = true;
  }

  end(): ZstdSummary {
    if (this.state === State.Skip && this.skipLeft === 0) this.state = State.Magic;
    if (this.state !== State.Magic || this.queued > 0) {
      const where = this.frame ? `in the frame that starts at offset ${this.frame.start}` : `at offset ${this.consumed}`;
      throw this.error(`truncated: the data ends ${where}${this.queued > 0 ? ` (${this.queued} trailing bytes)` : ''}`);
    }
    if (this.frames === 0) throw this.error('holds no zstd frame');
    return { frames: this.frames, bytesIn: this.consumed, bytesOut: this.bytesOut };
  }

  private error(message: string, cause?: unknown): CorruptBackupError {
    return new CorruptBackupError(`${this.name}: zstd: ${message}`, cause === undefined ? undefined : { cause });
  }

  /** Advances by one unit (header, block, checksum...); false when the input is exhausted. */
  private step(): boolean {
    switch (this.state) {
      case State.Magic: {
        const bytes = this.take(4);
        if (!bytes) return false;
        const magic = u32le(bytes, 0);
        if (magic === ZSTD_MAGIC) this.state = State.FrameHeader;
        else if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_BASE) this.state = State.SkipSize;
        else throw this.error(`not a zstd frame at offset ${this.consumed - 4} (magic ${hex(magic)})`);
        return true;
      }
      case State.SkipSize: {
        const bytes = this.take(4);
        if (!bytes) return false;
        this.skipLeft = u32le(bytes, 0);
        this.state = State.Skip;
        return true;
      }
      case State.Skip: {
        if (this.skipLeft === 0) {
          this.state = State.Magic;
          return true;
        }
        const n = this.discard(this.skipLeft);
        this.skipLeft -= n;
        return n > 0;
      }
      case State.FrameHeader:
        return this.frameHeader();
      case State.BlockHeader:
        return this.block();
      case State.Checksum: {
        const bytes = this.take(4);
        if (!bytes) return false;
        const frame = this.frame as Frame;
        this.feed(frame, bytes);
        this.endFrame(frame, u32le(bytes, 0));
        return true;
      }
    }
  }

  private frameHeader(): boolean {
    const descriptor = this.peek(1)?.[0];
    if (descriptor === undefined) return false;
    const fcsFlag = descriptor >> 6;
    const singleSegment = (descriptor >> 5) & 1;
    const hasChecksum = ((descriptor >> 2) & 1) === 1;
    const dictFlag = descriptor & 3;
    const dictBytes = [0, 1, 2, 4][dictFlag] as number;
    const fcsBytes = fcsFlag === 0 ? singleSegment : 1 << fcsFlag;
    const size = 1 + (singleSegment ? 0 : 1) + dictBytes + fcsBytes;
    const start = this.consumed - 4;
    const header = this.take(size);
    if (!header) return false;
    if (descriptor & 0x08) throw this.error(`frame at offset ${start} sets the reserved descriptor bit`);
    let pos = 1;
    let windowSize = 0;
    if (!singleSegment) {
      const wd = header[pos++] as number;
      const base = 2 ** (10 + (wd >> 3));
      windowSize = base + (base / 8) * (wd & 7);
    }
    let dictId = 0;
    for (let i = 0; i < dictBytes; i += 1) dictId += (header[pos + i] as number) * 2 ** (8 * i);
    pos += dictBytes;
    let contentSize: number | undefined;
    if (fcsBytes > 0) {
      contentSize = 0;
      for (let i = 0; i < fcsBytes; i += 1) contentSize += (header[pos + i] as number) * 2 ** (8 * i);
      if (fcsBytes === 2) contentSize += 256;
    }
    if (singleSegment) windowSize = contentSize as number;
    if (dictId !== 0) throw this.error(`frame at offset ${start} needs dictionary ${dictId}, which this layout never uses`);
    if (windowSize > this.maxWindow) {
      throw new WindowTooLarge(`${this.name}: zstd: frame at offset ${start} needs a ${windowSize}-byte window, more than the ${this.maxWindow} bytes allowed`);
    }
    const frame: Frame = {
      windowSize,
      contentSize,
      hasChecksum,
      inner: new Decompress((data) => {
        if (data.length === 0) return;
        frame.produced += data.length;
        if (frame.hasher) updateInSlices(frame.hasher, data);
        this.bytesOut += data.length;
        this.output.push(data);
      }),
      hasher: hasChecksum ? this.xx.create64(0n) : undefined,
      start,
      produced: 0,
    };
    this.frame = frame;
    this.feed(frame, MAGIC_BYTES);
    this.feed(frame, header);
    this.state = State.BlockHeader;
    return true;
  }

  private block(): boolean {
    const header = this.peek(3);
    if (!header) return false;
    const frame = this.frame as Frame;
    const raw = (header[0] as number) | ((header[1] as number) << 8) | ((header[2] as number) << 16);
    const last = (raw & 1) === 1;
    const type = (raw >> 1) & 3;
    const size = raw >>> 3;
    const at = this.consumed;
    if (type === 3) throw this.error(`reserved block type at offset ${at}`);
    if (size > Math.min(BLOCK_MAX, Math.max(frame.windowSize, 1))) {
      throw this.error(`block at offset ${at} is ${size} bytes, more than a block may hold`);
    }
    const bytes = this.take(3 + (type === 1 ? 1 : size));
    if (!bytes) return false;
    this.blocks += 1;
    this.feed(frame, bytes);
    if (!last) return true;
    if (frame.hasChecksum) this.state = State.Checksum;
    else this.endFrame(frame);
    return true;
  }

  private endFrame(frame: Frame, storedChecksum?: number): void {
    // Tells the decoder the frame is complete (it fails if it disagrees); a
    // frame shorter than its look-ahead is only decoded now.
    this.feed(frame, new Uint8Array(0), true);
    if (storedChecksum !== undefined) {
      const actual = Number((frame.hasher as Hasher).digest() & 0xffffffffn);
      if (actual !== storedChecksum) {
        throw this.error(
          `content checksum mismatch in the frame at offset ${frame.start} (stored ${hex(storedChecksum)}, computed ${hex(actual)})`,
        );
      }
    }
    if (frame.contentSize !== undefined && frame.produced !== frame.contentSize) {
      throw this.error(`the frame at offset ${frame.start} declares ${frame.contentSize} bytes but holds ${frame.produced}`);
    }
    this.frames += 1;
    this.frame = undefined;
    this.state = State.Magic;
  }

  private feed(frame: Frame, bytes: Uint8Array, final = false): void {
    try {
      // fzstd keeps input shorter than a frame header (18 bytes) for later: a
      // copy, as the caller may reuse or free its chunks once read() is done.
      frame.inner.push(bytes.length < 18 ? bytes.slice() : bytes, final);
    } catch (err) {
      throw this.error(`invalid data in the frame at offset ${frame.start}: ${(err as Error).message}`, err);
    }
  }

  /** The next n bytes without consuming them (a copy when they span chunks), or undefined. */
  private peek(n: number): Uint8Array | undefined {
    if (this.queued < n) return undefined;
    const first = this.queue[0] as Uint8Array;
    if (first.length - this.head >= n) return first.subarray(this.head, this.head + n);
    const out = new Uint8Array(n);
    let filled = 0;
    let offset = this.head;
    for (const chunk of this.queue) {
      const part = chunk.subarray(offset, offset + (n - filled));
      out.set(part, filled);
      filled += part.length;
      offset = 0;
      if (filled === n) break;
    }
    return out;
  }

  private take(n: number): Uint8Array | undefined {
    const bytes = this.peek(n);
    if (bytes) this.discard(n);
    return bytes;
  }

  /** Drops up to n queued bytes; returns how many. */
  private discard(n: number): number {
    let left = Math.min(n, this.queued);
    const dropped = left;
    let emptied = 0;
    while (left > 0) {
      const chunk = this.queue[emptied] as Uint8Array;
      const available = chunk.length - this.head;
      if (available > left) {
        this.head += left;
        break;
      }
      left -= available;
      emptied += 1;
      this.head = 0;
    }
    // One splice however many small chunks a block spanned.
    if (emptied > 0) this.queue.splice(0, emptied);
    this.queued -= dropped;
    this.consumed += dropped;
    return dropped;
  }
}

export async function createZstdDecoder(options: { name: string; maxWindow?: number }): Promise<ZstdDecoder> {
  return new ZstdDecoder(await getXxhash(), options.name, options.maxWindow);
}
