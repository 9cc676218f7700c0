// Who holds a restore lock: a small JSON file written by the holder right after
// it takes the lock, and read by a run that has to wait, so the wait and the
// give-up message can name the holder (pid, host name, since when). Anyone who
// can write the directory can write this file: it is read bounded, never
// followed through a link, and nothing of it is trusted beyond a display string.
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import { trackTemp } from './exit-cleanup.js';

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** ISO 8601 time the lock was taken. */
  readonly since: string;
}

/** Longer files are not holder files of this tool; reading stops there. */
const MAX_HOLDER_BYTES = 1024;

export function currentHolder(now: Date = new Date()): LockHolder {
  return { pid: process.pid, host: os.hostname(), since: now.toISOString() };
}

/** Parses a holder file; undefined unless it is exactly what `writeHolder` writes. */
export function parseHolder(text: string): LockHolder | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!value || typeof value !== 'object') return undefined;
  const { pid, host, since } = value as Record<string, unknown>;
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
  if (typeof host !== 'string' || typeof since !== 'string') return undefined;
  const time = new Date(since);
  if (Number.isNaN(time.getTime())) return undefined;
  // Printable, one line and short: it ends up in logs and in the termination message.
  const cleanHost = host.replace(/[^\x21-\x7e]/g, '?').slice(0, 253);
  if (!cleanHost) return undefined;
  return { pid, host: cleanHost, since: time.toISOString() };
}

export function describeHolder(holder: LockHolder | undefined): string {
  return holder ? `pid ${holder.pid} on host ${holder.host} since ${holder.since}` : 'a holder that has not recorded itself';
}

/** Reads the holder file; undefined when it is missing, not a regular file, or not ours. */
export async function readHolder(file: string): Promise<LockHolder | undefined> {
  let handle;
  try {
    handle = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    if (!(await handle.stat()).isFile()) return undefined;
    const buffer = Buffer.alloc(MAX_HOLDER_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, MAX_HOLDER_BYTES, 0);
    return parseHolder(buffer.subarray(0, bytesRead).toString('utf8'));
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

/**
 * Writes the holder file through `temp` and a rename, so a link (symbolic or
 * hard) planted at its name is replaced, never written through.
 */
export async function writeHolder(file: string, temp: string, holder: LockHolder): Promise<void> {
  const untrack = trackTemp(temp);
  try {
    await fs.writeFile(temp, `${JSON.stringify(holder)}\n`, { flag: 'wx', mode: 0o644 });
    await fs.rename(temp, file);
  } catch (err) {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw err;
  } finally {
    untrack();
  }
}
