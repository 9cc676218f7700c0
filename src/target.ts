// The local side: where the database goes, what is already there, and the
// names of our temporary files (all carry ".restoring-" so a later run can
// find and remove what a killed run left behind).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { LocalIoError, toLocalIoError } from './errors.js';
import { checkHeader } from './sqlite/verify.js';

export const TEMP_TAG = '.restoring-';

export interface TempPaths {
  readonly db: string;
  readonly spill: string;
}

export function tempPaths(dbPath: string): TempPaths {
  const base = `${path.dirname(dbPath)}/.${path.basename(dbPath)}${TEMP_TAG}${randomBytes(6).toString('hex')}`;
  return { db: base, spill: `${base}.spill` };
}

/** Removes temp files of earlier runs for this target; returns their names. */
export async function removeLeftovers(file: string): Promise<string[]> {
  const dir = path.dirname(file);
  const prefix = `.${path.basename(file)}${TEMP_TAG}`;
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    throw toLocalIoError(err, `reading directory ${dir}`);
  }
  const removed = names.filter((n) => n.startsWith(prefix));
  for (const name of removed) await fs.rm(path.join(dir, name), { force: true });
  return removed;
}

export async function removeQuietly(...files: string[]): Promise<void> {
  for (const file of files) {
    for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) await fs.rm(f, { force: true }).catch(() => undefined);
  }
}

/** Makes sure the target directory exists and is a writable directory. */
export async function prepareDirectory(file: string): Promise<void> {
  const dir = path.dirname(file);
  try {
    await fs.mkdir(dir, { recursive: true });
    await fs.access(dir, fs.constants.W_OK);
  } catch (err) {
    throw toLocalIoError(err, `preparing directory ${dir}`);
  }
}

export type Existing =
  | { readonly state: 'absent' }
  | { readonly state: 'valid'; readonly bytes: number }
  | { readonly state: 'invalid'; readonly reason: string };

export async function inspectExisting(file: string): Promise<Existing> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'absent' };
    throw toLocalIoError(err, `inspecting ${file}`);
  }
  if (!stat.isFile()) throw new LocalIoError(`${file} exists but is not a regular file`);
  try {
    const result = await checkHeader(file);
    return typeof result === 'string' ? { state: 'invalid', reason: result } : { state: 'valid', bytes: stat.size };
  } catch (err) {
    throw toLocalIoError(err, `reading ${file}`);
  }
}
