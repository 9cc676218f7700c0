// SQLite's own consistency check of a database file. SQLite's calls are
// synchronous and cannot be interrupted from JavaScript (a worker thread stuck
// in one even holds up process.exit), and checking a large file takes long:
// so it runs in a child process, which the deadline or a signal kills at once
// (a small file is checked in this thread: see INLINE_CHECK_BYTES).
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { InternalError } from '../errors.js';
import { pageCacheRoom } from '../local/page-cache-room.js';
import { parseReadAheadReport, type ReadAheadReport } from './read-ahead.js';

export interface CheckJob {
  readonly file: string;
  /** read-write lets SQLite roll back a hot journal, as an app's first open would. */
  readonly access: 'read-only' | 'read-write';
  readonly level: 'quick' | 'full';
  /** Exclusive locking and query_only: for a private file (our own temporary file). */
  readonly exclusive?: boolean;
  /** Refuse (code TOO_LARGE) rather than check more pages than this. */
  readonly maxPages?: number;
  /** Let SQLite map this many bytes of the file (PRAGMA mmap_size) rather than read it a page at a time. */
  readonly mmapBytes?: number;
  /** Read the check's pages this far ahead of it (read-ahead.ts). */
  readonly readAheadBytes?: number;
}

export type CheckOutcome =
  /** "ok" alone when the database is sound; otherwise SQLite's first problems; readAhead: what the read-ahead did, if it ran. */
  | { readonly ok: true; readonly messages: readonly string[]; readonly pageCount: number; readonly readAhead?: ReadAheadReport }
  /** SQLite could not open or read it (code: SQLITE_*, TOO_LARGE), or the check died (code: DIED). */
  | { readonly ok: false; readonly code: string; readonly message: string };

const MAX_OUTPUT = 64 * 1024;
const childPath = fileURLToPath(new URL('./check-child.js', import.meta.url));

/**
 * A file this small is checked in this thread: quick_check or integrity_check
 * of 11 MiB took 15-45 ms here, starting the child process (node and SQLite)
 * 100-250 ms on a busy node; a signal waits for the check, well within the
 * second SIGTERM is given.
 */
export const INLINE_CHECK_BYTES = 32 << 20;

export async function runSqliteCheck(job: CheckJob, signal: AbortSignal): Promise<CheckOutcome> {
  signal.throwIfAborted();
  const size = await stat(job.file).then((s) => s.size, () => Infinity);
  if (size <= INLINE_CHECK_BYTES && (await hasNoSideFiles(job.file))) {
    const { runCheck } = await import('./check-run.js');
    return runCheck(job);
  }
  return inChildProcess(howToRead(job, size), signal);
}

/** How far ahead of the check read-ahead reads: 16 and 32 MiB measured the same. */
export const READ_AHEAD_BYTES = 16 << 20;

/**
 * A private file (nobody else may truncate it under the mapping) that fits in
 * the page cache is mapped: quick_check of 1 GiB took 0.26 s mapped against
 * 0.6 s read a page at a time. Mapped, a file that does not fit thrashes
 * (22 s against 16 s under a 384 MiB limit). Every other check is read, with
 * read-ahead in the check's order when there is room for its window: 5 s for
 * that file; and 1.8-2.3 s against 20 s for a database in place that fits but
 * is not in the page cache yet (a pod on a new node). On a cached file the
 * read-ahead seldom finds SQLite in a read, and so reads little.
 * Only in the child process, which a SIGBUS would end, not the restore.
 */
export function howToRead(job: CheckJob, size: number, room = pageCacheRoom()): CheckJob {
  if (size <= room && job.exclusive) return { ...job, mmapBytes: size };
  const window = Math.min(READ_AHEAD_BYTES, Math.floor(room / 2));
  return window >= 1 << 20 ? { ...job, readAheadBytes: window } : job;
}

/** A -wal or hot -journal beside the file may be large: its recovery is left to the child process. */
async function hasNoSideFiles(file: string): Promise<boolean> {
  for (const suffix of ['-wal', '-journal']) {
    if (await stat(`${file}${suffix}`).then((s) => s.size > 0, () => false)) return false;
  }
  return true;
}

function inChildProcess(job: CheckJob, signal: AbortSignal): Promise<CheckOutcome> {
  return new Promise((resolve, reject) => {
    // No environment: nothing of ours (credentials included) needs to reach it.
    const child = spawn(process.execPath, [childPath, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe'], env: {} });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += chunk;
    });
    const onAbort = () => {
      child.kill('SIGKILL');
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(new InternalError(`cannot start the SQLite check of ${job.file}: ${err.message}`, { cause: err }));
    });
    child.once('close', (code, killedBy) => {
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) return;
      const detail = stderr.trim().split('\n').at(-1)?.slice(0, 300);
      resolve(
        parseOutcome(stdout) ?? {
          ok: false,
          code: 'DIED',
          message: `the check ended without a result (exit code ${code}, signal ${killedBy})${detail ? `: ${detail}` : ''}`,
        },
      );
    });
  });
}

function parseOutcome(stdout: string): CheckOutcome | undefined {
  let result: { ok?: unknown; messages?: unknown; pageCount?: unknown; code?: unknown; message?: unknown; readAhead?: unknown };
  try {
    result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as typeof result;
  } catch {
    return undefined;
  }
  if (result.ok === true && Array.isArray(result.messages) && typeof result.pageCount === 'number') {
    const readAhead = parseReadAheadReport(result.readAhead);
    return { ok: true, messages: result.messages.map(String), pageCount: result.pageCount, ...(readAhead ? { readAhead } : {}) };
  }
  if (result.ok === false) return { ok: false, code: String(result.code ?? ''), message: String(result.message) };
  return undefined;
}

