// Makes a finished file visible atomically and durably: fsync the file,
// remove the old database's -wal/-shm (SQLite would otherwise replay a stale
// WAL into the new file), rename over the target, fsync the directory.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FileOwnership } from './config.js';
import { LocalIoError, toLocalIoError } from './errors.js';
import { TEMP_TAG } from './target.js';

async function fsyncPath(file: string, flags: string): Promise<void> {
  const handle = await fs.open(file, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Sets mode and owner on the finished file, before anyone can see it. */
async function applyOwnership(file: string, ownership: FileOwnership): Promise<void> {
  await fs.chmod(file, ownership.mode);
  if (ownership.uid === undefined && ownership.gid === undefined) return;
  try {
    await fs.chown(file, ownership.uid ?? -1, ownership.gid ?? -1);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPERM') {
      throw new LocalIoError(
        `cannot change the owner of ${file} to uid ${ownership.uid ?? '-'} gid ${ownership.gid ?? '-'}: a non-root container may only set a group it belongs to; use fsGroup and SQLITE_RESTORE_FILE_MODE=0660 instead`,
        { cause: err },
      );
    }
    throw err;
  }
}

export async function publishFile(tempPath: string, targetPath: string, ownership: FileOwnership): Promise<void> {
  try {
    await applyOwnership(tempPath, ownership);
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
