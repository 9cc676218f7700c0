// Folds any number of WAL transactions into one map "page number -> where its
// newest committed version is stored", so each page is written to the
// database once however many segments touched it. Pure bookkeeping: the page
// bytes themselves live in a spill file, addressed by `location`.

export interface FoldResult {
  /** Page count after the last commit, or undefined when nothing committed. */
  readonly dbSize: number | undefined;
  /**
   * The smallest page count any commit left the database at. Pages past it
   * that no later commit rewrote must read as zeros, as in SQLite's own file.
   */
  readonly minDbSize: number | undefined;
  /** Newest location of every page still inside the database, ascending by page. */
  readonly pages: Array<[pgno: number, location: number]>;
}

export class PageFolder {
  private readonly committed = new Map<number, number>();
  private pending: Array<[number, number]> = [];
  private dbSize: number | undefined;
  private minDbSize: number | undefined;
  transactions = 0;

  /** Records one valid frame; a non-zero commitSize commits it and everything pending. */
  add(pgno: number, location: number, commitSize: number): void {
    this.pending.push([pgno, location]);
    if (commitSize > 0) this.commit(commitSize);
  }

  /** Drops frames of a transaction that never committed (lenient WAL readers). */
  discardPending(): void {
    this.pending = [];
  }

  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  result(): FoldResult {
    // A transaction may write a page past its own final size without shrinking the database.
    const limit = this.dbSize ?? Infinity;
    const pages = [...this.committed.entries()].filter(([pgno]) => pgno <= limit).sort((x, y) => x[0] - y[0]);
    return { dbSize: this.dbSize, minDbSize: this.minDbSize, pages };
  }

  private commit(size: number): void {
    for (const [pgno, location] of this.pending) this.committed.set(pgno, location);
    this.pending = [];
    this.transactions += 1;
    if (this.dbSize === undefined || size < this.dbSize) {
      // The database shrank (VACUUM, auto-vacuum), or may have since the
      // snapshot: pages past the end are gone, even ones this commit wrote.
      for (const pgno of this.committed.keys()) if (pgno > size) this.committed.delete(pgno);
    }
    this.dbSize = size;
    this.minDbSize = this.minDbSize === undefined ? size : Math.min(this.minDbSize, size);
  }
}
