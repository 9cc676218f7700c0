// Checks a finished database file before anyone may see it: header and size
// consistency, then SQLite's own quick_check or integrity_check.
import fs from 'node:fs/promises';
import type { VerifyLevel } from '../config.js';
import { CorruptBackupError } from '../errors.js';
import { checkDbFile, DB_HEADER_SIZE, parseDbHeader } from './header.js';
import type { ReadAheadReport } from './read-ahead.js';
import { runSqliteCheck } from './sqlite-check.js';

export interface VerifyResult {
  readonly pageSize: number;
  readonly pageCount: number;
  /** What the check's read-ahead did, when it ran (logged). */
  readonly readAhead?: ReadAheadReport;
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

export async function verifyDatabase(file: string, level: VerifyLevel, label: string, signal: AbortSignal): Promise<VerifyResult> {
  const result = await checkHeader(file);
  if (typeof result === 'string') throw new CorruptBackupError(`${label}: restored file failed verification: ${result}`);
  if (level === 'none') return result;
  const check = level === 'full' ? 'integrity_check' : 'quick_check';
  const outcome = await runSqliteCheck({ file, access: 'read-write', level, exclusive: true }, signal);
  if (!outcome.ok) throw new CorruptBackupError(`${label}: restored database cannot be opened by SQLite: ${outcome.message}`);
  if (outcome.messages.length !== 1 || outcome.messages[0] !== 'ok') {
    throw new CorruptBackupError(`${label}: restored database failed ${check}: ${outcome.messages.slice(0, 3).join('; ')}`);
  }
  if (outcome.pageCount !== result.pageCount) {
    throw new CorruptBackupError(`${label}: SQLite reports ${outcome.pageCount} pages but the file holds ${result.pageCount}`);
  }
  return outcome.readAhead ? { ...result, readAhead: outcome.readAhead } : result;
}
