// What is already at the database path, judged the way SQLite would open it:
// together with its -wal (a database whose newest commits live only there is
// valid, even caught mid-checkpoint) and its -journal (a hot one is rolled
// back by SQLite on open). A cheap check decides most cases; whatever it
// doubts is put to SQLite itself before anything is replaced, and only a
// database SQLite cannot open, or that fails quick_check, is "invalid".
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import { LocalIoError, toLocalIoError } from '../errors.js';
import { DB_HEADER_SIZE } from '../sqlite/header.js';
import { describeKind } from './directories.js';
import { judgeEffective } from './effective-database.js';
import { judgeWithSqlite, type Access } from './sqlite-judge.js';
import { scanWal } from './wal-scan.js';

export type Presence = { readonly state: 'absent' } | { readonly state: 'present'; readonly bytes: number };

export type Judgement =
  | {
      readonly valid: true;
      readonly bytes: number;
      /** What was checked, for the marker: 'header' (page 1 and the size, with the -wal's newest commit), 'wal' (its frames' checksums), 'sqlite-open', 'quick_check'. */
      readonly checks: readonly string[];
      readonly warning?: string;
    }
  | { readonly valid: false; readonly reason: string };

const SIDE_SUFFIXES = ['-wal', '-shm', '-journal'] as const;
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * Whether a database is in place. The database and SQLite's side files beside
 * it must be regular files (or absent): the restore replaces and removes
 * these names, and never follows a link to another file.
 */
export async function inspectTarget(dbPath: string): Promise<Presence> {
  for (const suffix of SIDE_SUFFIXES) {
    const side = `${dbPath}${suffix}`;
    const stats = await lstatOrMissing(side);
    if (stats && !stats.isFile()) {
      throw new LocalIoError(`${side} is ${describeKind(stats)}, where SQLite keeps a regular file; remove it`);
    }
  }
  const stats = await lstatOrMissing(dbPath);
  if (!stats) return { state: 'absent' };
  if (stats.isSymbolicLink()) {
    throw new LocalIoError(
      `SQLITE_RESTORE_DB_PATH ${dbPath} is a symbolic link: the restore would replace the link, not the file it points to; set SQLITE_RESTORE_DB_PATH to the real file`,
    );
  }
  if (!stats.isFile()) throw new LocalIoError(`${dbPath} exists but is ${describeKind(stats)}, not a regular file`);
  return { state: 'present', bytes: stats.size };
}

/** Judges a database known to be present (inspectTarget) as SQLite would open it. */
export async function judgeExisting(dbPath: string, signal: AbortSignal): Promise<Judgement> {
  try {
    const { header, size } = await readMainHeader(dbPath);
    // SQLite treats a 0-byte file as an empty database and discards its -wal and -journal.
    if (size === 0) return { valid: false, reason: 'empty file' };
    if (await hasHotJournal(dbPath)) {
      // Opening it read-write, as the app's first open would, rolls the journal back.
      return await askSqlite(dbPath, size, 'read-write', 'it has a hot -journal (an interrupted transaction)', signal);
    }
    const wal = await scanWal(`${dbPath}-wal`, signal);
    const cheap = judgeEffective(header, size, wal);
    if (cheap.kind === 'valid') return { valid: true, bytes: size, checks: wal.kind === 'none' ? ['header'] : ['header', 'wal'] };
    if (cheap.kind === 'not-a-database') return { valid: false, reason: cheap.reason };
    return await askSqlite(dbPath, size, 'read-only', cheap.reason, signal);
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    throw toLocalIoError(err, `inspecting the database in place, ${dbPath}`);
  }
}

async function askSqlite(dbPath: string, size: number, access: Access, why: string, signal: AbortSignal): Promise<Judgement> {
  const existedBefore = await presentSideFiles(dbPath);
  let verdict;
  try {
    verdict = await judgeWithSqlite(dbPath, access, signal);
  } finally {
    await removeNewSideFiles(dbPath, existedBefore);
  }
  switch (verdict.kind) {
    case 'ok': {
      const opened = access === 'read-write' ? 'SQLite rolls it back on open, as the app would,' : 'SQLite opens it';
      return { valid: true, bytes: size, checks: ['header', 'sqlite-open', 'quick_check'], warning: `${why}, but ${opened} and quick_check passes: kept` };
    }
    case 'undecided':
      return { valid: true, bytes: size, checks: ['header', 'sqlite-open'], warning: `${why}, and SQLite cannot tell (${verdict.reason}): kept` };
    case 'failed':
      return { valid: false, reason: `${why}, and SQLite rejects it: ${verdict.reason}` };
  }
}

async function readMainHeader(dbPath: string): Promise<{ header: Uint8Array; size: number }> {
  const handle = await fs.open(dbPath, READ_FLAGS);
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new LocalIoError(`${dbPath} is ${describeKind(stats)}, not a regular file`);
    const header = Buffer.alloc(DB_HEADER_SIZE);
    const { bytesRead } = await handle.read(header, 0, DB_HEADER_SIZE, 0);
    return { header: header.subarray(0, bytesRead), size: stats.size };
  } finally {
    await handle.close();
  }
}

/** As SQLite's hasHotJournal() sees it from outside: a non-empty -journal not starting with a zero byte. */
async function hasHotJournal(dbPath: string): Promise<boolean> {
  let handle;
  try {
    handle = await fs.open(`${dbPath}-journal`, READ_FLAGS);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  try {
    if (!(await handle.stat()).isFile()) return false;
    const first = Buffer.alloc(1);
    const { bytesRead } = await handle.read(first, 0, 1, 0);
    return bytesRead === 1 && first[0] !== 0;
  } finally {
    await handle.close();
  }
}

async function presentSideFiles(dbPath: string): Promise<Set<string>> {
  const present = new Set<string>();
  for (const suffix of SIDE_SUFFIXES) if (await lstatOrMissing(`${dbPath}${suffix}`)) present.add(suffix);
  return present;
}

/**
 * SQLite's open leaves a -shm (and an empty -wal for a WAL-mode database) that
 * were not there: caches it rebuilds, removed so that the directory holds what
 * it held (and nothing owned by this container's uid).
 */
async function removeNewSideFiles(dbPath: string, existedBefore: Set<string>): Promise<void> {
  for (const suffix of ['-shm', '-wal'] as const) {
    if (existedBefore.has(suffix)) continue;
    const file = `${dbPath}${suffix}`;
    const stats = await lstatOrMissing(file).catch(() => undefined);
    if (stats?.isFile() && (suffix === '-shm' || stats.size === 0)) await fs.rm(file, { force: true }).catch(() => undefined);
  }
}

async function lstatOrMissing(file: string) {
  try {
    return await fs.lstat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw toLocalIoError(err, `inspecting ${file}`);
  }
}
