// Child-process entry of sqlite-judge.ts: opens one database as an app would
// (read-only, or read-write so that SQLite rolls back a hot journal) and runs
// quick_check; prints one JSON line with the outcome.
import Database from 'better-sqlite3';

/**
 * quick_check keeps a bitmap of every page, a bit a page: 2^28 pages (1 TiB of
 * 4 KiB pages) cost 32 MiB. A larger page count, real or crafted (a sparse
 * file), is not checked rather than let it take the container's memory.
 * (SQLite's own heap limit is not enforced in better-sqlite3's build.)
 */
const MAX_CHECKED_PAGES = 2 ** 28;

const [file = '', access] = process.argv.slice(2);
let result: unknown;
try {
  // A short busy timeout: a database another process is writing is in use, not broken.
  const db = new Database(file, { readonly: access !== 'read-write', fileMustExist: true, timeout: 2000 });
  try {
    // The first read recovers a -wal, or rolls back a hot journal (read-write only).
    const pageCount = db.pragma('page_count', { simple: true }) as number;
    if (pageCount > MAX_CHECKED_PAGES) {
      result = { ok: false, code: 'TOO_LARGE', message: `${pageCount} pages, more than quick_check may check within its memory bound (${MAX_CHECKED_PAGES})` };
    } else {
      const rows = db.pragma('quick_check(20)', { simple: false }) as Array<Record<string, unknown>>;
      result = { ok: true, messages: rows.map((row) => String(Object.values(row)[0])), pageCount };
    }
  } finally {
    db.close();
  }
} catch (err) {
  result = { ok: false, code: String((err as { code?: unknown }).code ?? ''), message: err instanceof Error ? err.message : String(err) };
}
process.stdout.write(`${JSON.stringify(result)}\n`);
