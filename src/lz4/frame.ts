// Streaming decoder for the LZ4 frame format (magic 0x184D2204), as written
// by Litestream (github.com/pierrec/lz4) and the lz4 command line tool.
//
// Frame layout:
//   magic (4, LE) | FLG (1) | BD (1) | [content size (8, LE)] | [dict id (4)] | HC (1)
//   blocks: size (4, LE; high bit = stored uncompressed; 0 = EndMark)
//           data (size bytes) | [block checksum (4): xxh32(data, 0)]
//   [content checksum (4): xxh32(all decoded content, 0)]
// Skippable frames (magic 0x184D2A50..0x184D2A5F, then a 4-byte LE size) may
// appear between frames and are ignored. Several frames may be concatenated.
//
// The decoder buffers at most one block of input (plus its checksum) and keeps
// at most 64 KiB of previous output as the dictionary for linked blocks.

import { Transform, type TransformCallback } from 'node:stream';
import { CorruptBackupError } from '../errors.js';
import { getXxhash, updateInSlices, xxh32, type XXHashApi } from '../xxhash.js';
import { decodeBlock, Lz4BlockError } from './block.js';

export interface Lz4FrameDecoderOptions {
  /** Prepended to every error message, e.g. the object key being decoded. */
  name?: string;
}

const FRAME_MAGIC = 0x184d2204;
const LEGACY_MAGIC = 0x184c2102;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC_BASE = 0x184d2a50;
const WINDOW = 64 * 1024;

let scratchBuffer = Buffer.alloc(0);
function scratch(size: number): Buffer {
  if (scratchBuffer.length < size) scratchBuffer = Buffer.allocUnsafe(size);
  return scratchBuffer;
}
const UNCOMPRESSED_BIT = 0x80000000;

const enum State {
  Magic, // need 4 bytes
  SkipSize, // need 4 bytes
  Skip, // skipping `skipRemaining` bytes, no buffering
  DescriptorStart, // need FLG + BD
  DescriptorRest, // need optional fields + HC
  BlockSize, // need 4 bytes
  BlockData, // need block data (+ block checksum)
  ContentChecksum, // need 4 bytes
}

function hex(n: number): string {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0');
}

function readU32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

class Lz4FrameDecoder extends Transform {
  private readonly prefix: string;
  private readonly xx: XXHashApi;

  private state: State = State.Magic;
  /** Bytes needed to leave the current state (not used for State.Skip). */
  private need = 4;
  /** Staging buffer for items that span input chunks. */
  private stage: Buffer = Buffer.alloc(16);
  private staged = 0;
  /** Position in the whole input, for error messages. */
  private inputPos = 0;
  /** Input position at which the item being assembled starts. */
  private itemPos = 0;

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
  private contentSize: bigint | undefined;
  private frameOutput = 0;
  private blockIndex = 0;
  private blockSize = 0;
  private blockUncompressed = false;
  private hasher: ReturnType<XXHashApi['create32']> | undefined;
  /** Last (up to) 64 KiB of this frame's output, for linked blocks. */
  private dict: Uint8Array = new Uint8Array(0);
  private dictLen = 0;

  constructor(xx: XXHashApi, options?: Lz4FrameDecoderOptions) {
    super();
    this.xx = xx;
    this.prefix = options?.name ? `${options.name}: ` : '';
  }

  private fail(message: string): CorruptBackupError {
    return new CorruptBackupError(this.prefix + message);
  }

  private where(): string {
    return `frame ${this.lz4Frames} at input offset ${this.itemPos}`;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(chunk);
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    callback(this.endProblem());
  }

  /** Where decoded output goes: the stream, or decodeTransient()'s sink. */
  output: (block: Buffer) => void = (block) => {
    this.push(block);
  };

  /** Output blocks may be views of shared buffers (decodeTransient). */
  private transient = false;

  /**
   * Decodes `chunk` synchronously, handing each block to `sink` as a view of
   * a shared buffer that is only valid during the call: no copy per block.
   * `finish()` checks the input ended cleanly.
   */
  decodeTransient(chunk: Uint8Array, sink: (block: Uint8Array) => void): void {
    this.transient = true;
    this.output = sink;
    this.consume(chunk);
  }

  finish(): void {
    const problem = this.endProblem();
    if (problem) throw problem;
  }

  /** Undefined when the input ended cleanly after at least one frame. */
  private endProblem(): CorruptBackupError | undefined {
    if (this.state === State.Magic && this.staged === 0) {
      if (this.lz4Frames === 0) {
        return this.fail(this.inputPos === 0 ? 'empty LZ4 input (no frame)' : 'LZ4 input holds no LZ4 frame');
      }
      return undefined;
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
    return this.fail(`truncated LZ4 input: it ends ${what} (after ${this.inputPos} bytes)`);
  }

  private consume(chunk: Uint8Array): void {
    const len = chunk.length;
    let pos = 0;
    while (pos < len) {
      if (this.state === State.Skip) {
        const n = Math.min(this.skipRemaining, len - pos);
        pos += n;
        this.inputPos += n;
        this.skipRemaining -= n;
        if (this.skipRemaining === 0) this.setState(State.Magic, 4);
        continue;
      }
      const need = this.need;
      let item: Uint8Array;
      if (this.staged === 0 && len - pos >= need) {
        // Whole item in this chunk: no copy.
        item = chunk.subarray(pos, pos + need);
        this.itemPos = this.inputPos;
        pos += need;
        this.inputPos += need;
      } else {
        if (this.staged === 0) this.itemPos = this.inputPos;
        const n = Math.min(need - this.staged, len - pos);
        this.stage.set(chunk.subarray(pos, pos + n), this.staged);
        this.staged += n;
        pos += n;
        this.inputPos += n;
        if (this.staged < need) break;
        item = this.stage.subarray(0, need);
        this.staged = 0;
      }
      this.handle(item);
    }
  }

  private setState(state: State, need: number): void {
    this.state = state;
    this.need = need;
    if (need > this.stage.length) this.stage = Buffer.allocUnsafe(need);
  }

  private handle(item: Uint8Array): void {
    switch (this.state) {
      case State.Magic: {
        const magic = readU32(item, 0);
        if (magic === FRAME_MAGIC) {
          this.lz4Frames++;
          this.setState(State.DescriptorStart, 2);
        } else if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC_BASE) {
          this.setState(State.SkipSize, 4);
        } else if (magic === LEGACY_MAGIC) {
          throw this.fail(`legacy LZ4 format is not supported (at input offset ${this.itemPos})`);
        } else {
          throw this.fail(
            `not an LZ4 frame: bad magic number ${hex(magic)} at input offset ${this.itemPos} (expected ${hex(FRAME_MAGIC)})`,
          );
        }
        return;
      }
      case State.SkipSize: {
        this.skipRemaining = readU32(item, 0);
        if (this.skipRemaining === 0) this.setState(State.Magic, 4);
        else this.state = State.Skip;
        return;
      }
      case State.DescriptorStart:
        this.startDescriptor(item);
        return;
      case State.DescriptorRest:
        this.finishDescriptor(item);
        return;
      case State.BlockSize: {
        const raw = readU32(item, 0);
        if (raw === 0) {
          this.endBlocks();
          return;
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
          this.decodeBlockItem(item.subarray(0, 0));
          return;
        }
        this.setState(State.BlockData, need);
        return;
      }
      case State.BlockData:
        this.blockIndex++;
        this.decodeBlockItem(item);
        this.setState(State.BlockSize, 4);
        return;
      case State.ContentChecksum: {
        const expected = readU32(item, 0);
        const got = this.hasher!.digest() >>> 0;
        if (expected !== got) {
          throw this.fail(`LZ4 content checksum mismatch in ${this.where()} (expected ${hex(expected)}, got ${hex(got)})`);
        }
        this.endFrame();
        return;
      }
      default:
        // State.Skip is handled in consume().
        throw new Error('lz4 frame decoder: unexpected state');
    }
  }

  private startDescriptor(item: Uint8Array): void {
    const flg = item[0]!;
    const bd = item[1]!;
    const version = flg >>> 6;
    if (version !== 1) {
      throw this.fail(`unsupported LZ4 frame version ${version} in ${this.where()} (expected 1)`);
    }
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
    const descriptor = desc.subarray(0, 2 + restLen);
    const expectedHc = item[restLen]!;
    const gotHc = (this.xx.h32Raw(descriptor, 0) >>> 8) & 0xff;
    if (expectedHc !== gotHc) {
      throw this.fail(
        `LZ4 frame header checksum mismatch in ${this.where()} (expected 0x${expectedHc.toString(16).padStart(2, '0')}, got 0x${gotHc.toString(16).padStart(2, '0')})`,
      );
    }
    let i = 0;
    if ((this.flg & 0x08) !== 0) {
      this.contentSize = BigInt(readU32(item, 0)) | (BigInt(readU32(item, 4)) << 32n);
      i += 8;
    } else {
      this.contentSize = undefined;
    }
    if ((this.flg & 0x01) !== 0) {
      const dictId = readU32(item, i);
      throw this.fail(`LZ4 ${this.where()} needs external dictionary ${hex(dictId)}, which is not supported`);
    }
    this.frameOutput = 0;
    this.blockIndex = 0;
    this.hasher = this.contentChecksum ? this.xx.create32(0) : undefined;
    this.dictLen = 0;
    if (!this.independent && this.dict.length < WINDOW) this.dict = new Uint8Array(WINDOW);
    this.setState(State.BlockSize, 4);
  }

  private decodeBlockItem(item: Uint8Array): void {
    const size = this.blockSize;
    const data = item.subarray(0, size);
    if (this.blockChecksum) {
      const expected = readU32(item, size);
      const got = xxh32(this.xx, data);
      if (expected !== got) {
        throw this.fail(
          `LZ4 block checksum mismatch in block ${this.blockIndex} of ${this.where()} (expected ${hex(expected)}, got ${hex(got)})`,
        );
      }
    }

    let out: Buffer;
    if (this.blockUncompressed) {
      out = this.transient ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);
    } else {
      // Decode into a scratch buffer shared by all decoders (decoding is
      // synchronous), then copy out exactly what was produced: allocating
      // blockMax (4 MiB for Litestream) per block would cost a 4 MiB buffer
      // for every small WAL segment, and the garbage collector's time.
      const dictLen = this.independent ? 0 : this.dictLen;
      const buf = scratch(dictLen + this.blockMax);
      if (dictLen > 0) buf.set(this.dict.subarray(0, dictLen), 0);
      let end: number;
      try {
        end = decodeBlock(data, buf, dictLen, dictLen + this.blockMax);
      } catch (err) {
        if (err instanceof Lz4BlockError) {
          throw this.fail(`corrupt LZ4 block ${this.blockIndex} in ${this.where()}: ${err.message}`);
        }
        throw err;
      }
      out = this.transient ? buf.subarray(dictLen, end) : Buffer.from(buf.subarray(dictLen, end));
    }

    const n = out.length;
    this.frameOutput += n;
    if (this.contentSize !== undefined && BigInt(this.frameOutput) > this.contentSize) {
      throw this.fail(
        `LZ4 content size mismatch in ${this.where()}: the frame header says ${this.contentSize} bytes but the blocks hold more`,
      );
    }
    if (this.hasher) updateInSlices(this.hasher, out);
    if (!this.independent) this.remember(out);
    if (n > 0) this.output(out);
  }

  /** Keeps the last 64 KiB of output as the dictionary for the next block. */
  private remember(out: Uint8Array): void {
    const n = out.length;
    const dict = this.dict;
    if (n >= WINDOW) {
      dict.set(out.subarray(n - WINDOW), 0);
      this.dictLen = WINDOW;
      return;
    }
    const keep = Math.min(this.dictLen, WINDOW - n);
    if (keep < this.dictLen) dict.copyWithin(0, this.dictLen - keep, this.dictLen);
    dict.set(out, keep);
    this.dictLen = keep + n;
  }

  private endBlocks(): void {
    if (this.contentSize !== undefined && BigInt(this.frameOutput) !== this.contentSize) {
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
    this.setState(State.Magic, 4);
  }
}

/**
 * Creates a Transform that decodes one or more concatenated LZ4 frames,
 * skipping skippable frames and verifying the header checksum, block
 * checksums, content checksum and content size when the frame carries them.
 * Every decoding error is a CorruptBackupError whose message starts with
 * `options.name` when given.
 */
export async function createLz4FrameDecoder(options?: { name?: string }): Promise<Transform> {
  const xx = await getXxhash();
  return new Lz4FrameDecoder(xx, options);
}

/** A decoder for decodeTransient(): output without a copy per block, for a synchronous consumer. */
export async function createTransientLz4Decoder(options?: { name?: string }): Promise<Pick<Lz4FrameDecoder, 'decodeTransient' | 'finish'>> {
  return new Lz4FrameDecoder(await getXxhash(), options);
}
