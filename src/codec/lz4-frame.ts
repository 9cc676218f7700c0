// Pull decoder for the LZ4 frame format (magic 0x184D2204), as written by
// Litestream (github.com/pierrec/lz4) and the lz4 command line tool.
//
// Frame layout:
//   magic (4, LE) | FLG (1) | BD (1) | [content size (8, LE)] | [dict id (4)] | HC (1)
//   blocks: size (4, LE; high bit = stored uncompressed; 0 = EndMark)
//           data (size bytes) | [block checksum (4): xxh32(data, 0)]
//   [content checksum (4): xxh32(all decoded content, 0)]
// Skippable frames (magic 0x184D2A50..0x184D2A5F, then a 4-byte LE size) may
// appear between frames and are ignored. Several frames may be concatenated.
//
// read() decodes at most one block, so memory holds one block of input (plus
// its checksum), one block of output and 64 KiB of history for linked blocks,
// however well the data compressed. In `single` mode (LTX pages are each one
// frame, back to back with other data) exactly one frame is read and the
// bytes after it are left unconsumed.
import { CorruptBackupError } from '../errors.js';
import type { Decoder } from './decoder.js';
import { ItemReader } from './item-reader.js';
import { decodeBlock, Lz4BlockError } from './lz4-block.js';
import { getXxhash, updateInSlices, xxh32, type XXHashApi } from './xxhash.js';

export interface Lz4FrameDecoderOptions {
  /** Prepended to every error message, e.g. the object key being decoded. */
  readonly name?: string;
  /** Exactly one frame, no skippable frames; what follows it stays unconsumed. */
  readonly single?: boolean;
  /** Verify block and content checksums (default); off where a checksum of the decoded data covers it anyway. */
  readonly checksums?: boolean;
}

const FRAME_MAGIC = 0x184d2204;
const LEGACY_MAGIC = 0x184c2102;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC_BASE = 0x184d2a50;
const WINDOW = 64 * 1024;
const UNCOMPRESSED_BIT = 0x80000000;

// Output buffers (history + one block) are pooled: a restore decodes
// thousands of small WAL segments one after the other, and a fresh 4 MiB
// buffer for each would cost the collector more than the decoding.
const pool: Uint8Array[] = [];
function acquire(size: number): Uint8Array {
  const index = pool.findIndex((b) => b.length >= size);
  return index >= 0 ? (pool.splice(index, 1)[0] as Uint8Array) : new Uint8Array(size);
}
function release(buffer: Uint8Array): void {
  if (pool.length < 4) pool.push(buffer);
}

const enum State {
  Magic, // need 4 bytes
  SkipSize, // need 4 bytes
  Skip, // skipping `skipRemaining` bytes, no buffering
  DescriptorStart, // need FLG + BD
  DescriptorRest, // need optional fields + HC
  BlockSize, // need 4 bytes
  BlockData, // need block data (+ block checksum)
  ContentChecksum, // need 4 bytes
  Done, // single mode: the frame is complete
}

function hex(n: number): string {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0');
}

function readU32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

export class Lz4FrameDecoder implements Decoder {
  private readonly prefix: string;
  private readonly single: boolean;
  private readonly checksums: boolean;

  private readonly reader = new ItemReader();
  private state: State = State.Magic;
  /** Bytes needed to leave the current state (not used for State.Skip). */
  private need = 4;

  private lz4Frames = 0;
  private skipRemaining = 0;

  // Current frame.
  /** FLG, BD and the optional descriptor fields, for the header checksum. */
  private readonly descStart = new Uint8Array(14);
  private flg = 0;
  private blockMax = 0;
  private independent = true;
  private blockChecksum = false;
  private contentChecksum = false;
  private contentSize: number | undefined;
  private frameOutput = 0;
  private blockIndex = 0;
  private blockSize = 0;
  private blockUncompressed = false;
  private hasher: ReturnType<XXHashApi['create32']> | undefined;
  /** History (up to 64 KiB, linked blocks) then the current block's output. */
  private out: Uint8Array | undefined;
  /** Bytes of history at the start of `out`. */
  private dictLen = 0;
  /** After a compressed linked block: history and output end here, rolled into history on the next block. */
  private rollEnd = 0;

  constructor(
    private readonly xx: XXHashApi,
    options: Lz4FrameDecoderOptions = {},
  ) {
    this.prefix = options.name ? `${options.name}: ` : '';
    this.single = options.single ?? false;
    this.checksums = options.checksums ?? true;
  }

  /** Bytes of the last pushed chunk not consumed (in single mode: what follows the frame). */
  get unconsumed(): number {
    return this.reader.available;
  }

  /** Single mode: the frame has been read completely. */
  get done(): boolean {
    return this.state === State.Done;
  }

  push(chunk: Uint8Array): void {
    this.reader.push(chunk, 'Lz4FrameDecoder');
  }

  read(): Uint8Array | undefined {
    for (;;) {
      if (this.state === State.Done) return undefined;
      if (this.state === State.Skip) {
        const n = this.reader.takeSome(this.skipRemaining).length;
        if (n === 0) return undefined;
        this.skipRemaining -= n;
        if (this.skipRemaining === 0) this.setState(State.Magic, 4);
        continue;
      }
      const item = this.reader.take(this.need);
      if (!item) return undefined;
      const output = this.handle(item);
      if (output) return output;
    }
  }

  end(): void {
    const problem = this.endProblem();
    if (problem) throw problem;
    this.releaseOutput();
  }

  private fail(message: string): CorruptBackupError {
    this.releaseOutput();
    return new CorruptBackupError(this.prefix + message);
  }

  private releaseOutput(): void {
    if (this.out) release(this.out);
    this.out = undefined;
  }

  private where(): string {
    return `frame ${this.lz4Frames} at input offset ${this.reader.itemPosition}`;
  }

  /** Undefined when the input ended cleanly after at least one frame. */
  private endProblem(): CorruptBackupError | undefined {
    if (this.state === State.Done) return undefined;
    if (this.state === State.Magic && !this.reader.partial) {
      if (this.lz4Frames === 0) {
        return this.fail(this.reader.position === 0 ? 'empty LZ4 input (no frame)' : 'LZ4 input holds no LZ4 frame');
      }
      return this.single ? this.fail('truncated LZ4 frame') : undefined;
    }
    let what: string;
    switch (this.state) {
      case State.Magic:
        what = 'in a frame magic number';
        break;
      case State.SkipSize:
      case State.Skip:
        what = 'in a skippable frame';
        break;
      case State.DescriptorStart:
      case State.DescriptorRest:
        what = `in the descriptor of frame ${this.lz4Frames}`;
        break;
      case State.BlockSize:
        what = `in frame ${this.lz4Frames} before its EndMark (after ${this.blockIndex} blocks)`;
        break;
      case State.BlockData:
        what = `in block ${this.blockIndex + 1} of frame ${this.lz4Frames}`;
        break;
      case State.ContentChecksum:
        what = `in the content checksum of frame ${this.lz4Frames}`;
        break;
    }
    return this.fail(`truncated LZ4 input: it ends ${what} (after ${this.reader.position} bytes)`);
  }

  private setState(state: State, need: number): void {
    this.state = state;
    this.need = need;
  }

  /** Handles one complete item; returns decoded output when it was a block that produced some. */
  private handle(item: Uint8Array): Uint8Array | undefined {
    switch (this.state) {
      case State.Magic: {
        const magic = readU32(item, 0);
        if (magic === FRAME_MAGIC) {
          this.lz4Frames++;
          this.setState(State.DescriptorStart, 2);
        } else if (this.single) {
          throw this.fail(`expected an LZ4 frame, found magic ${hex(magic)}`);
        } else if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC_BASE) {
          this.setState(State.SkipSize, 4);
        } else if (magic === LEGACY_MAGIC) {
          throw this.fail(`legacy LZ4 format is not supported (at input offset ${this.reader.itemPosition})`);
        } else {
          throw this.fail(`not an LZ4 frame: bad magic number ${hex(magic)} at input offset ${this.reader.itemPosition} (expected ${hex(FRAME_MAGIC)})`);
        }
        return undefined;
      }
      case State.SkipSize:
        this.skipRemaining = readU32(item, 0);
        if (this.skipRemaining === 0) this.setState(State.Magic, 4);
        else this.state = State.Skip;
        return undefined;
      case State.DescriptorStart:
        this.startDescriptor(item);
        return undefined;
      case State.DescriptorRest:
        this.finishDescriptor(item);
        return undefined;
      case State.BlockSize: {
        const raw = readU32(item, 0);
        if (raw === 0) {
          this.endBlocks();
          return undefined;
        }
        this.blockUncompressed = (raw & UNCOMPRESSED_BIT) !== 0;
        this.blockSize = (raw & ~UNCOMPRESSED_BIT) >>> 0;
        if (this.blockSize > this.blockMax) {
          throw this.fail(
            `LZ4 block ${this.blockIndex + 1} of ${this.where()} is ${this.blockSize} bytes, more than the frame's maximum block size of ${this.blockMax}`,
          );
        }
        const need = this.blockSize + (this.blockChecksum ? 4 : 0);
        if (need === 0) {
          // An empty stored block: nothing to wait for.
          this.blockIndex++;
          return this.decodeBlockItem(item.subarray(0, 0));
        }
        this.setState(State.BlockData, need);
        return undefined;
      }
      case State.BlockData: {
        this.blockIndex++;
        this.setState(State.BlockSize, 4);
        return this.decodeBlockItem(item);
      }
      case State.ContentChecksum: {
        if (this.hasher) {
          const expected = readU32(item, 0);
          const got = this.hasher.digest() >>> 0;
          if (expected !== got) {
            throw this.fail(`LZ4 content checksum mismatch in ${this.where()} (expected ${hex(expected)}, got ${hex(got)})`);
          }
        }
        this.endFrame();
        return undefined;
      }
      default:
        throw new Error('lz4 frame decoder: unexpected state');
    }
  }

  private startDescriptor(item: Uint8Array): void {
    const flg = item[0]!;
    const bd = item[1]!;
    const version = flg >>> 6;
    if (version !== 1) throw this.fail(`unsupported LZ4 frame version ${version} in ${this.where()} (expected 1)`);
    if ((flg & 0x02) !== 0) throw this.fail(`reserved bit set in the LZ4 frame flags (FLG=0x${flg.toString(16)}) of ${this.where()}`);
    if ((bd & 0x8f) !== 0) throw this.fail(`reserved bit set in the LZ4 block descriptor (BD=0x${bd.toString(16)}) of ${this.where()}`);
    const sizeCode = (bd >>> 4) & 7;
    if (sizeCode < 4) throw this.fail(`invalid LZ4 maximum block size code ${sizeCode} in ${this.where()}`);
    this.flg = flg;
    this.blockMax = 1 << (8 + 2 * sizeCode); // 4: 64 KiB, 5: 256 KiB, 6: 1 MiB, 7: 4 MiB
    this.independent = (flg & 0x20) !== 0;
    this.blockChecksum = (flg & 0x10) !== 0;
    const hasContentSize = (flg & 0x08) !== 0;
    this.contentChecksum = (flg & 0x04) !== 0;
    const hasDictId = (flg & 0x01) !== 0;
    // Keep FLG and BD: the header checksum covers them and the optional fields.
    this.descStart[0] = flg;
    this.descStart[1] = bd;
    this.setState(State.DescriptorRest, (hasContentSize ? 8 : 0) + (hasDictId ? 4 : 0) + 1);
  }

  private finishDescriptor(item: Uint8Array): void {
    const restLen = item.length - 1;
    const desc = this.descStart;
    desc.set(item.subarray(0, restLen), 2);
    const expectedHc = item[restLen]!;
    const gotHc = (this.xx.h32Raw(desc.subarray(0, 2 + restLen), 0) >>> 8) & 0xff;
    if (expectedHc !== gotHc) {
      throw this.fail(
        `LZ4 frame header checksum mismatch in ${this.where()} (expected 0x${expectedHc.toString(16).padStart(2, '0')}, got 0x${gotHc.toString(16).padStart(2, '0')})`,
      );
    }
    let i = 0;
    if ((this.flg & 0x08) !== 0) {
      // Above 2^53 no frame could hold it anyway; the size check below fails at the end.
      this.contentSize = readU32(item, 0) + readU32(item, 4) * 2 ** 32;
      i += 8;
    } else {
      this.contentSize = undefined;
    }
    if ((this.flg & 0x01) !== 0) {
      throw this.fail(`LZ4 ${this.where()} needs external dictionary ${hex(readU32(item, i))}, which is not supported`);
    }
    this.frameOutput = 0;
    this.blockIndex = 0;
    this.hasher = this.contentChecksum && this.checksums ? this.xx.create32(0) : undefined;
    this.dictLen = 0;
    this.rollEnd = 0;
    this.setState(State.BlockSize, 4);
  }

  private decodeBlockItem(item: Uint8Array): Uint8Array | undefined {
    const size = this.blockSize;
    const data = item.subarray(0, size);
    if (this.blockChecksum && this.checksums) {
      const expected = readU32(item, size);
      const got = xxh32(this.xx, data);
      if (expected !== got) {
        throw this.fail(`LZ4 block checksum mismatch in block ${this.blockIndex} of ${this.where()} (expected ${hex(expected)}, got ${hex(got)})`);
      }
    }

    let output: Uint8Array;
    if (!this.independent) this.rollHistory();
    if (this.blockUncompressed) {
      // A view of the input: valid until the next push, as promised.
      output = data;
      if (!this.independent) this.appendHistory(data);
    } else {
      const out = this.output((this.independent ? 0 : WINDOW) + this.blockMax);
      const dictLen = this.independent ? 0 : this.dictLen;
      let end: number;
      try {
        end = decodeBlock(data, out, dictLen, dictLen + this.blockMax);
      } catch (err) {
        if (err instanceof Lz4BlockError) throw this.fail(`corrupt LZ4 block ${this.blockIndex} in ${this.where()}: ${err.message}`);
        throw err;
      }
      output = out.subarray(dictLen, end);
      // The output sits right after the history: both become the next history once it has been read.
      if (!this.independent) this.rollEnd = end;
    }

    this.frameOutput += output.length;
    if (this.contentSize !== undefined && this.frameOutput > this.contentSize) {
      throw this.fail(`LZ4 content size mismatch in ${this.where()}: the frame header says ${this.contentSize} bytes but the blocks hold more`);
    }
    if (this.hasher) updateInSlices(this.hasher, output);
    return output;
  }

  /** The output buffer, at least `size` bytes, keeping the history at its start. */
  private output(size: number): Uint8Array {
    if (!this.out || this.out.length < size) {
      const previous = this.out;
      this.out = acquire(size);
      if (previous) {
        this.out.set(previous.subarray(0, this.dictLen));
        release(previous);
      }
    }
    return this.out;
  }

  /** Moves the last 64 KiB of history + previous block to the start of the buffer (linked blocks). */
  private rollHistory(): void {
    if (this.rollEnd === 0) return;
    const out = this.out as Uint8Array;
    const start = Math.max(0, this.rollEnd - WINDOW);
    out.copyWithin(0, start, this.rollEnd);
    this.dictLen = this.rollEnd - start;
    this.rollEnd = 0;
  }

  /** Adds a stored block (which lives in the input, not in the buffer) to the history. */
  private appendHistory(data: Uint8Array): void {
    const out = this.output(WINDOW + this.blockMax);
    const n = data.length;
    if (n >= WINDOW) {
      out.set(data.subarray(n - WINDOW), 0);
      this.dictLen = WINDOW;
      return;
    }
    const keep = Math.min(this.dictLen, WINDOW - n);
    out.copyWithin(0, this.dictLen - keep, this.dictLen);
    out.set(data, keep);
    this.dictLen = keep + n;
  }

  private endBlocks(): void {
    if (this.contentSize !== undefined && this.frameOutput !== this.contentSize) {
      throw this.fail(
        `LZ4 content size mismatch in ${this.where()} (the frame header says ${this.contentSize} bytes, the blocks hold ${this.frameOutput})`,
      );
    }
    if (this.contentChecksum) this.setState(State.ContentChecksum, 4);
    else this.endFrame();
  }

  private endFrame(): void {
    this.hasher = undefined;
    this.dictLen = 0;
    this.rollEnd = 0;
    if (this.single) this.setState(State.Done, 0);
    else this.setState(State.Magic, 4);
  }
}

/**
 * A decoder for one or more concatenated LZ4 frames, skipping skippable
 * frames and verifying the header checksum, block checksums, content checksum
 * and content size when the frame carries them. Every decoding error is a
 * CorruptBackupError whose message starts with `options.name` when given.
 */
export async function createLz4FrameDecoder(options?: Lz4FrameDecoderOptions): Promise<Lz4FrameDecoder> {
  return new Lz4FrameDecoder(await getXxhash(), options);
}
