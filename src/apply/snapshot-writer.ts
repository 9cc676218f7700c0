// Streams a snapshot into the database file through a worker thread: this
// thread only posts the downloaded bytes: whole parts are moved as they are,
// smaller chunks are batched into a few buffers that go back and forth.
// Decompression, content checksums and the writes happen beside it, in the
// layout's snapshot source (see snapshot-source.ts); at most a few messages
// are unacknowledged, so memory stays bounded whatever the size.
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { CorruptBackupError, InternalError } from '../errors.js';
import { Breather } from '../codec/decoder.js';
import { SnapshotFile } from './snapshot-file.js';
import { ownsBuffer } from '../codec/release.js';
import type { SnapshotSourceSpec } from './snapshot-source.js';

export interface SnapshotJob {
  readonly source: SnapshotSourceSpec;
  readonly fd: number;
  readonly name: string;
  /** A SnapshotProgress's cell, which the writes advance. */
  readonly progress?: SharedArrayBuffer;
}

/** `buffer` moves to the worker, which hands it back with the acknowledgement when `recycle` is set. */
export type SnapshotWorkerRequest = { type: 'data'; buffer: ArrayBuffer; length: number; recycle: boolean } | { type: 'end' };
export type SnapshotWorkerReply =
  | { type: 'ack'; buffer?: ArrayBuffer }
  | { type: 'done'; bytes: number; head: Uint8Array; details?: unknown }
  | { type: 'error'; corrupt: boolean; message: string; code?: string };

export interface WrittenSnapshot {
  /** Size of the database file written. */
  readonly bytes: number;
  /** The first bytes of the database (up to its 100-byte header); shorter when nothing was written there. */
  readonly head: Buffer;
  /** What the snapshot source reported at its end, for the layout's checks. */
  readonly details?: unknown;
}

const BATCH_BYTES = 1 << 20;
/** Bytes posted to the worker and not yet done with; one message may exceed it alone. */
const MAX_UNACKED_BYTES = 4 << 20;

export async function writeSnapshotInWorker(
  body: Readable | Uint8Array,
  options: SnapshotJob & { signal: AbortSignal },
): Promise<WrittenSnapshot> {
  const { signal, ...job } = options;
  const { name } = job;
  const worker = new Worker(new URL('./snapshot-worker.js', import.meta.url), {
    workerData: job satisfies SnapshotJob,
    // It allocates little: a small nursery keeps its memory small.
    resourceLimits: { maxYoungGenerationSizeMb: 2 },
  });
  const unacked: number[] = []; // sizes, in posting order
  let unackedBytes = 0;
  const free: ArrayBuffer[] = [];
  let result: WrittenSnapshot | undefined;
  let failure: { error: unknown } | undefined;
  let exited = false;
  let wake: (() => void) | undefined;
  const notify = () => wake?.();
  const changed = () => new Promise<void>((resolve) => (wake = resolve));
  worker.on('message', (message: SnapshotWorkerReply) => {
    if (message.type === 'ack') {
      unackedBytes -= unacked.shift() ?? 0;
      if (message.buffer) free.push(message.buffer);
    }
    else if (message.type === 'done') {
      result = { bytes: message.bytes, head: Buffer.from(message.head), ...(message.details !== undefined ? { details: message.details } : {}) };
    }
    else failure ??= { error: rebuild(message) };
    notify();
  });
  worker.on('error', (error) => {
    failure ??= { error: new InternalError(`snapshot worker for ${name} failed: ${error.message}`, { cause: error }) };
    notify();
  });
  worker.on('exit', () => {
    exited = true;
    notify();
  });
  signal.addEventListener('abort', notify);
  const check = () => {
    signal.throwIfAborted();
    if (failure) throw failure.error;
    if (exited && !result) throw new InternalError(`snapshot worker for ${name} exited early`);
  };

  try {
    const take = () => Buffer.from(free.pop() ?? new ArrayBuffer(BATCH_BYTES));
    let batch = take();
    let filled = 0;
    /** Sends `buffer` (moved, not copied); `recycle`: the worker hands it back for the next batch. */
    const send = async (buffer: ArrayBuffer, length: number, recycle: boolean) => {
      while (unackedBytes > 0 && unackedBytes + length > MAX_UNACKED_BYTES) {
        check();
        await changed();
      }
      check();
      worker.postMessage({ type: 'data', buffer, length, recycle } satisfies SnapshotWorkerRequest, [buffer]);
      unacked.push(length);
      unackedBytes += length;
    };
    const post = async () => {
      await send(batch.buffer as ArrayBuffer, filled, true);
      batch = take();
      filled = 0;
    };
    for await (const data of body instanceof Uint8Array ? [body] : body) {
      const chunk = Buffer.isBuffer(data) ? data : Buffer.from((data as Uint8Array).buffer, (data as Uint8Array).byteOffset, (data as Uint8Array).byteLength);
      if (filled === 0 && ownsBuffer(chunk)) {
        // A whole downloaded part: moved to the worker as it is, and freed there.
        await send(chunk.buffer as ArrayBuffer, chunk.length, false);
        // The next part is taken once the worker is done with this one: held
        // here meanwhile, it would also let the store start one more download.
        while (unackedBytes > 0) {
          check();
          await changed();
        }
        continue;
      }
      for (let offset = 0; offset < chunk.length; ) {
        const n = chunk.copy(batch, filled, offset);
        filled += n;
        offset += n;
        if (filled === batch.length) await post();
      }
    }
    if (filled > 0) await post();
    worker.postMessage({ type: 'end' } satisfies SnapshotWorkerRequest);
    while (!result) {
      check();
      await changed();
    }
    return result;
  } finally {
    signal.removeEventListener('abort', notify);
    // The file descriptor is the caller's: the worker must be gone before it may be closed.
    await worker.terminate();
  }
}

function rebuild(message: Extract<SnapshotWorkerReply, { type: 'error' }>): Error {
  if (message.corrupt) return new CorruptBackupError(message.message);
  // Local I/O errors keep their code, so a full disk still maps to its exit code.
  return Object.assign(new Error(message.message), message.code ? { code: message.code } : {});
}

/**
 * A snapshot object this small is decoded in the calling thread: starting a
 * worker costs 100-250 ms of CPU (more than decoding a few MiB), and an object
 * this size comes in one GET anyway (S3Store splits objects above two 4 MiB parts).
 */
export const INLINE_SNAPSHOT_BYTES = 8 << 20;

/** Writes the snapshot: in a worker thread, or inline when its object (`size` bytes stored) is small. */
export async function writeSnapshot(
  body: Readable | Uint8Array,
  options: SnapshotJob & { size: number; signal: AbortSignal },
): Promise<WrittenSnapshot> {
  const { size, ...job } = options;
  if (size > INLINE_SNAPSHOT_BYTES) return writeSnapshotInWorker(body, job);
  const breather = new Breather(job.signal);
  const file = await SnapshotFile.open(job.source, job.fd, job.name, job.progress);
  for await (const chunk of body instanceof Uint8Array ? [body] : body) await file.feed(chunk as Uint8Array, () => breather.breathe());
  const done = await file.finish();
  return { bytes: done.bytes, head: Buffer.from(done.head), ...(done.details !== undefined ? { details: done.details } : {}) };
}
