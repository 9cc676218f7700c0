// mkdir -p for the database's and the marker's directories, with two things
// the plain one lacks: a path component that is a file (or a dangling link) is
// named in a local I/O error instead of surfacing as EEXIST, and every
// directory this run creates (only those) gets the configured mode and owner,
// so an app running under that uid can create its -wal there.
import { constants, type Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FileOwnership } from '../config.js';
import { LocalIoError, toLocalIoError } from '../errors.js';
import { applyOwnership, directoryMode } from './ownership.js';

export interface EnsureDirectoryOptions {
  /** The setting the directory comes from, for messages (e.g. SQLITE_RESTORE_DB_PATH). */
  readonly setting: string;
  /** Mode and owner for directories created here; without it they keep mkdir's defaults. */
  readonly ownership?: FileOwnership;
}

/** What kind of file `stats` describes, for messages. */
export function describeKind(stats: Stats): string {
  if (stats.isFile()) return 'a regular file';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isSymbolicLink()) return 'a symbolic link';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** Makes sure `dir` is a directory, creating missing ones; returns those it created, outermost first. */
export async function ensureDirectory(dir: string, options: EnsureDirectoryOptions): Promise<string[]> {
  const missing: string[] = [];
  for (let current = dir; ; current = path.dirname(current)) {
    const stats = await statOrMissing(current, options.setting);
    if (stats) {
      if (!stats.isDirectory()) {
        throw new LocalIoError(`${options.setting}: ${current} is ${describeKind(stats)}, not a directory`);
      }
      break;
    }
    missing.unshift(current);
    if (path.dirname(current) === current) break;
  }
  const created: string[] = [];
  for (const d of missing) {
    try {
      // Private until its mode and owner are set, so nobody uses it with the wrong ones.
      await fs.mkdir(d, { mode: options.ownership ? 0o700 : 0o777 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        // Made by someone else meanwhile: fine if it is a directory, and not ours to chown.
        const stats = await statOrMissing(d, options.setting);
        if (stats?.isDirectory()) continue;
      }
      throw toLocalIoError(err, `${options.setting}: creating directory ${d}`);
    }
    created.push(d);
    if (options.ownership) await ownDirectory(d, options.ownership, options.setting);
  }
  return created;
}

/** stat (following links, so a symlinked volume works); undefined when missing. */
async function statOrMissing(p: string, setting: string): Promise<Stats | undefined> {
  try {
    return await fs.stat(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw toLocalIoError(err, `${setting}: inspecting ${p}`);
  }
  // Missing, or under a component that is not a directory (the walk up finds it).
  const link = await fs.lstat(p).catch(() => undefined);
  if (link?.isSymbolicLink()) throw new LocalIoError(`${setting}: ${p} is a symbolic link to something that does not exist`);
  return undefined;
}

async function ownDirectory(dir: string, ownership: FileOwnership, setting: string): Promise<void> {
  try {
    const handle = await fs.open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    try {
      await applyOwnership(handle, `the directory ${dir}`, directoryMode(ownership.mode), ownership);
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw toLocalIoError(err, `${setting}: setting the owner of ${dir}`);
  }
}
