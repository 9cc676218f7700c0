// A replica on a mounted file system (Litestream's `file` replica type).
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { AuthError, CorruptBackupError, toLocalIoError } from '../errors.js';
import type { ObjectInfo, ReadOptions, Store } from './store.js';

export class FileStore implements Store {
  readonly location: string;

  constructor(private readonly root: string) {
    this.location = `file://${root}`;
  }

  async *list(prefix: string, signal: AbortSignal): AsyncIterable<ObjectInfo> {
    // Walk only the directory part of the prefix; filter the rest by name.
    const slash = prefix.lastIndexOf('/');
    const base = slash >= 0 ? prefix.slice(0, slash) : '';
    yield* this.walk(base, prefix, signal);
  }

  private async *walk(rel: string, prefix: string, signal: AbortSignal): AsyncIterable<ObjectInfo> {
    signal.throwIfAborted();
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(path.join(this.root, rel), { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A replica directory that does not exist yet simply holds no backup.
      if (code === 'ENOENT') return;
      if (code === 'EACCES' || code === 'EPERM') {
        throw new AuthError(`permission denied reading the replica directory ${path.join(this.root, rel)}`);
      }
      throw toLocalIoError(err, `listing ${path.join(this.root, rel)}`);
    }
    for (const entry of entries) {
      const key = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (prefix.startsWith(`${key}/`) || key.startsWith(prefix)) yield* this.walk(key, prefix, signal);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        const stat = await fs.promises.stat(path.join(this.root, key));
        yield { key, size: stat.size, lastModified: stat.mtime };
      }
    }
  }

  readRange(info: ObjectInfo, start: number, end: number, options: ReadOptions): Readable {
    const file = path.join(this.root, info.key);
    const source = fs.createReadStream(file, { signal: options.signal, start, end: end - 1, highWaterMark: 1 << 20 });
    const out = new Transform({
      transform(chunk: Buffer, _enc, done) {
        options.onBytes?.(chunk.length);
        done(null, chunk);
      },
    });
    source.on('error', (err) => out.destroy(toLocalIoError(err, `reading ${file}`)));
    return source.pipe(out);
  }

  read(info: ObjectInfo, options: ReadOptions): Readable {
    const file = path.join(this.root, info.key);
    let seen = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        seen += chunk.length;
        options.onBytes?.(chunk.length);
        done(null, chunk);
      },
      flush(done) {
        done(seen === info.size ? null : new CorruptBackupError(`${info.key}: size changed while reading (${seen} of ${info.size} bytes)`));
      },
    });
    const source = fs.createReadStream(file, { signal: options.signal, highWaterMark: 1 << 20 });
    source.on('error', (err) => counter.destroy(toLocalIoError(err, `reading ${file}`)));
    return source.pipe(counter);
  }
}
