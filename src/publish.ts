// Makes a finished file visible atomically and durably: fsync the file,
// remove the old database's -wal/-shm (SQLite would otherwise replay a stale
// WAL into the new file), rename over the target, fsync the directory.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { toLocalIoError } from './errors.js';
import { TEMP_TAG } from './target.js';

async function fsyncPath(file: string, flags: string): Promise<void> {
  const handle = await fs.open(file, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function publishFile(tempPath: string, targetPath: string): Promise<void> {
  try {
    await fsyncPath(tempPath, 'r+');
    for (const suffix of ['-wal', '-shm', '-journal']) await fs.rm(`${targetPath}${suffix}`, { force: true });
    await fs.rename(tempPath, targetPath);
    await fsyncPath(path.dirname(targetPath), 'r');
  } catch (err) {
    throw toLocalIoError(err, `publishing ${targetPath}`);
  }
}

/** Writes a small file atomically (temp file beside it, fsync, rename, fsync dir). */
export async function writeFileAtomic(targetPath: string, content: string): Promise<void> {
  const temp = `${path.dirname(targetPath)}/.${path.basename(targetPath)}${TEMP_TAG}${randomBytes(6).toString('hex')}`;
  try {
    await fs.mkdir(path.dirname(targetPath), { recursive: true });
    await fs.writeFile(temp, content, { mode: 0o644, flush: true });
    await fs.rename(temp, targetPath);
    await fsyncPath(path.dirname(targetPath), 'r');
  } catch (err) {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw toLocalIoError(err, `writing ${targetPath}`);
  }
}
