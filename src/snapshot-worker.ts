// Worker-thread entry: decodes a snapshot whose bytes the main thread posts,
// checks it as it goes, and writes it into the database file, while the main
// thread downloads and folds what comes after it. Two formats: a database
// image (Litestream v0.3 LZ4, zlayer zstd, or plain) and an LTX snapshot
// (Litestream v0.5), whose pages are written in place. Decoding is
// synchronous; the writes go to libuv's threadpool, several at a time.
import { ftruncateSync, write as writeAsync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { createSyncDecoder } from './decoders.js';
import { CorruptBackupError } from './errors.js';
import { LtxDecoder, type LtxSummary } from './layout/ltx/decoder.js';
import { DB_HEADER_SIZE } from './sqlite/header.js';
import type { SnapshotJob, SnapshotWorkerReply, SnapshotWorkerRequest } from './snapshot-writer.js';
import { writeAllSync } from './write-all.js';

interface Writer {
  write(chunk: Uint8Array): void;
  end(): Promise<{ bytes: number; head: Uint8Array; ltx?: LtxSummary }>;
}

/** Pages of an LTX snapshot go in runs of ascending page numbers (the lock page stays a hole of zeros). */
const RUN_BYTES = 1 << 20;
/** Compressed bytes decoded at a time: one piece completes at most one LZ4 block (4 MiB). */
const PIECE_BYTES = 256 << 10;
const WRITE_BUFFER_BYTES = 1 << 20;
const WRITE_BUFFERS = 6;
/** Free write buffers wanted before each piece: one LZ4 block's worth. */
const ROOM = 4;

const job = workerData as SnapshotJob;
const port = parentPort as NonNullable<typeof parentPort>;
const reply = (message: SnapshotWorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

/**
 * Positional writes on the threadpool, several in flight: filling the page
 * cache scales with threads (a 1 GiB file took 2.6-4.4 s from one thread and
 * 1.2-1.8 s from two on our build VMs), and decoding goes on meanwhile. Data
 * is copied into a few reused buffers; when none is free, it is written
 * synchronously, so memory stays fixed whatever a piece decodes to.
 */
class ParallelWrites {
  private readonly free: Buffer[] = Array.from({ length: WRITE_BUFFERS }, () => Buffer.allocUnsafe(WRITE_BUFFER_BYTES));
  private inflight = 0;
  private failure: { error: unknown } | undefined;
  private wake: (() => void) | undefined;

  write(data: Uint8Array, position: number): void {
    this.check();
    for (let at = 0; at < data.length; ) {
      const buffer = this.free.pop();
      if (!buffer) {
        writeAllSync(job.fd, data.subarray(at), position + at);
        return;
      }
      const n = Math.min(buffer.length, data.length - at);
      buffer.set(data.subarray(at, at + n));
      this.submit(buffer, 0, n, position + at);
      at += n;
    }
  }

  /** Waits until `count` buffers are free. */
  async room(count: number): Promise<void> {
    while (this.free.length < count && this.inflight > 0) await new Promise<void>((resolve) => (this.wake = resolve));
    this.check();
  }

  async drain(): Promise<void> {
    while (this.inflight > 0) await new Promise<void>((resolve) => (this.wake = resolve));
    this.check();
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

async function imageWriter(compression: Extract<SnapshotJob, { format: 'image' }>['compression']): Promise<Writer> {
  const decoder = await createSyncDecoder(compression, job.name);
  const head = Buffer.alloc(DB_HEADER_SIZE);
  let position = 0;
  const sink = (data: Uint8Array) => {
    if (position < DB_HEADER_SIZE) head.set(data.subarray(0, DB_HEADER_SIZE - position), position);
    out.write(data, position);
    position += data.length;
  };
  return {
    write: (chunk) => decoder.write(chunk, sink),
    async end() {
      decoder.end();
      await out.drain();
      return { bytes: position, head: head.subarray(0, Math.min(position, DB_HEADER_SIZE)) };
    },
  };
}

function ltxWriter(): Writer {
  const decoder = new LtxDecoder({ name: job.name });
  let head = new Uint8Array(0);
  let run = Buffer.alloc(0);
  let runStart = 0; // first page of the run
  let runPages = 0;
  let pageSize = 0;
  const flush = () => {
    if (runPages > 0) out.write(run.subarray(0, runPages * pageSize), (runStart - 1) * pageSize);
    runPages = 0;
  };
  return {
    write(chunk) {
      decoder.push(chunk);
      for (let page = decoder.read(); page; page = decoder.read()) {
        const { pgno, data } = page;
        if (pageSize === 0) {
          pageSize = data.length;
          run = Buffer.allocUnsafe(Math.max(RUN_BYTES, pageSize));
        }
        if (pgno === 1) head = data.slice(0, DB_HEADER_SIZE);
        if (runPages > 0 && (pgno !== runStart + runPages || (runPages + 1) * pageSize > run.length)) flush();
        if (runPages === 0) runStart = pgno;
        run.set(data, runPages * pageSize);
        runPages += 1;
      }
    },
    async end() {
      flush();
      const summary = decoder.end();
      await out.drain();
      const bytes = summary.header.commit * summary.header.pageSize;
      // Sets the size, and leaves any page the file does not hold as zeros.
      ftruncateSync(job.fd, bytes);
      return { bytes, head, ltx: summary };
    },
  };
}

const writer = job.format === 'ltx' ? ltxWriter() : await imageWriter(job.compression);
let failed = false;

async function handle(message: SnapshotWorkerRequest): Promise<void> {
  if (message.type === 'end') {
    reply({ type: 'done', ...(await writer.end()) });
    return;
  }
  const input = new Uint8Array(message.buffer, 0, message.length);
  for (let at = 0; at < input.length; at += PIECE_BYTES) {
    await out.room(ROOM);
    writer.write(input.subarray(at, Math.min(at + PIECE_BYTES, input.length)));
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
