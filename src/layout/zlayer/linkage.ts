// Evidence that a WAL copy belongs on top of a snapshot, when the layout
// records no link between them (zlayer-storage copies the main file and the
// -wal file independently, at arbitrary moments).
//
// The database header's file change counter (page 1, offset 24) is the one
// version number SQLite keeps in the file: every commit that writes page 1
// (growth, freelist changes, schema changes, ...) stores the counter it read
// plus one, so over the life of a database the page-1 versions carry a
// counter that never decreases and never skips. A snapshot (main file) holds
// some page-1 version S; a WAL copy holds page-1 versions F (its first
// committed one) .. L (its last). If the WAL is the one that was live when the
// snapshot was taken, the snapshot's page 1 is either the version from before
// the WAL's first page-1 write (F = S + 1, or F = S when that commit did not
// raise it) or one of the WAL's own versions: F - 1 <= S <= L. L < S means
// the WAL would roll page 1 back (a copy older than the snapshot); F - 1 > S
// means commits in between are in neither (the WAL was restarted after the
// snapshot was taken). A WAL that never writes page 1 gives no evidence
// either way; SQLite's integrity_check remains the last guard.

import { CorruptBackupError } from '../../errors.js';

export const CHANGE_COUNTER_OFFSET = 24;

/** The file change counter of a database header (page 1 or the first 100 bytes of the file). */
export function changeCounterOf(page1: Uint8Array): number {
  return new DataView(page1.buffer, page1.byteOffset + CHANGE_COUNTER_OFFSET, 4).getUint32(0);
}

/** Signed distance a - b between two 32-bit counters, which may wrap. */
function distance(a: number, b: number): number {
  return (a - b) | 0;
}

export interface Page1Versions {
  /** Change counter of the first committed page-1 frame. */
  readonly first: number;
  /** Change counter of the last committed page-1 frame. */
  readonly last: number;
}

/** Records the change counters of committed page-1 frames while a WAL is read. */
export class Page1Tracker {
  private txFirst: number | undefined;
  private txLast: number | undefined;
  private firstCommitted: number | undefined;
  private lastCommitted: number | undefined;

  frame(pgno: number, page: Uint8Array, commitSize: number): void {
    if (pgno === 1) {
      const counter = changeCounterOf(page);
      this.txFirst ??= counter;
      this.txLast = counter;
    }
    if (commitSize > 0) {
      if (this.txFirst !== undefined) {
        this.firstCommitted ??= this.txFirst;
        this.lastCommitted = this.txLast;
      }
      this.txFirst = undefined;
      this.txLast = undefined;
    }
  }

  get versions(): Page1Versions | undefined {
    if (this.firstCommitted === undefined || this.lastCommitted === undefined) return undefined;
    return { first: this.firstCommitted, last: this.lastCommitted };
  }
}

/** Returns why the WAL does not belong on the snapshot, or undefined when nothing speaks against it. */
export function changeCounterProblem(snapshot: number, wal: Page1Versions | undefined): string | undefined {
  if (!wal) return undefined;
  if (distance(wal.last, snapshot) < 0) {
    return (
      `it would roll the database header back from change counter ${snapshot} (snapshot) to ${wal.last}: ` +
      'the WAL copy is older than the snapshot'
    );
  }
  if (distance(wal.first, snapshot) > 1) {
    return (
      `its first page-1 write has change counter ${wal.first} but the snapshot is at ${snapshot}: ` +
      'commits between the two are in neither (the WAL was restarted after the snapshot was taken)'
    );
  }
  return undefined;
}

export function checkChangeCounter(snapshot: number, wal: Page1Versions | undefined, name: string): void {
  const problem = changeCounterProblem(snapshot, wal);
  if (problem) throw new CorruptBackupError(`${name} does not continue the snapshot: ${problem}`);
}
