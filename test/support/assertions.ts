// Assertions shared by the end-to-end tests.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileSha256, integrityCheck, logicalDigest, type DbDigest } from './digest.js';
import { restoringLeftovers } from './paths.js';
import { explain, readMarker, type RunResult } from './run-cli.js';

export function assertExit(r: RunResult, code: number): void {
  assert.equal(r.signal, null, `the CLI must exit by itself, not die from a signal\n${explain(r)}`);
  assert.equal(r.code, code, `expected exit code ${code}\n${explain(r)}`);
}

/** stdout is pino JSON lines only, ending with a summary line. */
export function assertJsonLogs(r: RunResult): void {
  assert.deepEqual(r.nonJsonLines, [], `stdout must hold only JSON log lines\n${explain(r)}`);
  assert.ok(r.logs.length > 0, `expected JSON log lines on stdout\n${explain(r)}`);
}

export async function assertNoLeftovers(dir: string): Promise<void> {
  assert.deepEqual(await restoringLeftovers(dir), [], `no .restoring- file may remain in ${dir}`);
}

export async function assertFileBytes(file: string, expected: Buffer, what: string): Promise<void> {
  const actual = await readFile(file);
  assert.ok(actual.equals(expected), `${what}: ${file} changed (${expected.length} bytes before, ${actual.length} after)`);
}

/** The restored file holds exactly the source's schema and rows, and passes integrity_check. */
export function assertSameDatabase(restored: string, expected: DbDigest): void {
  assert.deepEqual(integrityCheck(restored), ['ok'], `integrity_check of ${restored}`);
  const got = logicalDigest(restored);
  assert.deepEqual(got.tables, expected.tables, 'row counts per table');
  assert.equal(got.pageSize, expected.pageSize, 'page size');
  assert.equal(got.sha256, expected.sha256, 'logical digest (schema + every row) of restored vs source');
}

/** The marker's sha256 is the SHA-256 of the published file. */
export async function assertMarkerSha256(r: RunResult, markerPath: string, target: string): Promise<void> {
  assert.equal((await readMarker(markerPath)).sha256, await fileSha256(target), `the marker's sha256 is the restored file's\n${explain(r)}`);
}

export const dirOf = (file: string): string => path.dirname(file);
