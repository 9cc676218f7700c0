// Which version of each page survives, however many transactions touched it:
// page number -> slot of its newest committed copy in the spill file. Pure
// bookkeeping in typed arrays (an open-addressing hash table, 8 bytes an
// entry at half load), so a transaction touching a million pages costs a few
// MiB, not the hundreds a Map of boxed entries did.
//
// Frames are recorded at once, or, while `holding` (a copied -wal file read
// leniently, whose last transaction may never have committed), kept pending
// until their commit frame. A commit that leaves the database smaller drops
// every page past its end, as SQLite's own file would.

const EMPTY = 0; // page numbers start at 1
/** The value of a page whose newest copy went straight into the file. */
const SUPERSEDED = 0xffffffff;

export interface CommitState {
  /** Page count after the last commit, or undefined before any. */
  readonly dbSize: number | undefined;
  /** The smallest page count any commit left the database at: pages past it not written again read as zeros. */
  readonly minDbSize: number | undefined;
}

export class PageMap {
  private keys = new Uint32Array(1024);
  private values = new Uint32Array(1024);
  private count = 0;
  /** Largest page number in the table (an upper bound): a commit at or above it drops nothing. */
  private maxPgno = 0;
  private pendingPgnos = new Uint32Array(256);
  private pendingSlots = new Uint32Array(256);
  private pendingCount = 0;
  private holding = false;
  private size: number | undefined;
  private minSize: number | undefined;
  /** Commits seen since the map was created (not reset by clear()). */
  transactions = 0;

  /** Pages in the table (superseded ones too: they still take room). */
  get entries(): number {
    return this.count;
  }

  get hasPending(): boolean {
    return this.pendingCount > 0;
  }

  get isHolding(): boolean {
    return this.holding;
  }

  get state(): CommitState {
    return { dbSize: this.size, minDbSize: this.minSize };
  }

  /** While on, frames wait for their commit (see discardPending()). */
  hold(on: boolean): void {
    this.holding = on;
  }

  /** A page of the current transaction, stored at `slot` of the spill. */
  write(pgno: number, slot: number): void {
    if (!this.holding) {
      this.set(pgno, slot);
      return;
    }
    if (this.pendingCount === this.pendingPgnos.length) {
      this.pendingPgnos = grow(this.pendingPgnos);
      this.pendingSlots = grow(this.pendingSlots);
    }
    this.pendingPgnos[this.pendingCount] = pgno;
    this.pendingSlots[this.pendingCount] = slot;
    this.pendingCount += 1;
  }

  /** Commits the current transaction, leaving the database at `size` pages. */
  commit(size: number): void {
    for (let i = 0; i < this.pendingCount; i += 1) this.set(this.pendingPgnos[i] as number, this.pendingSlots[i] as number);
    this.pendingCount = 0;
    this.transactions += 1;
    // Pages past the end are gone, even ones this commit wrote.
    if (size < this.maxPgno) this.dropAbove(size);
    this.size = size;
    this.minSize = this.minSize === undefined ? size : Math.min(this.minSize, size);
  }

  /**
   * A newer copy of `pgno` was written into the file itself: the committed
   * one here must not be copied over it. Only outside a held transaction.
   */
  supersede(pgno: number): void {
    if (this.count === 0) return;
    const i = this.find(pgno);
    if (this.keys[i] === pgno) this.values[i] = SUPERSEDED;
  }

  /** Drops frames of a transaction that never committed. */
  discardPending(): void {
    this.pendingCount = 0;
  }

  /** Forgets every committed page and the sizes (they have been applied); pending frames stay. */
  clear(): void {
    this.keys = new Uint32Array(1024);
    this.values = new Uint32Array(1024);
    this.count = 0;
    this.maxPgno = 0;
    this.size = undefined;
    this.minSize = undefined;
  }

  /** Every page still to be copied with its slot, ascending by slot (the spill is then read front to back). */
  bySlot(): { readonly pgnos: Uint32Array; readonly slots: Uint32Array } {
    let live = 0;
    for (let i = 0; i < this.keys.length; i += 1) if (this.keys[i] !== EMPTY && this.values[i] !== SUPERSEDED) live += 1;
    const pgnos = new Uint32Array(live);
    const slots = new Uint32Array(live);
    let n = 0;
    for (let i = 0; i < this.keys.length; i += 1) {
      const key = this.keys[i] as number;
      const slot = this.values[i] as number;
      if (key === EMPTY || slot === SUPERSEDED) continue;
      pgnos[n] = key;
      slots[n] = slot;
      n += 1;
    }
    return sortBySlot(pgnos, slots);
  }

  private set(pgno: number, slot: number): void {
    if ((this.count + 1) * 2 > this.keys.length) this.rehash(this.keys.length * 2, Infinity);
    const i = this.find(pgno);
    if (this.keys[i] === EMPTY) {
      this.keys[i] = pgno;
      this.count += 1;
      if (pgno > this.maxPgno) this.maxPgno = pgno;
    }
    this.values[i] = slot;
  }

  /** The entry holding `pgno`, or the empty one where it would go. */
  private find(pgno: number): number {
    const mask = this.keys.length - 1;
    let i = hash(pgno) & mask;
    for (let key = this.keys[i]; key !== pgno && key !== EMPTY; key = this.keys[i]) i = (i + 1) & mask;
    return i;
  }

  private dropAbove(size: number): void {
    this.rehash(this.keys.length, size);
    this.maxPgno = Math.min(this.maxPgno, size);
  }

  /** Rebuilds the table with `capacity` slots, keeping pages up to `limit`. */
  private rehash(capacity: number, limit: number): void {
    const { keys, values } = this;
    this.keys = new Uint32Array(capacity);
    this.values = new Uint32Array(capacity);
    this.count = 0;
    const mask = capacity - 1;
    for (let j = 0; j < keys.length; j += 1) {
      const key = keys[j] as number;
      if (key === EMPTY || key > limit) continue;
      let i = hash(key) & mask;
      while (this.keys[i] !== EMPTY) i = (i + 1) & mask;
      this.keys[i] = key;
      this.values[i] = values[j] as number;
      this.count += 1;
    }
  }
}

/** Fibonacci hashing: neighbouring page numbers land far apart. */
function hash(pgno: number): number {
  return Math.imul(pgno, 0x9e3779b1) >>> 0;
}

function grow(array: Uint32Array): Uint32Array<ArrayBuffer> {
  const bigger = new Uint32Array(array.length * 2);
  bigger.set(array);
  return bigger;
}

/** Stable LSD radix sort of (pgno, slot) pairs by slot, two 16-bit passes. */
export function sortBySlot(pgnos: Uint32Array, slots: Uint32Array): { pgnos: Uint32Array; slots: Uint32Array } {
  const n = slots.length;
  let srcSlots: Uint32Array = slots;
  let srcPgnos: Uint32Array = pgnos;
  let dstSlots: Uint32Array = new Uint32Array(n);
  let dstPgnos: Uint32Array = new Uint32Array(n);
  const counts = new Uint32Array(65536);
  for (const shift of [0, 16]) {
    counts.fill(0);
    for (let i = 0; i < n; i += 1) counts[((srcSlots[i] as number) >>> shift) & 0xffff]! += 1;
    let sum = 0;
    for (let b = 0; b < 65536; b += 1) {
      const c = counts[b] as number;
      counts[b] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i += 1) {
      const slot = srcSlots[i] as number;
      const at = counts[(slot >>> shift) & 0xffff]!++;
      dstSlots[at] = slot;
      dstPgnos[at] = srcPgnos[i] as number;
    }
    [srcSlots, dstSlots] = [dstSlots, srcSlots];
    [srcPgnos, dstPgnos] = [dstPgnos, srcPgnos];
  }
  return { pgnos: srcPgnos, slots: srcSlots };
}
