// Worker-thread entry: decodes a snapshot whose bytes the main thread posts,
// through the layout's snapshot source (a module named in the job), and
// writes it into the database file, while the main thread downloads and
// folds what comes after it. Decoding is synchronous and one block at a
// time; the writes go to libuv's threadpool, several at a time.
import { ftruncateSync, write as writeAsync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { CorruptBackupError } from '../errors.js';
import { DB_HEADER_SIZE } from '../sqlite/header.js';
import type { CreateSnapshotSource } from './snapshot-source.js';
import type { SnapshotJob, SnapshotWorkerReply, SnapshotWorkerRequest } from './snapshot-writer.js';
import { writeAllSync } from './write-all.js';

/** Compressed bytes pushed to the source at a time. */
const PIECE_BYTES = 256 << 10;
const WRITE_BUFFER_BYTES = 1 << 20;
const WRITE_BUFFERS = 6;
/** Free write buffers wanted before each read: one LZ4 block's worth. */
const ROOM = 4;

const job = workerData as SnapshotJob;
const port = parentPort as NonNullable<typeof parentPort>;
const reply = (message: SnapshotWorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

/**
 * Positional writes on the threadpool, several in flight: filling the page
 * cache scales with threads (a 1 GiB file took 2.6-4.4 s from one thread and
 * 1.2-1.8 s from two on our build VMs), and decoding goes on meanwhile. Data
 * is copied into a few reused buffers, contiguous writes (an image's blocks,
 * an LTX snapshot's run of pages) into the same one; when none is free, it is
 * written synchronously, so memory stays fixed whatever a read decodes to.
 */
class ParallelWrites {
  private readonly free: Buffer[] = Array.from({ length: WRITE_BUFFERS }, () => Buffer.allocUnsafe(WRITE_BUFFER_BYTES));
  private inflight = 0;
  private failure: { error: unknown } | undefined;
  private wake: (() => void) | undefined;
  /** The buffer being filled, and the file position of its first byte. */
  private current: Buffer | undefined;
  private currentStart = 0;
  private currentFilled = 0;

  write(data: Uint8Array, position: number): void {
    this.check();
    let at = 0;
    if (this.current && position === this.currentStart + this.currentFilled) {
      const n = Math.min(this.current.length - this.currentFilled, data.length);
      this.current.set(data.subarray(0, n), this.currentFilled);
      this.currentFilled += n;
      at = n;
      if (this.currentFilled === this.current.length) this.submitCurrent();
    } else {
      this.submitCurrent();
    }
    while (at < data.length) {
      const buffer = this.free.pop();
      if (!buffer) {
        writeAllSync(job.fd, data.subarray(at), position + at);
        return;
      }
      const n = Math.min(buffer.length, data.length - at);
      buffer.set(data.subarray(at, at + n));
      this.current = buffer;
      this.currentStart = position + at;
      this.currentFilled = n;
      at += n;
      if (n === buffer.length) this.submitCurrent();
    }
  }

  /** Waits until `count` buffers are free. */
  async room(count: number): Promise<void> {
    while (this.free.length < count && this.inflight > 0) await new Promise<void>((resolve) => (this.wake = resolve));
    this.check();
  }

  async drain(): Promise<void> {
    this.submitCurrent();
    while (this.inflight > 0) await new Promise<void>((resolve) => (this.wake = resolve));
    this.check();
  }

  private submitCurrent(): void {
    const buffer = this.current;
    if (!buffer) return;
    this.current = undefined;
    this.submit(buffer, 0, this.currentFilled, this.currentStart);
  }

  private submit(buffer: Buffer, offset: number, length: number, position: number): void {
    this.inflight += 1;
    writeAsync(job.fd, buffer, offset, length, position, (error, written) => {
      this.inflight -= 1;
      if (error) this.failure ??= { error };
      else if (written < length) this.submit(buffer, offset + written, length - written, position + written);
      if (error || written >= length) this.free.push(buffer);
      const wake = this.wake;
      this.wake = undefined;
      wake?.();
    });
  }

  private check(): void {
    if (this.failure) throw this.failure.error;
  }
}

const out = new ParallelWrites();
const { createSnapshotSource } = (await import(job.source.module)) as { createSnapshotSource: CreateSnapshotSource };
const source = await createSnapshotSource(job.source.params, job.name);
/** The database header, from whatever writes cover its bytes. */
const head = Buffer.alloc(DB_HEADER_SIZE);
let headFilled = 0;
let failed = false;

async function handle(message: SnapshotWorkerRequest): Promise<void> {
  if (message.type === 'end') {
    const end = source.end();
    await out.drain();
    // Sets the size, and leaves any page the source did not write as zeros.
    ftruncateSync(job.fd, end.size);
    reply({ type: 'done', bytes: end.size, head: head.subarray(0, Math.min(headFilled, end.size)), details: end.details });
    return;
  }
  const input = new Uint8Array(message.buffer, 0, message.length);
  for (let at = 0; at < input.length; at += PIECE_BYTES) {
    source.push(input.subarray(at, Math.min(at + PIECE_BYTES, input.length)));
    for (;;) {
      await out.room(ROOM);
      const write = source.read();
      if (!write) break;
      if (write.position < DB_HEADER_SIZE) {
        const n = Math.min(write.data.length, DB_HEADER_SIZE - write.position);
        head.set(write.data.subarray(0, n), write.position);
        headFilled = Math.max(headFilled, write.position + n);
      }
      out.write(write.data, write.position);
    }
  }
  if (message.recycle) reply({ type: 'ack', buffer: message.buffer }, [message.buffer]);
  else reply({ type: 'ack' });
}

// One message at a time, in order.
let queue = Promise.resolve();
port.on('message', (message: SnapshotWorkerRequest) => {
  queue = queue.then(async () => {
    if (failed) return;
    try {
      await handle(message);
    } catch (err) {
      failed = true;
      const error = err as NodeJS.ErrnoException;
      reply({
        type: 'error',
        corrupt: err instanceof CorruptBackupError,
        message: error instanceof Error ? error.message : String(err),
        ...(error?.code ? { code: error.code } : {}),
      });
    }
  });
});
