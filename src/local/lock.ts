// One restore per database path at a time. Two runs on one path would remove
// each other's temporary files as "leftovers" and race to publish.
//
// The lock is a POSIX advisory lock, the kind SQLite itself uses, taken through
// better-sqlite3 (Node has no flock): a write transaction (BEGIN IMMEDIATE,
// busy timeout 0, so it never blocks the main thread) on an empty lock file
// beside the database, `.<db name>.restore-lock`. The kernel drops it when the
// holder dies, SIGKILL included. A run that finds it taken polls until its
// deadline, naming the holder from a small holder file the holder writes.
//
// The holder removes the lock file (and the holder file) while still holding
// the lock, so a finished restore leaves nothing behind; a waiter that gets
// the lock on a file that was meanwhile unlinked notices (its inode is no longer
// the one at the path) and tries again on the new one.
import { constants } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { LocalIoError, TemporaryError, toLocalIoError } from '../errors.js';
import type { Logger } from '../log.js';
import { describeKind } from './directories.js';
import { trackTemp } from './exit-cleanup.js';
import { currentHolder, describeHolder, readHolder, writeHolder } from './lock-holder.js';
import { tempPathFor } from './temp-files.js';

export interface LockPaths {
  readonly lock: string;
  readonly holder: string;
}

export function lockPaths(dbPath: string): LockPaths {
  const lock = path.join(path.dirname(dbPath), `.${path.basename(dbPath)}.restore-lock`);
  return { lock, holder: `${lock}.holder` };
}

/**
 * Waiting ends this long before the overall timeout, so that the give-up error
 * naming the holder, not the bare timeout, is what the run reports.
 */
const DEADLINE_MARGIN_MS = 500;
const POLL_MS = 200;

/**
 * The end of the wait on performance.now()'s clock, which starts with the
 * process: earlier than the CLI's own timer, which starts once the
 * configuration is read.
 */
export function lockDeadline(timeoutSeconds: number): number {
  return timeoutSeconds * 1000 - DEADLINE_MARGIN_MS;
}

export interface LockOptions {
  readonly log: Logger;
  readonly signal: AbortSignal;
  /** performance.now() value after which a run still waiting gives up (exit 75). */
  readonly deadline: number;
  /** Permission bits of a lock file this run creates. */
  readonly mode: number;
}

export interface RestoreLock {
  readonly path: string;
  release(): Promise<void>;
}

interface FileId {
  readonly dev: number;
  readonly ino: number;
}

type Attempt = { readonly db: Database.Database } | 'busy' | 'gone';

export async function acquireRestoreLock(dbPath: string, options: LockOptions): Promise<RestoreLock> {
  const { log, signal } = options;
  const paths = lockPaths(dbPath);
  const started = performance.now();
  let waitingFor: string | undefined;
  for (let gone = 0; ; ) {
    signal.throwIfAborted();
    const id = await openLockFile(paths.lock, options.mode);
    if (id === 'read-only') {
      // Nobody can write there, so no other run can publish or leave files: a
      // valid database in place can still be kept, anything else fails on its first write.
      log.warn({ event: 'lock-skipped', lock: paths.lock }, 'the directory of the database is on a read-only file system; no restore lock is needed');
      return { path: paths.lock, release: async () => undefined };
    }
    const attempt = tryLock(paths.lock);
    if (attempt !== 'busy') {
      if (attempt !== 'gone') {
        if (await stillAt(paths.lock, id)) {
          if (waitingFor !== undefined) {
            log.info({ event: 'lock-acquired', lock: paths.lock, waitedMs: Math.round(performance.now() - started) }, 'the other restore ended; continuing');
          }
          return holdLock(paths, id, attempt.db, log, dbPath);
        }
        closeLock(attempt.db);
      }
      // Released and removed between our open and our lock: try the new one at once.
      if (++gone > 100) throw new LocalIoError(`cannot take the restore lock ${paths.lock}: it keeps disappearing`);
      continue;
    }
    const holder = describeHolder(await readHolder(paths.holder));
    const remaining = options.deadline - performance.now();
    if (remaining <= 0) {
      throw new TemporaryError(
        `another restore of ${dbPath} is running (${holder}, lock ${paths.lock}); gave up waiting for it after ${Math.round((performance.now() - started) / 1000)} s (SQLITE_RESTORE_TIMEOUT_SECONDS)`,
      );
    }
    if (holder !== waitingFor) {
      log.warn(
        { event: 'lock-wait', lock: paths.lock, holder, waitSeconds: Math.floor(remaining / 1000) },
        `another restore of ${dbPath} is running (${holder}); waiting for it to finish`,
      );
      waitingFor = holder;
    }
    try {
      await sleep(Math.min(POLL_MS, remaining), undefined, { signal });
    } catch (err) {
      throw signal.aborted ? signal.reason : err;
    }
  }
}

/**
 * Creates the lock file or opens the one there, and checks it is one: a plain
 * empty file (this tool never writes into it). A link planted at its name is
 * refused, not followed. The handle is closed again before SQLite opens the file:
 * closing any descriptor of a file drops the process's POSIX locks on it.
 */
async function openLockFile(file: string, mode: number): Promise<FileId | 'read-only'> {
  const flags = constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  let handle: FileHandle;
  let created = false;
  try {
    try {
      handle = await fs.open(file, flags | constants.O_CREAT | constants.O_EXCL, mode);
      created = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      handle = await fs.open(file, flags);
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EROFS') return 'read-only';
    if (code === 'ELOOP') throw new LocalIoError(`the restore lock ${file} is a symbolic link; remove it`, { cause: err });
    if (code === 'EISDIR') throw new LocalIoError(`the restore lock ${file} is a directory; remove it`, { cause: err });
    throw toLocalIoError(err, `opening the restore lock ${file}`);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new LocalIoError(`the restore lock ${file} is ${describeKind(stats)}; remove it`);
    if (stats.size !== 0) throw new LocalIoError(`${file} is not empty, so it is not a restore lock of this tool; remove it`);
    if (created) await handle.chmod(mode);
    return { dev: stats.dev, ino: stats.ino };
  } finally {
    await handle.close();
  }
}

function tryLock(file: string): Attempt {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { fileMustExist: true, timeout: 0 });
    // No -journal file: the transaction never writes, and must leave nothing behind.
    db.pragma('journal_mode = MEMORY');
    db.exec('BEGIN IMMEDIATE');
    return { db };
  } catch (err) {
    db?.close();
    const code = (err as { code?: unknown }).code;
    if (code === 'SQLITE_BUSY') return 'busy';
    if (code === 'SQLITE_CANTOPEN') return 'gone';
    throw new LocalIoError(`cannot take the restore lock ${file}: ${(err as Error).message}`, { cause: err });
  }
}

async function stillAt(file: string, id: FileId): Promise<boolean> {
  const stats = await fs.lstat(file).catch(() => undefined);
  return stats !== undefined && stats.dev === id.dev && stats.ino === id.ino;
}

function closeLock(db: Database.Database): void {
  try {
    if (db.inTransaction) db.exec('ROLLBACK');
  } finally {
    db.close();
  }
}

async function holdLock(paths: LockPaths, id: FileId, db: Database.Database, log: Logger, dbPath: string): Promise<RestoreLock> {
  // A forced exit removes both while the lock is still held (the process is alive).
  const untrackLock = trackTemp(paths.lock);
  const untrackHolder = trackTemp(paths.holder);
  try {
    await writeHolder(paths.holder, tempPathFor(dbPath, 'holder-'), currentHolder());
  } catch (err) {
    log.warn({ event: 'lock-holder', file: paths.holder, err: (err as Error).message }, 'could not record this run as the lock holder; a waiting run will not be able to name it');
  }
  let released = false;
  return {
    path: paths.lock,
    async release() {
      if (released) return;
      released = true;
      // Both names go while the lock is still held: removed after, they could be another run's.
      await fs.rm(paths.holder, { force: true }).catch(() => undefined);
      if (await stillAt(paths.lock, id)) await fs.rm(paths.lock, { force: true }).catch(() => undefined);
      untrackHolder();
      untrackLock();
      closeLock(db);
    },
  };
}
