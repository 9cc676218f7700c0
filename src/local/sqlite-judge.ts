// Asks SQLite itself whether a database in place opens and passes quick_check,
// before anything replaces it (in a child process: see sqlite/sqlite-check.ts).
import { runSqliteCheck } from '../sqlite/sqlite-check.js';

export type Access = 'read-only' | 'read-write';

export type SqliteVerdict =
  | { readonly kind: 'ok'; readonly pageCount: number }
  | { readonly kind: 'failed'; readonly reason: string }
  /**
   * SQLite could not tell: another process holds a lock on it (in use, so not
   * ours to call broken), checking it would take more memory than allowed, or
   * the check died (out of memory, a crash inside SQLite): not "broken" either.
   */
  | { readonly kind: 'undecided'; readonly reason: string };

/**
 * quick_check keeps a bitmap of every page, a bit a page: 2^28 pages (1 TiB of
 * 4 KiB pages) cost 32 MiB. A larger page count, real or crafted (a sparse
 * file), is not checked rather than let it take the container's memory.
 * (SQLite's own heap limit is not enforced in better-sqlite3's build.)
 */
const MAX_CHECKED_PAGES = 2 ** 28;

export async function judgeWithSqlite(file: string, access: Access, signal: AbortSignal): Promise<SqliteVerdict> {
  const outcome = await runSqliteCheck({ file, access, level: 'quick', maxPages: MAX_CHECKED_PAGES }, signal);
  if (outcome.ok) {
    const { messages, pageCount } = outcome;
    if (messages.length === 1 && messages[0] === 'ok') return { kind: 'ok', pageCount };
    return { kind: 'failed', reason: `quick_check: ${messages.slice(0, 3).join('; ')}` };
  }
  const reason = `${outcome.message}${outcome.code && outcome.code !== 'DIED' ? ` (${outcome.code})` : ''}`;
  return /^(SQLITE_BUSY|SQLITE_LOCKED|SQLITE_NOMEM|TOO_LARGE|DIED)/.test(outcome.code) ? { kind: 'undecided', reason } : { kind: 'failed', reason };
}
