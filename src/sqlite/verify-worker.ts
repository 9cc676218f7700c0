// Worker-thread entry: runs the SQLite check named in workerData and posts the result.
import { parentPort, workerData } from 'node:worker_threads';
import { runSqliteCheck } from './sqlite-check.js';

const { file, level } = workerData as { file: string; level: 'quick' | 'full' };
try {
  parentPort?.postMessage({ ok: true, result: runSqliteCheck(file, level) });
} catch (err) {
  parentPort?.postMessage({ ok: false, message: err instanceof Error ? err.message : String(err) });
}
