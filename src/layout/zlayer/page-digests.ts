// Page-by-page fingerprints of zlayer objects, to prove from the bucket alone
// whether a WAL copy continues a snapshot. Pure: digests in, verdicts out.
//
// A snapshot is a copy of the main database file; a WAL copy holds one WAL
// generation (salts, checkpoint sequence), a committed prefix of its frames.
// SQLite changes the main file only by checkpoints, copying WAL frames in
// order, and starts a new generation (checkpoint sequence + 1, salt-1 + 1)
// only once the previous one is entirely in the main file. So when an older
// snapshot overlaid with whole WAL generations, one after the other, gives
// exactly the newest snapshot, the newest snapshot is the database as of the
// end of the last of them, and the generation that follows it continues it.
// Without such a proof, a copy uploaded before the snapshot may as well be
// older than it (a checkpoint may have put newer pages into the main file).

/** Two independent 32-bit hashes of a page: 64 bits, no collision in practice. */
export type PageHash = readonly [number, number];

/** Fingerprints of a database image: one PageHash per page, pages 1..pages. */
export class ImageDigests {
  constructor(
    readonly pageSize: number,
    /** hi/lo of page p at index p - 1. */
    readonly hi: Uint32Array,
    readonly lo: Uint32Array,
  ) {}

  get pages(): number {
    return this.hi.length;
  }

  hash(pgno: number): PageHash | undefined {
    return pgno >= 1 && pgno <= this.hi.length ? [this.hi[pgno - 1] as number, this.lo[pgno - 1] as number] : undefined;
  }
}

export interface WalGeneration {
  readonly checkpointSeq: number;
  readonly salt1: number;
  readonly salt2: number;
}

/** What one WAL copy commits: the newest committed version of each page, and the sizes its commits set. */
export interface WalDigests {
  readonly generation: WalGeneration;
  readonly pageSize: number;
  /** Committed frames (the copy's valid prefix up to its last commit). */
  readonly frames: number;
  /** Database size in pages after its last commit; undefined when it commits nothing. */
  readonly dbSize: number | undefined;
  /** The smallest size any of its commits left: pages past it read as zeros unless written again. */
  readonly minDbSize: number | undefined;
  /** Page number -> hash of its newest committed version (pages past the last commit's size dropped). */
  readonly pages: ReadonlyMap<number, PageHash>;
}

/** Whether `next` is the generation SQLite starts right after `previous` (it does so only once `previous` is checkpointed). */
export function follows(previous: WalGeneration, next: WalGeneration): boolean {
  return next.checkpointSeq === ((previous.checkpointSeq + 1) >>> 0) && next.salt1 === ((previous.salt1 + 1) >>> 0);
}

export function sameGeneration(a: WalGeneration, b: WalGeneration): boolean {
  return a.checkpointSeq === b.checkpointSeq && a.salt1 === b.salt1 && a.salt2 === b.salt2;
}

/**
 * Whether `base` overlaid with `wals` (in order, each a whole generation)
 * gives exactly `target`: the same size, and every page the same. Pages no
 * WAL writes come from `base`; a page past a commit's size reads as zeros
 * unless a later commit wrote it again.
 */
export function overlayEquals(base: ImageDigests, wals: readonly WalDigests[], target: ImageDigests, zero: PageHash): boolean {
  if (wals.some((w) => w.pageSize !== target.pageSize) || base.pageSize !== target.pageSize) return false;
  let size = base.pages;
  for (const wal of wals) size = wal.dbSize ?? size;
  if (size !== target.pages) return false;
  for (let pgno = 1; pgno <= size; pgno += 1) {
    const expected = overlayPage(base, wals, pgno, zero);
    const actual = target.hash(pgno) as PageHash;
    if (expected[0] !== actual[0] || expected[1] !== actual[1]) return false;
  }
  return true;
}

function overlayPage(base: ImageDigests, wals: readonly WalDigests[], pgno: number, zero: PageHash): PageHash {
  // The newest WAL that writes the page, unless a commit after it cut the database below it.
  for (let i = wals.length - 1; i >= 0; i -= 1) {
    const wal = wals[i] as WalDigests;
    const hash = wal.pages.get(pgno);
    if (hash) return hash;
    if (wal.minDbSize !== undefined && wal.minDbSize < pgno) return zero;
  }
  return base.hash(pgno) ?? zero;
}

/** How much of a WAL copy the image already holds: pages whose newest committed version it has, of those the copy writes. */
export function containment(image: ImageDigests, wal: WalDigests): { readonly held: number; readonly written: number } {
  let held = 0;
  for (const [pgno, hash] of wal.pages) {
    const mine = image.hash(pgno);
    if (mine && mine[0] === hash[0] && mine[1] === hash[1]) held += 1;
  }
  return { held, written: wal.pages.size };
}
