// Where the layouts' appliers put pages. A page goes straight into the
// database file when nothing can write an older copy over it later: the
// snapshot has passed it (SnapshotProgress) and no shrink still to be applied
// cuts it off. Any other page goes to the spill file and the page map, and
// the surviving ones are written into the database file, each once, when the
// fold ends, or earlier whenever the map or the spill outgrow their budgets
// (at a commit, once the snapshot is in the file). That keeps memory and
// scratch disk bounded whatever the backup holds, writes a page that follows
// a finished snapshot once rather than twice, and never sizes the database
// file beyond the pages actually written to it.
import type fs from 'node:fs/promises';
import { CorruptBackupError } from '../errors.js';
import { Breather } from '../codec/decoder.js';
import { PageMap } from './page-map.js';
import { PageRuns } from './page-runs.js';
import type { SnapshotProgress } from './snapshot-progress.js';
import { SpillFile } from './spill.js';
import { writeAllSync } from './write-all.js';

/** What the rest of the restore needs to know about the snapshot once it is written. */
export interface SnapshotFacts {
  readonly pageSize: number;
  /** Pages in the file the snapshot wrote. */
  readonly pages: number;
}

/** The applier's side: pages of transactions, and their commits. */
export interface PageSink {
  /** A page of the current transaction (copied before the call returns). */
  write(pgno: number, data: Uint8Array): void;
  /** Commits the current transaction, leaving the database at `size` pages. */
  commit(size: number): void;
  /**
   * Waits, when the snapshot is still being written and has not reached
   * `pgno` yet, until it has (or is done), so that the page goes straight into
   * the file rather than through the spill. For large objects whose pages
   * ascend: the snapshot's writes ascend too, so the two move in step, and a
   * page written once instead of twice is worth the wait. Undefined when
   * there is nothing to wait for.
   */
  admit(pgno: number, pageSize: number): Promise<void> | undefined;
  /** Right after a commit: the map or the spill is over its budget, and relieve() would write the pages out. */
  readonly wantsRelief: boolean;
  /** Writes what is folded into the file when wantsRelief; call only right after commit(). */
  relieve(): Promise<void>;
  /** While on, pages wait for their commit, and discardPending() drops them. */
  hold(on: boolean): void;
  discardPending(): void;
  /** Commits folded so far. */
  readonly transactions: number;
}

/** Pages in the map before they are written out early (about 16 MiB of map). */
export const MAP_BUDGET = 1 << 20;
/** Bytes in the spill before its pages are written out early. */
export const SPILL_BUDGET = 1 << 30;
/** Spill bytes read at a time when copying the surviving pages. */
const COPY_WINDOW = 4 << 20;
/** SQLite never writes the page holding the byte at 1 GiB. */
const PENDING_BYTE = 0x40000000;

export class FoldedPages implements PageSink {
  private readonly map = new PageMap();
  private readonly direct: PageRuns;
  /** Database size in pages once everything applied so far is in the file. */
  private filePages: number | undefined;
  /** Leading pages of the file that hold written data (the rest would be zeros). */
  private backed = 0;
  /** Size of every page written so far (0 before the first). */
  private pageSize = 0;
  private pagesWritten = 0;
  private pagesSpilled = 0;
  private flushes = 0;
  /** Nothing was written since the last commit: a transaction boundary. */
  private atCommit = false;
  private snapshotDone = false;

  constructor(
    private readonly spill: SpillFile,
    private readonly db: fs.FileHandle,
    /** Resolves once the snapshot is in the file (and checked). */
    private readonly snapshot: Promise<SnapshotFacts>,
    /** How far the snapshot's writes have got. */
    private readonly progress: SnapshotProgress,
    private readonly signal: AbortSignal,
    private readonly budgets = { pages: MAP_BUDGET, spillBytes: SPILL_BUDGET },
  ) {
    this.direct = new PageRuns(db.fd);
    const done = () => (this.snapshotDone = true);
    snapshot.then(done, done);
  }

  get transactions(): number {
    return this.map.transactions;
  }

  write(pgno: number, data: Uint8Array): void {
    this.atCommit = false;
    if (this.pageSize === 0) this.pageSize = data.length;
    else if (data.length !== this.pageSize) throw new CorruptBackupError(`the backup's pages change size from ${this.pageSize} to ${data.length} bytes`);
    if (this.writesThrough(pgno)) {
      this.direct.write(data, (pgno - 1) * data.length);
      this.map.supersede(pgno);
      this.pagesWritten += 1;
      return;
    }
    this.map.write(pgno, this.spill.append(data));
    this.pagesSpilled += 1;
  }

  admit(pgno: number, pageSize: number): Promise<void> | undefined {
    return this.snapshotAhead(pgno, pageSize) ? this.waitForSnapshot(pgno, pageSize) : undefined;
  }

  /** The snapshot is still being written and has not passed `pgno` yet. */
  private snapshotAhead(pgno: number, pageSize: number): boolean {
    return !this.snapshotDone && pgno * pageSize > this.progress.settled;
  }

  private async waitForSnapshot(pgno: number, pageSize: number): Promise<void> {
    for (;;) {
      const seen = this.progress.settled;
      if (!this.snapshotAhead(pgno, pageSize)) return;
      // Woken by each step of the snapshot; the timeout also notices its end or failure.
      await this.progress.changed(seen, 50);
      this.signal.throwIfAborted();
    }
  }

  /**
   * Whether a page can go into the file now: the snapshot will not write it
   * again, it lies within the file as the last write-out left it, and no
   * commit since then cut the database below it (the truncation still to
   * come would cut it off). A shrink after this write cuts it off, as it
   * should. Pages of a transaction held for its commit always wait.
   */
  private writesThrough(pgno: number): boolean {
    if (this.map.isHolding || this.map.hasPending) return false;
    const limit = this.filePages ?? Math.floor(this.progress.settled / this.pageSize);
    const { minDbSize } = this.map.state;
    return pgno <= limit && (minDbSize === undefined || pgno <= minDbSize);
  }

  commit(size: number): void {
    this.map.commit(size);
    this.atCommit = true;
  }

  hold(on: boolean): void {
    this.map.hold(on);
  }

  discardPending(): void {
    this.map.discardPending();
  }

  get wantsRelief(): boolean {
    return this.atCommit && !this.map.hasPending && (this.map.entries >= this.budgets.pages || this.spill.size >= this.budgets.spillBytes);
  }

  async relieve(): Promise<void> {
    if (!this.wantsRelief) return;
    await this.apply();
    this.flushes += 1;
  }

  /** Writes everything folded into the file and sizes it by the last commit; returns the summary. */
  async finish(): Promise<{ pageCount: number; pagesWritten: number; pagesSpilled: number; earlyFlushes: number }> {
    this.map.discardPending();
    await this.apply();
    const facts = await this.snapshot;
    return { pageCount: this.filePages ?? facts.pages, pagesWritten: this.pagesWritten, pagesSpilled: this.pagesSpilled, earlyFlushes: this.flushes };
  }

  /**
   * The committed state so far into the file: truncate to the smallest size
   * any commit left (pages past it read as zeros unless written again), write
   * each surviving page once, in spill order, then size the file by the last
   * commit. Every page of the result must be backed by data (the snapshot or
   * a page written here): a commit claiming more pages than were ever written
   * is a corrupt backup, not a reason to make a sparse file of any size.
   */
  private async apply(): Promise<void> {
    // Before the truncation and the copies: a page spilled after it was written
    // here is newer, and must land last.
    this.direct.flush();
    const facts = await this.snapshot;
    const { pageSize } = facts;
    if (this.pageSize !== 0 && this.pageSize !== pageSize) {
      throw new CorruptBackupError(`the backup's pages are ${this.pageSize} bytes but its snapshot's are ${pageSize}`);
    }
    if (this.filePages === undefined) {
      this.filePages = facts.pages;
      this.backed = facts.pages;
    }
    const { dbSize, minDbSize } = this.map.state;
    if (minDbSize !== undefined && minDbSize < this.filePages) {
      await this.db.truncate(minDbSize * pageSize);
      this.filePages = minDbSize;
      this.backed = Math.min(this.backed, minDbSize);
    }
    const finalPages = dbSize ?? this.filePages;
    const { pgnos, slots } = this.map.bySlot();
    let above = 0;
    for (const pgno of pgnos) if (pgno > this.backed) above += 1;
    const lock = Math.floor(PENDING_BYTE / pageSize) + 1;
    const holes = finalPages - this.backed - above - (lock > this.backed && lock <= finalPages ? 1 : 0);
    if (holes > 0) {
      throw new CorruptBackupError(
        `the backup's last commit says the database has ${finalPages} pages, but only ${finalPages - holes} of them were ever written (snapshot ${facts.pages} pages)`,
      );
    }
    this.spill.flush();
    await this.copy(pgnos, slots, pageSize);
    await this.db.truncate(finalPages * pageSize);
    this.pagesWritten += pgnos.length;
    this.filePages = finalPages;
    this.backed = finalPages;
    this.map.clear();
    if (!this.map.hasPending) await this.spill.reset();
  }

  /**
   * Writes each page once. The spill is read sequentially in large windows
   * and pages are written in spill order with synchronous positional writes:
   * one small write each (adjacent pages coalesced) instead of an async read
   * and write round trip per page.
   */
  private async copy(pgnos: Uint32Array, slots: Uint32Array, pageSize: number): Promise<void> {
    const window = Buffer.allocUnsafe(Math.max(COPY_WINDOW, pageSize));
    const breather = new Breather(this.signal);
    const fd = this.db.fd;
    let i = 0;
    while (i < slots.length) {
      const windowStart = (slots[i] as number) * pageSize;
      const windowLength = Math.min(window.length, this.spill.size - windowStart);
      await this.spill.read(window, windowLength, windowStart);
      while (i < slots.length) {
        const location = (slots[i] as number) * pageSize;
        if (location + pageSize > windowStart + windowLength) break;
        const pgno = pgnos[i] as number;
        let n = 1;
        while (i + n < slots.length) {
          const nextLocation = (slots[i + n] as number) * pageSize;
          if (pgnos[i + n] !== pgno + n || nextLocation !== location + n * pageSize || nextLocation + pageSize > windowStart + windowLength) break;
          n += 1;
        }
        writeAllSync(fd, window.subarray(location - windowStart, location - windowStart + n * pageSize), (pgno - 1) * pageSize);
        i += n;
      }
      await breather.breathe();
    }
  }
}
