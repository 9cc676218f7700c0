// Worker-thread entry: decodes a snapshot whose bytes the main thread posts,
// checks it as it goes, and writes it into the database file, while the main
// thread downloads and folds what comes after it. Each batch is decoded and
// written synchronously, then handed back for reuse. Two formats: a database
// image (Litestream v0.3 LZ4, zlayer zstd, or plain) and an LTX snapshot
// (Litestream v0.5), whose pages are written in place.
import { ftruncateSync, writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { createSyncDecoder } from './decoders.js';
import { CorruptBackupError } from './errors.js';
import { LtxDecoder, type LtxSummary } from './layout/ltx/decoder.js';
import { DB_HEADER_SIZE } from './sqlite/header.js';
import type { SnapshotJob, SnapshotWorkerReply, SnapshotWorkerRequest } from './snapshot-writer.js';

interface Writer {
  write(chunk: Uint8Array): void;
  end(): { bytes: number; head: Uint8Array; ltx?: LtxSummary };
}

/** Pages of an LTX snapshot go in runs of ascending page numbers (the lock page stays a hole of zeros). */
const RUN_BYTES = 1 << 20;

const job = workerData as SnapshotJob;
const port = parentPort as NonNullable<typeof parentPort>;
const reply = (message: SnapshotWorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

function writeAt(data: Uint8Array, position: number): void {
  for (let done = 0; done < data.length; ) done += writeSync(job.fd, data, done, data.length - done, position + done);
}

async function imageWriter(compression: Extract<SnapshotJob, { format: 'image' }>['compression']): Promise<Writer> {
  const decoder = await createSyncDecoder(compression, job.name);
  const head = Buffer.alloc(DB_HEADER_SIZE);
  let position = 0;
  const sink = (data: Uint8Array) => {
    if (position < DB_HEADER_SIZE) head.set(data.subarray(0, DB_HEADER_SIZE - position), position);
    writeAt(data, position);
    position += data.length;
  };
  return {
    write: (chunk) => decoder.write(chunk, sink),
    end() {
      decoder.end();
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
    if (runPages > 0) writeAt(run.subarray(0, runPages * pageSize), (runStart - 1) * pageSize);
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
    end() {
      flush();
      const summary = decoder.end();
      const bytes = summary.header.commit * summary.header.pageSize;
      // Sets the size, and leaves any page the file does not hold as zeros.
      ftruncateSync(job.fd, bytes);
      return { bytes, head, ltx: summary };
    },
  };
}

const writer = job.format === 'ltx' ? ltxWriter() : await imageWriter(job.compression);
let failed = false;

port.on('message', (message: SnapshotWorkerRequest) => {
  if (failed) return;
  try {
    if (message.type === 'data') {
      writer.write(new Uint8Array(message.buffer, 0, message.length));
      if (message.recycle) reply({ type: 'ack', buffer: message.buffer }, [message.buffer]);
      else reply({ type: 'ack' });
    } else {
      reply({ type: 'done', ...writer.end() });
    }
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
