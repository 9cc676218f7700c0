// Reads an existing database's -wal as SQLite's recovery would (header
// checksum, salts, the frame checksum chain, the last commit frame) and keeps
// only what the cheap judgement needs: the last commit's database size and the
// newest committed page 1. Streamed in fixed chunks with the event loop free
// between them: memory stays bounded and SIGTERM and the deadline act whatever
// the file's size or content.
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import { DB_HEADER_SIZE } from '../sqlite/header.js';
import { WAL_FRAME_HEADER_SIZE, WAL_HEADER_SIZE, WalReader } from '../sqlite/wal.js';
import type { WalState } from './effective-database.js';

const CHUNK_BYTES = 1 << 20;

/** `file` must already be known to be a regular file or absent (existing-database.ts checks). */
export async function scanWal(file: string, signal: AbortSignal): Promise<WalState> {
  let handle;
  try {
    handle = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    throw err;
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) return { kind: 'unusable', reason: 'not a regular file' };
    // SQLite ignores a -wal no longer than its header.
    if (stats.size <= WAL_HEADER_SIZE) return { kind: 'none' };

    let pending: Uint8Array | undefined;
    let page1: Uint8Array | undefined;
    let commitPages: number | undefined;
    let validEnd = WAL_HEADER_SIZE;
    const reader = new WalReader({
      name: file,
      mode: 'lenient',
      onFrame: (frame) => {
        validEnd = frame.offset + WAL_FRAME_HEADER_SIZE + frame.page.length;
        if (frame.pgno === 1) pending = new Uint8Array(frame.page.subarray(0, DB_HEADER_SIZE));
        if (frame.commitSize > 0) {
          commitPages = frame.commitSize;
          if (pending) page1 = pending;
          pending = undefined;
        }
      },
    });
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    try {
      for (let position = 0; position < stats.size; ) {
        signal.throwIfAborted();
        const { bytesRead } = await handle.read(buffer, 0, Math.min(CHUNK_BYTES, stats.size - position), position);
        if (bytesRead === 0) break;
        reader.push(buffer.subarray(0, bytesRead));
        position += bytesRead;
        // Recovery stops at the first invalid frame: a whole frame read but not
        // delivered means the rest cannot count, however large the file.
        const frameSize = reader.walHeader ? WAL_FRAME_HEADER_SIZE + reader.walHeader.pageSize : Infinity;
        if (reader.offset - validEnd >= frameSize) break;
      }
    } catch (err) {
      if (signal.aborted) throw err;
      // The header failed SQLite's checks (magic, version, page size, checksum).
      if (!reader.walHeader) return { kind: 'unusable', reason: (err as Error).message.replace(`${file}: `, '') };
      throw err;
    }
    const header = reader.walHeader;
    if (!header) return { kind: 'none' };
    return { kind: 'valid', pageSize: header.pageSize, commitPages, page1 };
  } finally {
    await handle.close();
  }
}
