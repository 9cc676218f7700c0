// Worker-thread entry: decodes a snapshot whose bytes the main thread posts,
// through the layout's snapshot source (a module named in the job), and
// writes it into the database file (snapshot-file.ts), while the main thread
// downloads and folds what comes after it.
import { parentPort, workerData } from 'node:worker_threads';
import { CorruptBackupError } from '../errors.js';
import { release } from '../codec/release.js';
import { SnapshotFile } from './snapshot-file.js';
import type { SnapshotJob, SnapshotWorkerReply, SnapshotWorkerRequest } from './snapshot-writer.js';

const job = workerData as SnapshotJob;
const port = parentPort as NonNullable<typeof parentPort>;
const reply = (message: SnapshotWorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
const file = await SnapshotFile.open(job.source, job.fd, job.name, job.progress);
let failed = false;

async function handle(message: SnapshotWorkerRequest): Promise<void> {
  if (message.type === 'end') {
    reply({ type: 'done', ...(await file.finish()) });
    return;
  }
  const data = new Uint8Array(message.buffer, 0, message.length);
  // Once fed, the source holds no reference to the input: a batch goes back to be refilled at once.
  await file.feed(data);
  if (message.recycle) reply({ type: 'ack', buffer: message.buffer }, [message.buffer]);
  else {
    // A downloaded part, which nothing else uses: freed now, not left to a major collection.
    release(data);
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
