// Checks a finished database file before anyone may see it: header and size
// consistency, then SQLite's own quick_check or integrity_check.
import fs from 'node:fs/promises';
import Database from 'better-sqlite3';
import type { VerifyLevel } from '../config.js';
import { CorruptBackupError } from '../errors.js';
import { checkDbFile, DB_HEADER_SIZE, parseDbHeader } from './header.js';

export interface VerifyResult {
  readonly pageSize: number;
  readonly pageCount: number;
}

/** Header and size sanity only; cheap enough to run on any file. */
export async function checkHeader(file: string): Promise<VerifyResult | string> {
  const handle = await fs.open(file, 'r');
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(DB_HEADER_SIZE);
    const { bytesRead } = await handle.read(head, 0, DB_HEADER_SIZE, 0);
    const header = parseDbHeader(head.subarray(0, bytesRead));
    if (typeof header === 'string') return size === 0 ? 'empty file' : header;
    const problem = checkDbFile(header, size);
    if (problem) return problem;
    return { pageSize: header.pageSize, pageCount: size / header.pageSize };
  } finally {
    await handle.close();
  }
}

export async function verifyDatabase(file: string, level: VerifyLevel, label: string): Promise<VerifyResult> {
  const result = await checkHeader(file);
  if (typeof result === 'string') throw new CorruptBackupError(`${label}: restored file failed verification: ${result}`);
  if (level === 'none') return result;
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { fileMustExist: true });
    // Exclusive locking keeps the WAL index in memory: no -shm file is created.
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('query_only = ON');
    const rows = db.pragma(level === 'full' ? 'integrity_check(20)' : 'quick_check(20)', { simple: false }) as Array<
      Record<string, string>
    >;
    const messages = rows.map((row) => Object.values(row)[0]);
    if (messages.length !== 1 || messages[0] !== 'ok') {
      throw new CorruptBackupError(`${label}: restored database failed ${level === 'full' ? 'integrity_check' : 'quick_check'}: ${messages.slice(0, 3).join('; ')}`);
    }
    const pageCount = db.pragma('page_count', { simple: true }) as number;
    if (pageCount !== result.pageCount) {
      throw new CorruptBackupError(`${label}: SQLite reports ${pageCount} pages but the file holds ${result.pageCount}`);
    }
    return result;
  } catch (err) {
    if (err instanceof CorruptBackupError) throw err;
    throw new CorruptBackupError(`${label}: restored database cannot be opened by SQLite: ${(err as Error).message}`, { cause: err });
  } finally {
    db?.close();
  }
}
