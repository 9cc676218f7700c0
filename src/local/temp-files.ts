// Names of this tool's temporary files beside a target (all carry
// ".<name>.restoring-" so a later run can find what a killed run left behind),
// and their removal. Leftovers are removed only by a run holding the lock
// (lock.ts): a live run's temporary files look exactly the same.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { LocalIoError, toLocalIoError } from '../errors.js';
import { describeKind } from './directories.js';

export const TEMP_TAG = '.restoring-';

/** A fresh temporary name beside `file`, e.g. `/data/.app.db.restoring-0a1b2c3d4e5f`; `label` names its use. */
export function tempPathFor(file: string, label = ''): string {
  return path.join(path.dirname(file), `.${path.basename(file)}${TEMP_TAG}${label}${randomBytes(6).toString('hex')}`);
}

export interface TempPaths {
  readonly db: string;
  readonly spill: string;
}

export function tempPaths(dbPath: string): TempPaths {
  const db = tempPathFor(dbPath);
  return { db, spill: `${db}.spill` };
}

/** Removes temporary files of earlier runs for this target; returns their names. */
export async function removeLeftovers(file: string): Promise<string[]> {
  const dir = path.dirname(file);
  const prefix = `.${path.basename(file)}${TEMP_TAG}`;
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    throw toLocalIoError(err, `reading directory ${dir}`);
  }
  const ours = names.filter((n) => n.startsWith(prefix));
  for (const name of ours) {
    const full = path.join(dir, name);
    const stats = await fs.lstat(full).catch(() => undefined);
    // This tool only ever makes files: a directory by that name is someone
    // else's, and removing a whole tree on the strength of its name is not ours to do.
    if (stats?.isDirectory()) {
      throw new LocalIoError(`${full} is ${describeKind(stats)} named like a temporary file of this tool; move or remove it`);
    }
    try {
      await fs.rm(full, { force: true });
    } catch (err) {
      throw toLocalIoError(err, `removing ${full}, left by an interrupted run`);
    }
  }
  return ours;
}

/** Removes files and SQLite's side files of them, ignoring errors (cleanup on the way out). */
export async function removeQuietly(...files: string[]): Promise<void> {
  for (const file of files) {
    for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) await fs.rm(f, { force: true }).catch(() => undefined);
  }
}
