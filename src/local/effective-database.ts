// The database as SQLite would open it, judged cheaply from its main file and
// its -wal: page 1 is the newest committed page-1 frame of a valid WAL, else
// the file's; the page count is the WAL's last commit's database size, else the
// file size over the page size. A database caught mid-checkpoint (page 1
// already copied into the main file, the pages it counts not yet) is valid
// this way, as it is to SQLite. Pure: bytes and sizes in, a verdict out.
import { checkDbFile, DB_HEADER_SIZE, parseDbHeader } from '../sqlite/header.js';

/** What a scan of the -wal found, read as SQLite's WAL recovery reads it. */
export type WalState =
  | { readonly kind: 'none' }
  /** A -wal SQLite might refuse (bad header): only SQLite can tell. */
  | { readonly kind: 'unusable'; readonly reason: string }
  | {
      readonly kind: 'valid';
      readonly pageSize: number;
      /** Database size in pages after the last valid commit; undefined when no frame is committed. */
      readonly commitPages: number | undefined;
      /** The first 100 bytes of the newest committed frame of page 1, if any. */
      readonly page1: Uint8Array | undefined;
    };

export type CheapVerdict =
  | { readonly kind: 'valid'; readonly pageSize: number; readonly pageCount: number }
  /** Certainly not a database SQLite would open with content: replace it without asking SQLite. */
  | { readonly kind: 'not-a-database'; readonly reason: string }
  /** Looks wrong here, but SQLite may still open it: ask SQLite before replacing anything. */
  | { readonly kind: 'doubtful'; readonly reason: string };

export function judgeEffective(mainHeader: Uint8Array, fileSize: number, wal: WalState): CheapVerdict {
  // SQLite treats a 0-byte main file as an empty database and discards its -wal.
  if (fileSize === 0) return { kind: 'not-a-database', reason: 'empty file' };
  if (wal.kind === 'unusable') return { kind: 'doubtful', reason: `its -wal: ${wal.reason}` };
  const committed = wal.kind === 'valid' && wal.commitPages !== undefined ? wal : undefined;
  const fromWal = committed?.page1 !== undefined;
  const headerBytes = fromWal ? (committed?.page1 as Uint8Array) : mainHeader.subarray(0, DB_HEADER_SIZE);
  const header = parseDbHeader(headerBytes);
  if (typeof header === 'string') {
    // SQLite reads the same page 1 and refuses it (SQLITE_NOTADB).
    return { kind: 'not-a-database', reason: fromWal ? `page 1 in its -wal: ${header}` : header };
  }
  if (!committed) {
    const problem = checkDbFile(header, fileSize);
    return problem ? { kind: 'doubtful', reason: problem } : { kind: 'valid', pageSize: header.pageSize, pageCount: fileSize / header.pageSize };
  }
  if (committed.pageSize !== header.pageSize) {
    return { kind: 'doubtful', reason: `its -wal has pages of ${committed.pageSize} bytes but the database ${header.pageSize}` };
  }
  if (fileSize % header.pageSize !== 0) {
    return { kind: 'doubtful', reason: `size ${fileSize} is not a multiple of the page size ${header.pageSize}` };
  }
  const pages = committed.commitPages as number;
  if (header.pageCountValid && header.pageCount !== pages) {
    return { kind: 'doubtful', reason: `header says ${header.pageCount} pages but the last commit in its -wal says ${pages}` };
  }
  return { kind: 'valid', pageSize: header.pageSize, pageCount: pages };
}
