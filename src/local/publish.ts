// Makes a finished database visible atomically and durably: mode and owner,
// fsync the file, remove the old database's -wal/-shm/-journal (SQLite would
// otherwise replay a stale WAL into the new file), rename over the target,
// fsync the directory. Everything is done on names this run made or through
// handles, never through a link planted at a name.
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FileOwnership } from '../config.js';
import { toLocalIoError } from '../errors.js';
import { applyOwnership } from './ownership.js';

export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function publishFile(tempPath: string, targetPath: string, ownership: FileOwnership): Promise<void> {
  try {
    const handle = await fs.open(tempPath, constants.O_RDWR | constants.O_NOFOLLOW);
    try {
      await applyOwnership(handle, targetPath, ownership.mode, ownership);
      await handle.sync();
    } finally {
      await handle.close();
    }
    for (const suffix of ['-wal', '-shm', '-journal']) await fs.rm(`${targetPath}${suffix}`, { force: true });
    await fs.rename(tempPath, targetPath);
    await fsyncDirectory(path.dirname(targetPath));
  } catch (err) {
    throw toLocalIoError(err, `publishing ${targetPath}`);
  }
}
