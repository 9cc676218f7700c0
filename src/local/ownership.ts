// Mode and owner of what the restore creates: the database file, and the
// directories it had to make for it and for the marker. The app may run under
// another uid than this container; SQLite then needs to write the database and
// to create its -wal and -shm beside it, in a directory it may write.
import type { FileHandle } from 'node:fs/promises';
import type { FileOwnership } from '../config.js';
import { LocalIoError } from '../errors.js';

/**
 * The mode of a directory made for a file of `fileMode`: whoever may read or
 * write the file may enter the directory, and whoever may write the file may
 * create files in it (0644 -> 0755, 0660 -> 0770, 0600 -> 0700).
 */
export function directoryMode(fileMode: number): number {
  let mode = 0;
  for (const shift of [6, 3, 0]) {
    const bits = (fileMode >> shift) & 0o7;
    let dir = 0;
    if (bits & 0o4) dir |= 0o5;
    if (bits & 0o2) dir |= 0o3;
    mode |= dir << shift;
  }
  return mode;
}

/**
 * Sets mode and owner through an open handle (fchmod, fchown): the name cannot
 * be swapped for a symlink to another file between the check and the change.
 */
export async function applyOwnership(handle: FileHandle, what: string, mode: number, ownership: FileOwnership): Promise<void> {
  await handle.chmod(mode);
  if (ownership.uid === undefined && ownership.gid === undefined) return;
  try {
    await handle.chown(ownership.uid ?? -1, ownership.gid ?? -1);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EPERM') {
      throw new LocalIoError(
        `cannot change the owner of ${what} to uid ${ownership.uid ?? '-'} gid ${ownership.gid ?? '-'}: a non-root container may only set a group it belongs to; use fsGroup and SQLITE_RESTORE_FILE_MODE=0660 instead`,
        { cause: err },
      );
    }
    throw err;
  }
}
