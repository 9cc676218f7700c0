// Child-process entry of sqlite-judge.ts: opens one database as an app would
// (read-only, or read-write so that SQLite rolls back a hot journal) and runs
// quick_check; prints one JSON line with the outcome.
import Database from 'better-sqlite3';

const [file = '', access] = process.argv.slice(2);
let result: unknown;
try {
  // A short busy timeout: a database another process is writing is in use, not broken.
  const db = new Database(file, { readonly: access !== 'read-write', fileMustExist: true, timeout: 2000 });
  try {
    const rows = db.pragma('quick_check(20)', { simple: false }) as Array<Record<string, unknown>>;
    result = {
      ok: true,
      messages: rows.map((row) => String(Object.values(row)[0])),
      pageCount: db.pragma('page_count', { simple: true }) as number,
    };
  } finally {
    db.close();
  }
} catch (err) {
  result = { ok: false, code: String((err as { code?: unknown }).code ?? ''), message: err instanceof Error ? err.message : String(err) };
}
process.stdout.write(`${JSON.stringify(result)}\n`);
