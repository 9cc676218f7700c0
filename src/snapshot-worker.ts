// Worker-thread entry: decompresses a snapshot whose bytes the main thread
// posts, checks it as it goes, and writes it into the database file. The main
// thread meanwhile downloads and folds the WAL segments. Each batch is
// decoded and written synchronously, then handed back for reuse.
import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { createSyncDecoder } from './decoders.js';
import { CorruptBackupError } from './errors.js';
import type { Compression } from './layout/layout.js';
import { DB_HEADER_SIZE } from './sqlite/header.js';
import type { SnapshotWorkerReply, SnapshotWorkerRequest } from './snapshot-writer.js';

const { fd, compression, name } = workerData as { fd: number; compression: Compression; name: string };
const port = parentPort as NonNullable<typeof parentPort>;
const reply = (message: SnapshotWorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

const decoder = await createSyncDecoder(compression, name);
const head = Buffer.alloc(DB_HEADER_SIZE);
let position = 0;
let failed = false;

function write(data: Uint8Array): void {
  if (position < DB_HEADER_SIZE) head.set(data.subarray(0, DB_HEADER_SIZE - position), position);
  for (let done = 0; done < data.length; ) done += writeSync(fd, data, done, data.length - done, position + done);
  position += data.length;
}

port.on('message', (message: SnapshotWorkerRequest) => {
  if (failed) return;
  try {
    if (message.type === 'data') {
      decoder.write(new Uint8Array(message.buffer, 0, message.length), write);
      reply({ type: 'ack', buffer: message.buffer }, [message.buffer]);
    } else {
      decoder.end();
      reply({ type: 'done', bytes: position, head: head.subarray(0, Math.min(position, DB_HEADER_SIZE)) });
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
