// Snapshot source for a database image: the whole database file, compressed
// (Litestream v0.3: LZ4 frames; zlayer-storage: zstd) or not, written from
// offset 0 on as it is decoded.
import { createDecoder, type Compression } from '../codec/decoder.js';
import { CorruptBackupError } from '../errors.js';
import { parseDbHeader } from '../sqlite/header.js';
import type { SnapshotFacts } from './folded-pages.js';
import type { SnapshotSource, SnapshotSourceSpec } from './snapshot-source.js';
import type { WrittenSnapshot } from './snapshot-writer.js';

export interface ImageParams {
  readonly compression: Compression;
}

export function imageSource(compression: Compression): SnapshotSourceSpec {
  return { module: new URL('./image-source.js', import.meta.url).href, params: { compression } satisfies ImageParams };
}

export async function createSnapshotSource(params: unknown, name: string): Promise<SnapshotSource> {
  const decoder = await createDecoder((params as ImageParams).compression, name);
  let position = 0;
  return {
    push: (chunk) => decoder.push(chunk),
    read() {
      const data = decoder.read();
      if (!data) return undefined;
      const write = { position, data };
      position += data.length;
      return write;
    },
    end() {
      decoder.end();
      return { size: position };
    },
  };
}

/** The checks every database image gets once written: a SQLite header, and whole pages. */
export function imageFacts(written: WrittenSnapshot, name: string): SnapshotFacts {
  const header = parseDbHeader(written.head);
  if (typeof header === 'string') throw new CorruptBackupError(`${name}: snapshot is ${header}`);
  // Only the size is checked here: a snapshot's in-header page count may lag
  // behind (the WAL after it replays from its start); the result is checked in full later.
  if (written.bytes % header.pageSize !== 0) {
    throw new CorruptBackupError(`${name}: snapshot size ${written.bytes} is not a multiple of its page size ${header.pageSize}`);
  }
  return { pageSize: header.pageSize, pages: written.bytes / header.pageSize };
}
