// Frees a large buffer the restore is done with at once, instead of leaving
// it to the garbage collector. Downloaded parts (4 MiB each) and prefetched
// objects live long enough to reach V8's old generation, where a dead one is
// only freed by a major collection, which external memory triggers only after
// about 64 MiB more of it: each thread held up to 64 MiB of dead downloads
// (measured: the snapshot worker 60 MiB, the main thread 20-60 MiB).
//
// Detaching the ArrayBuffer frees its memory synchronously. Node 20 has no
// ArrayBuffer.prototype.transfer (Node 22 does); transferring the buffer in a
// message posted on a closed MessagePort detaches it on both, and the message
// goes nowhere.
import { MessageChannel, type MessagePort } from 'node:worker_threads';

/** Smaller buffers die young, or come from pools: left to the collector. */
const MIN_BYTES = 64 << 10;

let sink: MessagePort | undefined;

/** True when `chunk` is the whole of an ArrayBuffer of its own, large enough to be worth freeing. */
export function ownsBuffer(chunk: Uint8Array): boolean {
  return chunk.buffer instanceof ArrayBuffer && chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength && chunk.byteLength >= MIN_BYTES;
}

/**
 * Frees the memory of `chunk` when it owns its ArrayBuffer (see ownsBuffer());
 * afterwards `chunk` and every view of the same memory read as empty. Only for
 * buffers nothing else will read again: the caller must be their last user.
 */
export function release(chunk: Uint8Array | undefined): void {
  if (!chunk || !ownsBuffer(chunk)) return;
  if (!sink) {
    sink = new MessageChannel().port1;
    sink.close();
  }
  try {
    sink.postMessage(null, [chunk.buffer as ArrayBuffer]);
  } catch {
    // Not detachable (e.g. marked untransferable): left to the collector, as before.
  }
}

/**
 * Yields the chunks of `input` and frees each once the consumer asks for the
 * next one: a decoder has then read it dry, and holds no reference to it that
 * it will use again (see Decoder in codec/decoder.ts). The last one is left to
 * the caller: releaseRest() once the decoder is done.
 */
export class ReleasingChunks implements AsyncIterable<Uint8Array> {
  private last: Uint8Array | undefined;

  constructor(private readonly input: AsyncIterable<Uint8Array>) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for await (const chunk of this.input) {
      release(this.last);
      this.last = chunk;
      yield chunk;
    }
  }

  /** Frees the last chunk; call once the consumer is done with it. */
  releaseRest(): void {
    release(this.last);
    this.last = undefined;
  }
}
