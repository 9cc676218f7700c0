// Decodes large objects in a worker thread (decode-thread.ts), as decodeInto()
// does in the calling thread: while the caller checks and applies one piece,
// the worker decodes the next. For the few large WAL segments of big
// transactions, decoding on the main thread was a quarter of its time, with
// the snapshot's worker idle. Memory stays bounded: two input parts and two
// pieces of output (at most one block each) in flight.
import { Worker } from 'node:worker_threads';
import { CorruptBackupError, InternalError } from '../errors.js';
import type { Compression } from './decoder.js';
import { ownsBuffer, release } from './release.js';

export type DecodeRequest =
  | { type: 'begin'; job: number; compression: Compression; name: string }
  | { type: 'input'; job: number; buffer: ArrayBuffer; length: number }
  | { type: 'end'; job: number }
  | { type: 'ack'; job: number }
  | { type: 'cancel'; job: number };
export type DecodeReply =
  | { type: 'piece'; job: number; buffer: ArrayBuffer }
  | { type: 'consumed'; job: number }
  | { type: 'ended'; job: number }
  | { type: 'error'; job: number; corrupt: boolean; message: string };

/** Input chunks posted and not yet decoded. */
const MAX_INPUTS_AHEAD = 2;

export class WorkerDecoder {
  private worker: Worker | undefined;
  private job = 0;
  private readonly inbox: DecodeReply[] = [];
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  /**
   * Decodes `input` through a `compression` decoder in the worker, handing
   * each piece to `sink` (valid until `sink` returns or its promise settles).
   * When `enough()` turns true the rest of the input is neither read nor
   * decoded. Throws a CorruptBackupError for corrupt input, as decodeInto().
   */
  async decode(
    input: AsyncIterable<Uint8Array>,
    compression: Compression,
    name: string,
    sink: (piece: Uint8Array) => void | Promise<void>,
    signal: AbortSignal,
    enough: () => boolean = () => false,
  ): Promise<void> {
    const worker = this.start();
    const job = ++this.job;
    let inputsAhead = 0;
    let ended = false;
    let stop = false;
    const onAbort = () => this.notify();
    signal.addEventListener('abort', onAbort);
    const check = () => {
      signal.throwIfAborted();
      if (this.failure) throw this.failure;
    };
    /** Handles what the worker said (leftovers of earlier jobs are dropped); returns the pieces to consume, in order. */
    const take = (): ArrayBuffer[] => {
      const pieces: ArrayBuffer[] = [];
      for (const message of this.inbox.splice(0)) {
        if (message.job !== job) {
          if (message.type === 'piece') release(new Uint8Array(message.buffer));
          continue;
        }
        if (message.type === 'piece') pieces.push(message.buffer);
        else if (message.type === 'consumed') inputsAhead -= 1;
        else if (message.type === 'ended') ended = true;
        else throw message.corrupt ? new CorruptBackupError(message.message) : new InternalError(`decoding ${name} in a worker: ${message.message}`);
      }
      return pieces;
    };
    const consume = async (pieces: ArrayBuffer[]) => {
      for (const buffer of pieces) {
        if (stop) {
          release(new Uint8Array(buffer));
          continue;
        }
        const piece = new Uint8Array(buffer);
        const pending = sink(piece);
        if (pending) await pending;
        release(piece);
        worker.postMessage({ type: 'ack', job } satisfies DecodeRequest);
        if (enough()) stop = true;
      }
    };
    /** Handles what arrived; waits for the worker when nothing did. */
    const step = async () => {
      check();
      if (this.inbox.length === 0) await new Promise<void>((resolve) => (this.wake = resolve));
      else await consume(take());
    };
    try {
      worker.postMessage({ type: 'begin', job, compression, name } satisfies DecodeRequest);
      for await (const chunk of input) {
        // A part that owns its memory moves; anything else is copied (a socket chunk may share a pool).
        const owned = ownsBuffer(chunk) ? chunk : new Uint8Array(chunk);
        worker.postMessage({ type: 'input', job, buffer: owned.buffer as ArrayBuffer, length: owned.length } satisfies DecodeRequest, [
          owned.buffer as ArrayBuffer,
        ]);
        inputsAhead += 1;
        while (inputsAhead >= MAX_INPUTS_AHEAD && !stop) await step();
        // Leaving the loop destroys the stream: nothing more is downloaded.
        if (stop) return;
      }
      worker.postMessage({ type: 'end', job } satisfies DecodeRequest);
      while (!ended && !stop) await step();
      // Pieces that arrived with the end.
      if (!stop) await consume(take());
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (!ended) worker.postMessage({ type: 'cancel', job } satisfies DecodeRequest);
    }
  }

  /** Stops the worker; the decoder can be used again afterwards (a new worker starts). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./decode-thread.js', import.meta.url), {
      // It allocates little on its heap: a small nursery keeps its memory small.
      resourceLimits: { maxYoungGenerationSizeMb: 2 },
    });
    worker.on('message', (message: DecodeReply) => {
      this.inbox.push(message);
      this.notify();
    });
    worker.on('error', (error) => {
      this.failure ??= new InternalError(`decoding worker failed: ${error.message}`, { cause: error });
      this.notify();
    });
    worker.on('exit', () => {
      if (this.worker === worker) this.failure ??= new InternalError('decoding worker exited early');
      this.notify();
    });
    this.worker = worker;
    return worker;
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
