// A replica on a mounted file system (Litestream's `file` replica type).
// Only regular files are objects, and only real directories are walked: a
// symbolic link is never followed and a FIFO, socket or device never opened,
// even when one replaces a file between the listing and the read. Such
// entries are reported by list() (as IrregularEntry), so a layout can refuse
// a replica in which one stands where its objects belong.
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { AuthError, CorruptBackupError, toLocalIoError } from '../errors.js';
import { NEARBY_PAGE, type IrregularEntry, type ListEntry, type Nearby, type ObjectInfo, type ReadOptions, type Store } from './store.js';

const CHUNK = 1 << 20;
// O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer.
const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

function irregularKind(entry: { isSymbolicLink(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): IrregularEntry['irregular'] {
  if (entry.isSymbolicLink()) return 'symbolic link';
  if (entry.isFIFO()) return 'FIFO';
  if (entry.isSocket()) return 'socket';
  if (entry.isCharacterDevice()) return 'character device';
  if (entry.isBlockDevice()) return 'block device';
  return 'unknown file type';
}

/** Up to NEARBY_PAGE entry names of `dir`, sorted, directories ending in "/"; none when it cannot be read. */
async function names(dir: string, signal: AbortSignal): Promise<string[]> {
  const found: string[] = [];
  let handle: fs.Dir;
  try {
    handle = await fs.promises.opendir(dir);
  } catch {
    return found;
  }
  try {
    for await (const entry of handle) {
      signal.throwIfAborted();
      found.push(entry.isDirectory() ? `${entry.name}/` : entry.name);
      if (found.length >= NEARBY_PAGE) break;
    }
  } catch {
    signal.throwIfAborted(); // otherwise what was read so far
  }
  return found.sort();
}

export class FileStore implements Store {
  readonly location: string;

  constructor(private readonly root: string) {
    this.location = `file://${root}`;
  }

  async *list(prefix: string, signal: AbortSignal): AsyncIterable<ListEntry> {
    // From the root down, so that no directory on the way to the prefix is a followed symlink.
    yield* this.walk('', prefix, signal);
  }

  private async *walk(rel: string, prefix: string, signal: AbortSignal): AsyncIterable<ListEntry> {
    signal.throwIfAborted();
    const dir = path.join(this.root, rel);
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A replica directory that does not exist yet simply holds no backup.
      if (code === 'ENOENT') return;
      if (code === 'EACCES' || code === 'EPERM') {
        throw new AuthError(`permission denied reading the replica directory ${dir}`);
      }
      throw toLocalIoError(err, `listing ${dir}`);
    }
    for (const entry of entries) {
      const key = rel ? `${rel}/${entry.name}` : entry.name;
      // On the way to the prefix (an ancestor directory of it), or under it.
      const relevant = prefix.startsWith(`${key}/`) || key.startsWith(prefix);
      if (!relevant) continue;
      if (entry.isDirectory()) {
        yield* this.walk(key, prefix, signal);
      } else if (entry.isFile()) {
        if (!key.startsWith(prefix)) continue;
        // lstat: an entry swapped for a symlink since readdir is not followed.
        let stat: fs.Stats;
        try {
          stat = await fs.promises.lstat(path.join(this.root, key));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed since readdir (retention)
          throw toLocalIoError(err, `reading ${path.join(this.root, key)}`);
        }
        if (stat.isFile()) yield { key, size: stat.size, lastModified: stat.mtime };
        else if (!stat.isDirectory()) yield { key, irregular: irregularKind(stat) };
      } else {
        yield { key, irregular: irregularKind(entry) };
      }
    }
  }

  async nearby(signal: AbortSignal): Promise<Nearby> {
    const root = path.resolve(this.root);
    const parent = path.dirname(root);
    const [inside, beside] = await Promise.all([names(root, signal), parent === root ? [] : names(parent, signal)]);
    const own = `${path.basename(root)}/`;
    return { parent: parent === root ? undefined : `file://${parent}`, inside, beside: beside.filter((n) => n !== own) };
  }

  readRange(info: ObjectInfo, start: number, end: number, options: ReadOptions): Readable {
    return Readable.from(this.chunks(info, start, end, options, false), { objectMode: false });
  }

  read(info: ObjectInfo, options: ReadOptions): Readable {
    return Readable.from(this.chunks(info, 0, info.size, options, true), { objectMode: false });
  }

  /**
   * Bytes [start, end) of the object, read in fresh chunks of at most 1 MiB.
   * With `whole`, the file must still be exactly the listed size.
   */
  private async *chunks(info: ObjectInfo, start: number, end: number, { signal, onBytes }: ReadOptions, whole: boolean): AsyncGenerator<Buffer> {
    const file = path.join(this.root, info.key);
    signal.throwIfAborted();
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(file, OPEN_FLAGS);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
        throw new CorruptBackupError(`${info.key}: replaced by a symbolic link since it was listed; it is not followed`);
      }
      throw toLocalIoError(err, `reading ${file}`);
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new CorruptBackupError(`${info.key}: replaced by a ${irregularKind(stat)} since it was listed; it is not read`);
      let position = start;
      while (position < end) {
        signal.throwIfAborted();
        const buffer = Buffer.allocUnsafe(Math.min(CHUNK, end - position));
        let bytesRead: number;
        try {
          ({ bytesRead } = await handle.read(buffer, 0, buffer.length, position));
        } catch (err) {
          throw toLocalIoError(err, `reading ${file}`);
        }
        if (bytesRead === 0) break;
        position += bytesRead;
        onBytes?.(bytesRead);
        yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
      }
      if (whole && (position !== end || (await handle.stat()).size !== info.size)) {
        throw new CorruptBackupError(`${info.key}: size changed while reading (${position} of ${info.size} bytes)`);
      }
    } finally {
      await handle.close();
    }
  }
}
