// Worker-thread entry: decodes a snapshot whose bytes the main thread posts,
// through the layout's snapshot source (a module named in the job), and
// writes it into the database file (snapshot-file.ts), while the main thread
// downloads and folds what comes after it.
import { parentPort, workerData } from 'node:worker_threads';
import { CorruptBackupError } from '../errors.js';
import { release } from './release.js';
import { SnapshotFile } from './snapshot-file.js';
import type { SnapshotJob, SnapshotWorkerReply, SnapshotWorkerRequest } from './snapshot-writer.js';

const job = workerData as SnapshotJob;
const port = parentPort as NonNullable<typeof parentPort>;
const reply = (message: SnapshotWorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
const file = await SnapshotFile.open(job.source, job.fd, job.name);
let failed = false;
/** The last part moved here, freed once the source has been pushed the next input (it may hold a view until then). */
let previous: Uint8Array | undefined;

async function handle(message: SnapshotWorkerRequest): Promise<void> {
  if (message.type === 'end') {
    reply({ type: 'done', ...(await file.finish()) });
    release(previous);
    return;
  }
  const data = new Uint8Array(message.buffer, 0, message.length);
  await file.feed(data);
  release(previous);
  previous = undefined;
  if (message.recycle) reply({ type: 'ack', buffer: message.buffer }, [message.buffer]);
  else {
    // A downloaded part, which nothing else uses: freed here, not left to a major collection.
    previous = data;
    reply({ type: 'ack' });
  }
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
