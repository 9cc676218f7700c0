// Asks SQLite itself whether a database in place opens and passes quick_check,
// before anything replaces it. SQLite's calls are synchronous and cannot be
// interrupted from JavaScript (a worker thread stuck in one even holds up
// process.exit), and quick_check of a large file takes long: so it runs in a
// child process, which the deadline or a signal can kill at once.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { InternalError } from '../errors.js';

export type Access = 'read-only' | 'read-write';

export type SqliteVerdict =
  | { readonly kind: 'ok'; readonly pageCount: number }
  | { readonly kind: 'failed'; readonly reason: string }
  /**
   * SQLite could not tell: another process holds a lock on it (in use, so not
   * ours to call broken), or checking it would take more memory than allowed.
   */
  | { readonly kind: 'undecided'; readonly reason: string };

const MAX_OUTPUT = 64 * 1024;
const childPath = fileURLToPath(new URL('./sqlite-judge-child.js', import.meta.url));

export function judgeWithSqlite(file: string, access: Access, signal: AbortSignal): Promise<SqliteVerdict> {
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    // No environment: nothing of ours (credentials included) needs to reach it.
    const child = spawn(process.execPath, [childPath, file, access], { stdio: ['ignore', 'pipe', 'pipe'], env: {} });
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
      reject(new InternalError(`cannot start the SQLite check of ${file}: ${err.message}`, { cause: err }));
    });
    child.once('close', (code, killedBy) => {
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) return;
      // Died without a word (out of memory, a crash inside SQLite): it could not tell, and that is not "broken".
      const detail = stderr.trim().split('\n').at(-1)?.slice(0, 300);
      resolve(
        parseOutput(stdout) ?? {
          kind: 'undecided',
          reason: `the check ended without a result (exit code ${code}, signal ${killedBy})${detail ? `: ${detail}` : ''}`,
        },
      );
    });
  });
}

function parseOutput(stdout: string): SqliteVerdict | undefined {
  let result: { ok?: unknown; messages?: unknown; pageCount?: unknown; code?: unknown; message?: unknown };
  try {
    result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as typeof result;
  } catch {
    return undefined;
  }
  if (result.ok === true && Array.isArray(result.messages) && typeof result.pageCount === 'number') {
    const messages = result.messages.map(String);
    if (messages.length === 1 && messages[0] === 'ok') return { kind: 'ok', pageCount: result.pageCount };
    return { kind: 'failed', reason: `quick_check: ${messages.slice(0, 3).join('; ')}` };
  }
  if (result.ok === false) {
    const reason = `${String(result.message)}${result.code ? ` (${String(result.code)})` : ''}`;
    return /^(SQLITE_BUSY|SQLITE_LOCKED|SQLITE_NOMEM|TOO_LARGE)/.test(String(result.code)) ? { kind: 'undecided', reason } : { kind: 'failed', reason };
  }
  return undefined;
}
