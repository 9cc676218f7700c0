// The marker file: a JSON record of what the last successful run did, for the
// app, for humans and for monitoring. Its place is reserved before anything is
// published (a temporary file beside it, and the checks a rename over it
// needs), so a marker path that cannot be written fails the run with the
// target untouched, instead of after the new database is in place, where
// every rerun would skip and fail again.
import { constants, type Stats } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import { LocalIoError, toLocalIoError } from '../errors.js';
import { TOOL } from '../version.js';
import { trackTemp } from './exit-cleanup.js';
import { fsyncDirectory } from './publish.js';
import { tempPathFor } from './temp-files.js';

export type Outcome = 'restored' | 'skipped' | 'first-boot';

/** Bumped when a field changes meaning or goes away; new fields may appear within a version. */
export const MARKER_SCHEMA_VERSION = 1;

/** Where a restored database came from: the restored marker's own fields, carried by later skipped runs. */
export interface Provenance {
  readonly replica: string;
  readonly source?: Readonly<Record<string, unknown>>;
  /** A point-in-time restore: the target asked for and what was reached. */
  readonly target?: Readonly<Record<string, string | number>>;
  /** When the restored state was written to the replica (layout.ts planWrittenAt). */
  readonly backupTime?: string;
  readonly bytes?: { readonly downloaded: number; readonly database: number };
  /** SHA-256 of the database as it was published (the app changes it afterwards). */
  readonly sha256?: string;
  /** The verification it passed before it was published. */
  readonly verify?: Config['verify'];
}

export interface Marker extends Provenance {
  readonly schemaVersion: typeof MARKER_SCHEMA_VERSION;
  readonly outcome: Outcome;
  readonly database: string;
  /** skipped: what this run checked of the database in place (existing-database.ts). */
  readonly checks?: readonly string[];
  /** skipped: the restore that put the database in place, from the marker it left, when known. */
  readonly restoredBy?: Provenance & { readonly time: string; readonly tool?: typeof TOOL };
  readonly durationsMs: Readonly<Record<string, number>>;
  readonly warnings?: readonly string[];
  readonly tool: typeof TOOL;
  readonly time: string;
}

export interface MarkerSlot {
  /** Writes the marker (temp file, fsync, rename, fsync directory). */
  write(marker: Omit<Marker, 'tool' | 'time' | 'schemaVersion'>): Promise<Marker>;
  /** Removes the reserved temporary file if the marker was not written. */
  discard(): Promise<void>;
}

/** The parts of fs.Stats a rename depends on. */
export type FileFacts = Pick<Stats, 'dev' | 'uid' | 'mode' | 'isDirectory'>;

/**
 * Why a file at `file` (stats) in `dir` (dirStats) could not be replaced by a
 * rename from inside `dir` by a process of `uid`; undefined when it can.
 */
export function replaceProblem(stats: FileFacts, dirStats: FileFacts, uid: number | undefined): string | undefined {
  if (stats.isDirectory()) return 'is a directory';
  if (stats.dev !== dirStats.dev) return 'is a mount point (a file mounted there cannot be replaced)';
  const sticky = (dirStats.mode & 0o1000) !== 0; // S_ISVTX
  if (sticky && uid !== undefined && uid !== 0 && stats.uid !== uid && dirStats.uid !== uid) {
    return `belongs to uid ${stats.uid} in a sticky directory, so this process (uid ${uid}) cannot replace it`;
  }
  return undefined;
}

export async function reserveMarker(markerPath: string): Promise<MarkerSlot> {
  await checkReplaceable(markerPath);
  const temp = tempPathFor(markerPath);
  const untrack = trackTemp(temp);
  let handle: FileHandle;
  try {
    // Kept open until written: the name is never opened again, so nothing planted there is written through.
    handle = await fs.open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  } catch (err) {
    untrack();
    throw toLocalIoError(err, `SQLITE_RESTORE_MARKER_PATH: creating a file beside ${markerPath}`);
  }
  let settled = false;
  return {
    async write(marker) {
      const full: Marker = { schemaVersion: MARKER_SCHEMA_VERSION, ...marker, tool: TOOL, time: new Date().toISOString() };
      settled = true;
      try {
        try {
          await handle.writeFile(`${JSON.stringify(full, null, 2)}\n`);
          await handle.sync();
        } finally {
          await handle.close();
        }
        await fs.rename(temp, markerPath);
        untrack();
        await fsyncDirectory(path.dirname(markerPath));
      } catch (err) {
        await fs.rm(temp, { force: true }).catch(() => undefined);
        untrack();
        throw toLocalIoError(err, `writing the marker ${markerPath}`);
      }
      return full;
    },
    async discard() {
      if (settled) return;
      settled = true;
      await handle.close().catch(() => undefined);
      await fs.rm(temp, { force: true }).catch(() => undefined);
      untrack();
    },
  };
}

async function checkReplaceable(markerPath: string): Promise<void> {
  let stats: Stats;
  let dirStats: Stats;
  try {
    stats = await fs.lstat(markerPath);
    dirStats = await fs.stat(path.dirname(markerPath));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw toLocalIoError(err, `SQLITE_RESTORE_MARKER_PATH: inspecting ${markerPath}`);
  }
  const problem = replaceProblem(stats, dirStats, process.getuid?.());
  if (problem) throw new LocalIoError(`SQLITE_RESTORE_MARKER_PATH ${markerPath} ${problem}; the marker cannot be written there`);
  if (!stats.isFile()) return;
  // An immutable or append-only file (chattr +i / +a) refuses both a write and a
  // rename over it, even to root; a read-only mount refuses both too. Nothing
  // is written here: the file is opened without truncation and closed.
  try {
    const handle = await fs.open(markerPath, constants.O_WRONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    await handle.close();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPERM' || code === 'EROFS') {
      throw toLocalIoError(err, `SQLITE_RESTORE_MARKER_PATH ${markerPath} cannot be replaced`);
    }
    // EACCES and the like are about writing into the file, which a rename does not need.
  }
}

/** A marker is a small JSON document: anything larger at its path is not one of ours. */
const MAX_MARKER_BYTES = 64 * 1024;

/**
 * The restore that put `database` in place, from the marker a previous run
 * left at `markerPath` (a restored one, or a skipped one that carried it);
 * undefined when there is none or it cannot be trusted to be ours.
 */
export async function previousProvenance(markerPath: string, database: string): Promise<Marker['restoredBy']> {
  let text: string;
  try {
    const handle = await fs.open(markerPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const stats = await handle.stat();
      if (!stats.isFile() || stats.size > MAX_MARKER_BYTES) return undefined;
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(doc) || doc.database !== database) return undefined;
  if (doc.outcome === 'skipped') return isRecord(doc.restoredBy) && typeof doc.restoredBy.time === 'string' ? (doc.restoredBy as unknown as Marker['restoredBy']) : undefined;
  if (doc.outcome !== 'restored' || typeof doc.time !== 'string' || typeof doc.replica !== 'string') return undefined;
  const picked: Record<string, unknown> = { time: doc.time, replica: doc.replica };
  for (const key of ['source', 'target', 'backupTime', 'bytes', 'sha256', 'verify', 'tool'] as const) if (doc[key] !== undefined) picked[key] = doc[key];
  return picked as unknown as Marker['restoredBy'];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
