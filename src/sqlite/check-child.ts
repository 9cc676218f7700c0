// Child-process entry of sqlite-check.ts: opens one database and runs
// quick_check or integrity_check; prints one JSON line with the outcome.
import Database from 'better-sqlite3';
import type { CheckJob } from './sqlite-check.js';

const job = JSON.parse(process.argv[2] ?? '{}') as CheckJob;
let result: unknown;
try {
  // A short busy timeout: a database another process is writing is in use, not broken.
  const db = new Database(job.file, { readonly: job.access === 'read-only', fileMustExist: true, timeout: 2000 });
  try {
    if (job.exclusive) {
      // A file nobody else may open: the WAL index stays in memory, no -shm is made, and nothing is written.
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('query_only = ON');
    }
    // The first read recovers a -wal, or rolls back a hot journal (read-write only).
    const pageCount = db.pragma('page_count', { simple: true }) as number;
    if (job.maxPages !== undefined && pageCount > job.maxPages) {
      result = { ok: false, code: 'TOO_LARGE', message: `${pageCount} pages, more than ${job.level === 'full' ? 'integrity_check' : 'quick_check'} may check within its memory bound (${job.maxPages})` };
    } else {
      const rows = db.pragma(job.level === 'full' ? 'integrity_check(20)' : 'quick_check(20)', { simple: false }) as Array<Record<string, unknown>>;
      result = { ok: true, messages: rows.map((row) => String(Object.values(row)[0])), pageCount };
    }
  } finally {
    db.close();
  }
} catch (err) {
  result = { ok: false, code: String((err as { code?: unknown }).code ?? ''), message: err instanceof Error ? err.message : String(err) };
}
process.stdout.write(`${JSON.stringify(result)}\n`);
