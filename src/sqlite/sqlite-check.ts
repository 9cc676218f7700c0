// SQLite's own consistency check on a finished file. Synchronous (better-sqlite3),
// so it runs in a worker thread: the main thread stays free to hash the file
// and to react to SIGTERM while a large database is checked.
import Database from 'better-sqlite3';

export interface SqliteCheckResult {
  /** "ok" alone when the database is sound; otherwise SQLite's first problems. */
  readonly messages: string[];
  readonly pageCount: number;
}

export function runSqliteCheck(file: string, level: 'quick' | 'full'): SqliteCheckResult {
  const db = new Database(file, { fileMustExist: true });
  try {
    // Exclusive locking keeps the WAL index in memory: no -shm file is created.
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('query_only = ON');
    const rows = db.pragma(level === 'full' ? 'integrity_check(20)' : 'quick_check(20)', { simple: false }) as Array<
      Record<string, string>
    >;
    return {
      messages: rows.map((row) => String(Object.values(row)[0])),
      pageCount: db.pragma('page_count', { simple: true }) as number,
    };
  } finally {
    db.close();
  }
}
