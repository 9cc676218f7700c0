// The 100-byte SQLite database header (https://www.sqlite.org/fileformat.html).
// Pure checks used both on restored files and on a database already in place.
import { isValidPageSize } from './wal.js';

export const DB_HEADER_SIZE = 100;
const MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

export interface DbHeader {
  readonly pageSize: number;
  /** In-header page count, trusted by SQLite only when `pageCountValid`. */
  readonly pageCount: number;
  readonly pageCountValid: boolean;
  /** 2 = WAL mode. */
  readonly readVersion: number;
}

/** Parses the header, or returns a reason why these bytes are not a SQLite database. */
export function parseDbHeader(bytes: Uint8Array): DbHeader | string {
  if (bytes.length < DB_HEADER_SIZE) return 'shorter than a SQLite header';
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, DB_HEADER_SIZE);
  if (!buf.subarray(0, 16).equals(MAGIC)) return 'not a SQLite database (bad magic)';
  const raw = buf.readUInt16BE(16);
  const pageSize = raw === 1 ? 65536 : raw;
  if (!isValidPageSize(pageSize)) return `invalid page size ${raw}`;
  const changeCounter = buf.readUInt32BE(24);
  const versionValidFor = buf.readUInt32BE(92);
  return {
    pageSize,
    pageCount: buf.readUInt32BE(28),
    pageCountValid: changeCounter === versionValidFor,
    readVersion: buf[18] ?? 0,
  };
}

/** Checks that a file of `fileSize` bytes is consistent with its header; returns a problem or undefined. */
export function checkDbFile(header: DbHeader, fileSize: number): string | undefined {
  if (fileSize % header.pageSize !== 0) return `size ${fileSize} is not a multiple of the page size ${header.pageSize}`;
  const pages = fileSize / header.pageSize;
  if (header.pageCountValid && header.pageCount !== pages) {
    return `header says ${header.pageCount} pages but the file holds ${pages}`;
  }
  return undefined;
}
