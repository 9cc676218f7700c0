// SQLite's quick_check or integrity_check of one database file, in the
// calling thread. Synchronous: sqlite-check.ts runs it in a child process,
// except for files small enough to be checked in a few milliseconds.
import Database from 'better-sqlite3';
import type { CheckJob, CheckOutcome } from './sqlite-check.js';
import { startReadAhead, type ReadAheadReport } from './read-ahead.js';

export function runCheck(job: CheckJob): CheckOutcome {
  try {
    // A short busy timeout: a database another process is writing is in use, not broken.
    const db = new Database(job.file, { readonly: job.access === 'read-only', fileMustExist: true, timeout: 2000 });
    try {
      if (job.exclusive) {
        // A file nobody else may open: the WAL index stays in memory, no -shm is made, and nothing is written.
        db.pragma('locking_mode = EXCLUSIVE');
        db.pragma('query_only = ON');
      }
      if (job.mmapBytes !== undefined) db.pragma(`mmap_size = ${Math.trunc(job.mmapBytes)}`);
      // The first read recovers a -wal, or rolls back a hot journal (read-write only).
      const pageCount = db.pragma('page_count', { simple: true }) as number;
      if (job.maxPages !== undefined && pageCount > job.maxPages) {
        const check = job.level === 'full' ? 'integrity_check' : 'quick_check';
        return { ok: false, code: 'TOO_LARGE', message: `${pageCount} pages, more than ${check} may check within its memory bound (${job.maxPages})` };
      }
      const readAhead = job.readAheadBytes === undefined ? undefined : startReadAhead(db, job.file, pageCount, job.readAheadBytes);
      let rows: Array<Record<string, unknown>>;
      let report: ReadAheadReport | undefined;
      try {
        rows = db.pragma(job.level === 'full' ? 'integrity_check(20)' : 'quick_check(20)', { simple: false }) as Array<Record<string, unknown>>;
      } finally {
        report = readAhead?.stop();
      }
      return { ok: true, messages: rows.map((row) => String(Object.values(row)[0])), pageCount, ...(report ? { readAhead: report } : {}) };
    } finally {
      db.close();
    }
  } catch (err) {
    return { ok: false, code: String((err as { code?: unknown }).code ?? ''), message: err instanceof Error ? err.message : String(err) };
  }
}
