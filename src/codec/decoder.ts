// The one interface every decompressor offers, and the loop that drives one.
//
// Decoders are pull-based: push() hands over a chunk of input, read() returns
// the next piece of output (at most one compressed block's worth: 4 MiB for
// LZ4, 128 KiB for zstd) or undefined when it needs more input. Nothing is
// decoded ahead of the consumer, so memory holds one input chunk and one block
// of output whatever the compression ratio; a consumer that stops reading
// stops the decoding. Once read() has returned undefined, a decoder holds no
// reference to the chunks pushed so far (it copies the little it still needs),
// so callers may reuse their buffers.
import { CorruptBackupError } from '../errors.js';
import { createLz4FrameDecoder } from './lz4-frame.js';
import { createZstdDecoder } from './zstd.js';

export type Compression = 'lz4' | 'zstd' | 'none';

export interface Decoder {
  /** The next input; everything pushed before must have been read (read() returned undefined). */
  push(chunk: Uint8Array): void;
  /** The next piece of output, only valid until the next push() or read(); undefined: more input needed. */
  read(): Uint8Array | undefined;
  /** Throws a CorruptBackupError unless the input ended cleanly. */
  end(): void;
}

/** Input passed through as it is: no compression. */
class Identity implements Decoder {
  private pending: Uint8Array | undefined;
  private seen = false;

  constructor(private readonly name: string) {}

  push(chunk: Uint8Array): void {
    if (this.pending) throw new Error('Decoder.push called before the previous chunk was read');
    if (chunk.length > 0) this.pending = chunk;
    this.seen ||= chunk.length > 0;
  }

  read(): Uint8Array | undefined {
    const out = this.pending;
    this.pending = undefined;
    return out;
  }

  end(): void {
    if (!this.seen) throw new CorruptBackupError(`${this.name}: empty object`);
  }
}

export async function createDecoder(compression: Compression, name: string): Promise<Decoder> {
  if (compression === 'lz4') return createLz4FrameDecoder({ name });
  if (compression === 'zstd') return createZstdDecoder({ name });
  return new Identity(name);
}

/**
 * Keeps a long synchronous loop from holding the event loop: after `budgetMs`
 * of work it lets timers, signals and I/O run (a macrotask, not a microtask)
 * and checks `signal`, so SIGTERM and the deadline act within a few
 * milliseconds whatever the input.
 */
export class Breather {
  private last = performance.now();

  constructor(
    private readonly signal: AbortSignal,
    private readonly budgetMs = 20,
  ) {}

  /** Cheap when within budget; resolves after a turn of the event loop otherwise. */
  async breathe(): Promise<void> {
    if (performance.now() - this.last < this.budgetMs) return;
    await new Promise((resolve) => setImmediate(resolve));
    this.signal.throwIfAborted();
    this.last = performance.now();
  }
}

/**
 * Decodes `input` (one buffer, or the chunks of a stream) through `decoder`,
 * handing each piece to `sink` before the next is decoded. `sink` must be done
 * with a piece when it returns or its promise settles (pieces are views of
 * reused buffers); a sink that returns a promise holds the decoding up. When
 * `enough()` turns true the rest of the input is neither read nor decoded.
 */
export async function decodeInto(
  input: Uint8Array | AsyncIterable<Uint8Array>,
  decoder: Decoder,
  sink: (piece: Uint8Array) => void | Promise<void>,
  signal: AbortSignal,
  enough: () => boolean = () => false,
): Promise<void> {
  const breather = new Breather(signal);
  /** False once enough() said so. */
  const drain = async (chunk: Uint8Array): Promise<boolean> => {
    decoder.push(chunk);
    for (let piece = decoder.read(); piece; piece = decoder.read()) {
      const pending = sink(piece);
      if (pending) await pending;
      if (enough()) return false;
      await breather.breathe();
    }
    return true;
  };
  if (input instanceof Uint8Array) {
    if (!(await drain(input))) return;
  } else {
    for await (const chunk of input) {
      signal.throwIfAborted();
      // Leaving the loop early destroys the stream: nothing more is downloaded.
      if (!(await drain(chunk))) return;
    }
  }
  decoder.end();
}
