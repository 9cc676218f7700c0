// Gathers the evidence a zlayer plan is made from: the WAL generation of every
// copy, and whether the newest snapshot is provably the database as of the
// end of some generation (an older snapshot overlaid with whole generations
// reproduces it page for page, see page-digests.ts). The plan then knows
// which copy provably continues the snapshot, whichever side of it the copy
// was uploaded on, and which copies it must leave out, and why.
import { WindowTooLarge } from '../../codec/zstd.js';
import { CorruptBackupError } from '../../errors.js';
import type { ObjectInfo, Store } from '../../store/store.js';
import { readGeneration, snapshotDigests, TooLargeToProve, walDigests, zeroPageHash } from './evidence.js';
import { containment, follows, overlayEquals, sameGeneration, type ImageDigests, type WalDigests, type WalGeneration } from './page-digests.js';
import type { ZlayerSnapshot, ZlayerWal } from './plan.js';

/** Older snapshots tried as the base of a proof, newest first. */
const MAX_BASES = 3;
/** Generations overlaid on a base at most. */
const MAX_CHAIN = 8;
/** WAL headers read at once. */
const HEADER_CONCURRENCY = 4;
/** Generations (the most recently uploaded) whose newest copy is compared with the snapshot. */
const MAX_EXAMINED = 8;

export interface Generation {
  readonly generation: WalGeneration;
  /** Its copies, newest (most frames) first. */
  readonly copies: readonly ZlayerWal[];
}

export interface Proof {
  /** The older snapshot the generations were overlaid on. */
  readonly base: ZlayerSnapshot;
  /** The generations that, overlaid on it, give the newest snapshot exactly, oldest first. */
  readonly through: readonly Generation[];
  /** The generation SQLite started after the last of them, if the bucket holds a copy of it. */
  readonly next: Generation | undefined;
}

export interface Evidence {
  readonly generations: readonly Generation[];
  /** WAL copies whose header could not be read: never used. */
  readonly unreadable: ReadonlyArray<{ readonly copy: ZlayerWal; readonly reason: string }>;
  readonly proof: Proof | undefined;
  /** Why no proof was attempted, when it was not. */
  readonly noProofReason: string | undefined;
  /** Committed frames of a generation's newest copy (known for the copies fingerprinted). */
  readonly frames: ReadonlyMap<string, number>;
  /** For copies uploaded after the newest snapshot and the newest copies of recent generations: how many of the pages each writes the snapshot already holds. */
  readonly held: ReadonlyMap<string, { readonly held: number; readonly written: number }>;
}

export const generationName = (g: WalGeneration) => `checkpoint sequence ${g.checkpointSeq}, salts ${hex(g.salt1)} ${hex(g.salt2)}`;
const hex = (n: number) => n.toString(16).padStart(8, '0');

async function pool<T, R>(items: readonly T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

export async function gatherEvidence(
  store: Store,
  snapshots: readonly ZlayerSnapshot[],
  wal: readonly ZlayerWal[],
  signal: AbortSignal,
): Promise<Evidence> {
  const unreadable: Array<{ copy: ZlayerWal; reason: string }> = [];
  const headers = await pool(wal, HEADER_CONCURRENCY, async (copy) => {
    try {
      return await readGeneration(store, copy.object, signal);
    } catch (err) {
      if (signal.aborted || !(err instanceof CorruptBackupError)) throw err;
      // A window too large to read evidence with says nothing against the copy.
      if (!(err instanceof WindowTooLarge)) unreadable.push({ copy, reason: err.message });
      return undefined;
    }
  });
  const byGeneration = new Map<string, { generation: WalGeneration; copies: ZlayerWal[] }>();
  wal.forEach((copy, i) => {
    const header = headers[i];
    if (!header) return;
    const id = `${header.checkpointSeq}:${header.salt1}:${header.salt2}`;
    const entry = byGeneration.get(id) ?? { generation: header, copies: [] };
    entry.copies.push(copy);
    byGeneration.set(id, entry);
  });
  const generations: Generation[] = [...byGeneration.values()].map((g) => ({
    generation: g.generation,
    // Within a generation the file only grows: the copy with the most frames is the newest.
    copies: [...g.copies].sort(
      (a, b) => (b.sequence > a.sequence ? 1 : b.sequence < a.sequence ? -1 : 0) || b.object.lastModified.getTime() - a.object.lastModified.getTime(),
    ),
  }));
  const frames = new Map<string, number>();
  const held = new Map<string, { held: number; written: number }>();
  const newest = snapshots[0];
  if (!newest) return { generations, unreadable, proof: undefined, noProofReason: 'no snapshot', frames, held };

  const digestsOf = new Map<string, WalDigests>();
  const walOf = async (g: Generation): Promise<WalDigests> => {
    const copy = g.copies[0] as ZlayerWal;
    let digests = digestsOf.get(copy.object.key);
    if (!digests) {
      digests = await walDigests(store, copy.object, signal);
      digestsOf.set(copy.object.key, digests);
      frames.set(copy.object.key, digests.frames);
    }
    return digests;
  };
  let target: ImageDigests;
  try {
    target = await snapshotDigests(store, newest.object, signal);
    const zero = await zeroPageHash(target.pageSize);
    // How much of each copy the snapshot already holds: every copy uploaded after
    // it, and the newest copy of the most recent generations (a copy it holds in
    // full, or in part, is older than it and worth no warning).
    const recent = [...generations]
      .sort((a, b) => (b.copies[0] as ZlayerWal).object.lastModified.getTime() - (a.copies[0] as ZlayerWal).object.lastModified.getTime())
      .slice(0, MAX_EXAMINED)
      .map((g) => g.copies[0] as ZlayerWal);
    const after = wal.filter((copy) => copy.object.lastModified.getTime() > newest.object.lastModified.getTime());
    for (const copy of new Set([...after, ...recent])) {
      const g = generations.find((x) => x.copies.includes(copy));
      if (!g) continue;
      const digests = copy === g.copies[0] ? await walOf(g) : await walDigests(store, copy.object, signal);
      frames.set(copy.object.key, digests.frames);
      held.set(copy.object.key, containment(target, digests));
    }
    const proof = await findProof(store, snapshots, generations, target, zero, walOf, signal);
    return { generations, unreadable, proof, noProofReason: proof ? undefined : 'no older snapshot overlaid with whole WAL generations gives the newest one', frames, held };
  } catch (err) {
    // Evidence is optional: a snapshot or copy that cannot be read is reported by the build that needs it.
    if (err instanceof TooLargeToProve || err instanceof WindowTooLarge) {
      const what = err instanceof WindowTooLarge ? 'its zstd windows are too large to read evidence with in the memory bound' : 'the database is too large to compare page by page';
      return { generations, unreadable, proof: undefined, noProofReason: `${what} (${err.message})`, frames, held };
    }
    if (err instanceof CorruptBackupError && !signal.aborted) {
      return { generations, unreadable, proof: undefined, noProofReason: `the evidence could not be read (${err.message})`, frames, held };
    }
    throw err;
  }
}

/** The longest chain of generations that, overlaid on the newest possible older snapshot, reproduces `target`. */
async function findProof(
  store: Store,
  snapshots: readonly ZlayerSnapshot[],
  generations: readonly Generation[],
  target: ImageDigests,
  zero: readonly [number, number],
  walOf: (g: Generation) => Promise<WalDigests>,
  signal: AbortSignal,
): Promise<Proof | undefined> {
  const nextOf = (g: Generation) => generations.find((x) => follows(g.generation, x.generation));
  // A base or a copy that cannot be read proves nothing; the others may still.
  const readable = async <T>(read: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await read();
    } catch (err) {
      if (err instanceof CorruptBackupError && !signal.aborted) return undefined;
      throw err;
    }
  };
  for (const base of snapshots.slice(1, 1 + MAX_BASES)) {
    const digests = await readable(() => snapshotDigests(store, base.object, signal));
    if (!digests) continue;
    let best: Generation[] | undefined;
    for (const start of generations) {
      const chain: Generation[] = [];
      const wals: WalDigests[] = [];
      for (let g: Generation | undefined = start; g && chain.length < MAX_CHAIN; g = nextOf(g)) {
        signal.throwIfAborted();
        const wal = await readable(() => walOf(g as Generation));
        if (!wal) break;
        chain.push(g);
        wals.push(wal);
        if (overlayEquals(digests, wals, target, zero) && (!best || chain.length > best.length)) best = [...chain];
      }
    }
    if (best) {
      const last = best[best.length - 1] as Generation;
      return { base, through: best, next: nextOf(last) };
    }
  }
  return undefined;
}

export function isProven(proof: Proof | undefined, copy: ZlayerWal): boolean {
  return proof !== undefined && proof.next !== undefined && proof.next.copies[0] === copy;
}

export function generationOf(evidence: Evidence, copy: ObjectInfo): Generation | undefined {
  return evidence.generations.find((g) => g.copies.some((c) => c.object === copy));
}

export { sameGeneration };
