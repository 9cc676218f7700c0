// Chooses what to restore from a zlayer-storage replica. Nothing in this
// layout links a WAL copy to a snapshot, so the plan is a best guess with
// fallbacks: the newest snapshot (by the time in its name) with each of the
// newest WAL copies written after it (by LastModified), newest first, each
// accepted only if its frames are valid, it continues the snapshot's change
// counter and the result passes integrity_check; finally the snapshot alone.
// Pure: a listing and metadata.json in, plans out.
import { CorruptBackupError } from '../../errors.js';
import type { ListEntry, ObjectInfo } from '../../store/store.js';
import { irregularDetails, irregularNotes, irregularWarnings, nothingUsable, refuseIrregular, sortFound } from '../found.js';
import type { Listing, RestorePlan, SnapshotStep, WalStep } from '../layout.js';
import { isZlayerPlace, METADATA_KEY, parseZlayerKey, snapshotKeyIn, SNAPSHOTS_PREFIX, WAL_PREFIX } from './keys.js';
import type { MetadataState } from './metadata.js';
import { zlayerApplier } from './apply.js';
import { generationName, type Evidence, type Generation } from './proof.js';

export const LAYOUT_NAME = 'zlayer';
/** WAL copies tried on top of the snapshot before it is restored alone; each try rebuilds the database. */
export const MAX_WAL_CANDIDATES = 3;

export interface ZlayerSnapshot {
  readonly object: ObjectInfo;
  readonly stamp: string;
  readonly time: Date;
}

export interface ZlayerWal {
  readonly object: ObjectInfo;
  readonly sequence: bigint;
}

export interface ZlayerObjects {
  /** Newest first, by the time in the name. */
  readonly snapshots: ZlayerSnapshot[];
  /** Newest first, by LastModified (then sequence). */
  readonly wal: ZlayerWal[];
  /** Keys under snapshots/ and wal/ (or beginning with metadata.json) that do not follow the crate's naming. */
  readonly ignored: number;
  /** A few of them, for messages. */
  readonly ignoredKeys: string[];
}

export interface WalSelection {
  /** Written after the snapshot, newest first. */
  readonly after: ZlayerWal[];
  /** Written in the same instant (LastModified has whole seconds on S3): cannot be ordered. */
  readonly sameTime: ZlayerWal[];
  readonly before: ZlayerWal[];
}

export function classify(objects: Iterable<ObjectInfo>): ZlayerObjects {
  const snapshots: ZlayerSnapshot[] = [];
  const wal: ZlayerWal[] = [];
  let ignored = 0;
  const ignoredKeys: string[] = [];
  for (const object of objects) {
    const key = parseZlayerKey(object.key);
    if (key?.type === 'snapshot') snapshots.push({ object, stamp: key.stamp, time: key.time });
    else if (key?.type === 'wal') wal.push({ object, sequence: key.sequence });
    else if (!key && [SNAPSHOTS_PREFIX, WAL_PREFIX, METADATA_KEY].some((prefix) => object.key.startsWith(prefix))) {
      ignored += 1;
      if (ignoredKeys.length < 3) ignoredKeys.push(object.key);
    }
  }
  snapshots.sort((a, b) => b.time.getTime() - a.time.getTime());
  wal.sort(
    (a, b) =>
      b.object.lastModified.getTime() - a.object.lastModified.getTime() ||
      (b.sequence > a.sequence ? 1 : b.sequence < a.sequence ? -1 : 0) ||
      (b.object.key > a.object.key ? 1 : -1),
  );
  return { snapshots, wal, ignored, ignoredKeys };
}

/** Splits WAL copies (newest first) by when they were written relative to the snapshot object. */
export function selectWal(snapshot: ZlayerSnapshot, wal: readonly ZlayerWal[]): WalSelection {
  const at = snapshot.object.lastModified.getTime();
  return {
    after: wal.filter((w) => w.object.lastModified.getTime() > at),
    sameTime: wal.filter((w) => w.object.lastModified.getTime() === at),
    before: wal.filter((w) => w.object.lastModified.getTime() < at),
  };
}

const iso = (d: Date) => d.toISOString();
const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** What metadata.json says about the chosen snapshot: warnings, or an error when it names a newer one that is gone. */
function crossCheck(metadata: MetadataState, newest: ZlayerSnapshot, snapshots: readonly ZlayerSnapshot[]): string[] {
  const key = newest.object.key;
  if (metadata.state === 'missing') {
    return [`metadata.json is missing: the newest snapshot could not be cross-checked; restoring the newest one listed, ${key}`];
  }
  if (metadata.state === 'invalid') {
    return [`metadata.json could not be used (${metadata.reason}): the newest snapshot could not be cross-checked; restoring the newest one listed, ${key}`];
  }
  const named = metadata.metadata.latestSnapshot;
  if (named === undefined) return [`metadata.json names no latest snapshot; restoring the newest one listed, ${key}`];
  const namedKey = snapshotKeyIn(named);
  const namedTime = namedKey ? parseZlayerKey(namedKey) : undefined;
  if (!namedKey || namedTime?.type !== 'snapshot') {
    return [`metadata.json names "${named}" as the latest snapshot, which is not a snapshot key; restoring the newest one listed, ${key}`];
  }
  if (namedKey === key) return [];
  if (namedTime.time.getTime() > newest.time.getTime()) {
    throw new CorruptBackupError(
      `metadata.json names ${namedKey} as the latest snapshot, but it is not in the replica (the newest listed is ${key}); ` +
        'refusing to restore older data: find out what deleted it, or remove metadata.json to restore the newest snapshot present',
    );
  }
  const listed = snapshots.some((s) => s.object.key === namedKey);
  return [
    `metadata.json names ${namedKey} as the latest snapshot${listed ? '' : ' (no longer in the replica)'}; the newer ${key} is restored ` +
      '(metadata.json is written after each snapshot upload, so it lags when that write failed)',
  ];
}

/**
 * The restore plan: the newest snapshot with each candidate WAL copy, then
 * alone; null when the replica is empty. Irregular entries where objects
 * belong, or entries but no object of the layout, are refused (found.ts).
 */
export function planZlayer(
  entries: Iterable<ListEntry>,
  metadata: MetadataState,
  maxWalCandidates = MAX_WAL_CANDIDATES,
  evidence?: Evidence,
): RestorePlan | null {
  const found = sortFound(entries, isZlayerPlace);
  refuseIrregular(found, LAYOUT_NAME);
  const { snapshots, wal, ignored, ignoredKeys } = classify(found.objects);
  const newest = snapshots[0];
  if (!newest) {
    if (wal.length === 0 && metadata.state === 'missing') {
      if (ignored > 0 || found.elsewhere.length > 0) throw nothingUsable(LAYOUT_NAME, 'snapshots/, wal/ and metadata.json', ignoredKeys, found);
      return null;
    }
    const held = [wal.length > 0 ? plural(wal.length, 'WAL copy', 'WAL copies') : '', metadata.state !== 'missing' ? 'metadata.json' : '']
      .filter(Boolean)
      .join(' and ');
    throw new CorruptBackupError(
      `the zlayer replica holds ${held} but no snapshot (the crate may not have taken its first one yet, or it was deleted); a WAL copy cannot be restored without one`,
    );
  }
  const warnings: string[] = irregularWarnings(found);
  if (ignored > 0) warnings.push(`${plural(ignored, 'object', 'objects')} under snapshots/ or wal/ do not follow the zlayer-storage naming and were ignored`);
  warnings.push(...crossCheck(metadata, newest, snapshots));
  const uploadedLater = snapshots.find((s) => s.object.lastModified.getTime() > newest.object.lastModified.getTime());
  if (uploadedLater) {
    warnings.push(
      `snapshot ${uploadedLater.object.key} was uploaded after ${newest.object.key} but is named older; ` +
        'restoring the newest by name: is more than one writer using this prefix, or is a clock wrong?',
    );
  }
  const selection = selectWal(newest, wal);
  if (selection.sameTime.length > 0) {
    warnings.push(
      `${plural(selection.sameTime.length, 'WAL copy was', 'WAL copies were')} uploaded in the same second as snapshot ${newest.object.key} ` +
        '(S3 keeps whole seconds) and cannot be ordered after it; not used',
    );
  }

  const key = newest.object.key;
  const snapshotStep: SnapshotStep = { kind: 'snapshot', object: newest.object, compression: 'zstd' };
  const baseSource = { snapshot: key, snapshotTime: iso(newest.time) };
  const candidates = chooseCopies(newest, selection, evidence, maxWalCandidates);
  warnings.push(...candidates.leftOut);
  warnings.push(...unflushed(newest, wal));

  const withWal = candidates.apply.map(({ copy, proof }): RestorePlan => {
    const step: WalStep = {
      kind: 'wal',
      object: copy.object,
      compression: 'zstd',
      walIndex: 0,
      offset: 0,
    };
    return {
      layout: LAYOUT_NAME,
      source: {
        ...baseSource,
        wal: copy.object.key,
        walSequence: Number(copy.sequence),
        walUploaded: iso(copy.object.lastModified),
        ...(proof ? { proof } : {}),
      },
      warnings,
      steps: [snapshotStep, step],
      applier: zlayerApplier,
      description: `snapshot ${key} with WAL copy ${copy.object.key}`,
      minVerify: 'full',
    };
  });

  const tried = candidates.apply.length;
  const alone: RestorePlan = {
    layout: LAYOUT_NAME,
    source: { ...baseSource, wal: 'none' },
    warnings: [
      ...warnings,
      tried > 0
        ? `restored snapshot ${key} alone: ${
            candidates.apply[0]?.proof ? 'the WAL copy proven to continue it' : tried === 1 ? 'the WAL copy written after it' : `the ${tried} newest WAL copies written after it`
          } could not be applied` +
          `${candidates.untried > 0 ? ` (${candidates.untried} older ones were not tried)` : ''}; changes made after the snapshot was taken are not in the restored database`
        : `no WAL copy ${evidence ? 'continues' : 'was written after'} snapshot ${key}` +
          `${!evidence && selection.before.length > 0 ? ` (${plural(selection.before.length, 'older one predates', 'older ones predate')} it)` : ''}: ` +
          'restored the snapshot alone; transactions that were still only in the -wal file when it was taken are not in it',
    ],
    steps: [snapshotStep],
    applier: zlayerApplier,
    description: `snapshot ${key} alone`,
  };

  const [first, ...rest] = [...withWal, alone];
  return { ...(first as RestorePlan), ...(rest.length > 0 ? { fallbacks: rest } : {}) };
}

interface Choice {
  /** Copies to try on the snapshot, best first; `proof` says why one provably continues it. */
  readonly apply: ReadonlyArray<{ readonly copy: ZlayerWal; readonly proof?: string }>;
  readonly untried: number;
  /** A warning for every WAL generation left out, naming its newest copy and its committed frames. */
  readonly leftOut: readonly string[];
}

/**
 * Which WAL copies may go on the newest snapshot. With a proof (the snapshot
 * is the database as of the end of a WAL generation), the newest copy of the
 * generation after it, wherever it was uploaded. Without one, the copies
 * uploaded after the snapshot, as before, but not one the snapshot already
 * holds part of (the snapshot is then at or past it: applying it could roll it
 * back). Every other generation is left out, with a warning saying which copy
 * and how many committed frames: a copy uploaded before the snapshot may as
 * well be older than it, and nothing in the bucket tells which.
 */
function chooseCopies(newest: ZlayerSnapshot, selection: WalSelection, evidence: Evidence | undefined, max: number): Choice {
  const key = newest.object.key;
  if (!evidence) {
    const apply = selection.after.slice(0, max).map((copy) => ({ copy }));
    return { apply, untried: selection.after.length - apply.length, leftOut: [] };
  }
  const { proof } = evidence;
  const heldOf = (copy: ZlayerWal) => evidence.held.get(copy.object.key);
  const framesOf = (copy: ZlayerWal) => {
    const frames = evidence.frames.get(copy.object.key);
    return frames === undefined ? `${copy.sequence} frames in the file` : plural(frames, 'committed frame', 'committed frames');
  };
  const describe = (copy: ZlayerWal) => `WAL copy ${copy.object.key} (${framesOf(copy)}, uploaded ${iso(copy.object.lastModified)})`;
  const apply: Array<{ copy: ZlayerWal; proof?: string }> = [];
  const leftOut: string[] = [];
  const used = new Set<Generation>();
  // Copies are matched by key: the evidence was gathered from a listing of its own.
  const generationOf = (copy: ZlayerWal) => evidence.generations.find((x) => x.copies.some((c) => c.object.key === copy.object.key));
  let untried = 0;
  if (proof) {
    for (const g of proof.through) used.add(g);
    const next = proof.next;
    const statement =
      `snapshot ${proof.base.object.key} overlaid with ${plural(proof.through.length, 'whole WAL generation', 'whole WAL generations')} ` +
      `(${proof.through.map((g) => g.copies[0]?.object.key).join(', ')}) gives ${key} page for page: ${key} is the database as of the end of ` +
      `${generationName((proof.through[proof.through.length - 1] as Generation).generation)}`;
    if (next) {
      used.add(next);
      const copy = next.copies[0] as ZlayerWal;
      const held = heldOf(copy);
      if (held && held.held === held.written) {
        // Everything it writes is in the snapshot already.
      } else {
        apply.push({ copy, proof: `${statement}, and ${copy.object.key} holds the generation SQLite started next` });
      }
    }
  } else {
    const after = selection.after.filter((copy) => {
      const held = heldOf(copy);
      if (!held || held.held === 0) return true;
      const g = generationOf(copy);
      if (g) used.add(g);
      if (held.held < held.written) {
        leftOut.push(
          `${describe(copy)} was left out: uploaded after snapshot ${key}, but the snapshot already holds the newest version of ${held.held} of the ${held.written} pages it writes, ` +
            'so the snapshot is at or past it and applying it could roll the snapshot back',
        );
      }
      return false;
    });
    apply.push(...after.slice(0, max).map((copy) => ({ copy })));
    untried = after.length - Math.min(after.length, max);
    for (const { copy } of apply) {
      const g = generationOf(copy);
      if (g) used.add(g);
    }
  }
  for (const g of evidence.generations) {
    if (used.has(g)) continue;
    const copy = g.copies[0] as ZlayerWal;
    // A copy the snapshot holds in full or in part is older than it: nothing of it is lost.
    const held = heldOf(copy);
    if (!held || held.held > 0 || held.written === 0) continue;
    const before = copy.object.lastModified.getTime() <= newest.object.lastModified.getTime();
    const why = proof
      ? `its generation (${generationName(g.generation)}) is not the one that follows the generations ${key} is proven to hold`
      : before
        ? `it was uploaded before snapshot ${key}, and nothing in the bucket proves it continues the snapshot rather than predates it ` +
          `(${evidence.noProofReason ?? 'no proof'})`
        : `it was uploaded after snapshot ${key} but was not among the ${max} newest tried`;
    leftOut.push(`${describe(copy)} was left out: ${why}`);
  }
  for (const { copy, reason } of evidence.unreadable) leftOut.push(`WAL copy ${copy.object.key} was left out: ${reason}`);
  return { apply, untried, leftOut };
}

/**
 * The crate uploads a final snapshot when it stops with flush(); WAL copies
 * uploaded well after the newest snapshot mean it stopped without one (a
 * crash, a kill) or still runs, and commits after the last copy are not in
 * the bucket. (A second of slack: flush uploads its last copies just after
 * the final snapshot, and S3 keeps whole seconds.)
 */
function unflushed(newest: ZlayerSnapshot, wal: readonly ZlayerWal[]): string[] {
  const last = wal[0];
  if (!last) return [];
  const gap = last.object.lastModified.getTime() - newest.object.lastModified.getTime();
  if (gap <= 1000) return [];
  return [
    `the newest upload is WAL copy ${last.object.key} at ${iso(last.object.lastModified)}, ${Math.round(gap / 1000)} s after the newest snapshot: ` +
      'the replicator stopped without flush() (or is still running), and commits made after that upload, if any, are not in the bucket',
  ];
}

/** Everything the replica holds, for `sqlite-s3-restore list`. */
export function listZlayer(entries: Iterable<ListEntry>, metadata: MetadataState): Listing {
  const found = sortFound(entries, isZlayerPlace);
  const { snapshots, wal, ignored } = classify(found.objects);
  const newest = snapshots[0];
  const notes: string[] = irregularNotes(found, LAYOUT_NAME);
  if (ignored > 0) notes.push(`${plural(ignored, 'object', 'objects')} under snapshots/ or wal/ do not follow the zlayer-storage naming and were ignored`);
  if (metadata.state === 'missing') notes.push('metadata.json is missing');
  else if (metadata.state === 'invalid') notes.push(`metadata.json could not be used: ${metadata.reason}`);
  const selection = newest ? selectWal(newest, wal) : undefined;
  if (!newest) notes.push('no snapshot: nothing can be restored');
  else {
    const candidates = selection?.after.length ?? 0;
    notes.push(
      candidates > 0
        ? `a restore takes snapshot ${newest.object.key} with the newest WAL copy written after it that passes the checks ` +
            `(up to ${Math.min(candidates, MAX_WAL_CANDIDATES)} of ${candidates} tried), else the snapshot alone`
        : `a restore takes snapshot ${newest.object.key} alone: no WAL copy was written after it`,
    );
  }
  const position = (w: ZlayerWal) =>
    !selection ? 'no snapshot' : selection.after.includes(w) ? 'after newest snapshot' : selection.sameTime.includes(w) ? 'same second' : 'before';
  const details = {
    metadata: metadata.state === 'ok' ? metadata.metadata : { state: metadata.state, ...(metadata.state === 'invalid' ? { reason: metadata.reason } : {}) },
    snapshots: snapshots.map((s) => ({ key: s.object.key, time: iso(s.time), bytes: s.object.size, uploaded: iso(s.object.lastModified), newest: s === newest })),
    wal: wal.map((w) => ({ key: w.object.key, sequence: w.sequence.toString(), bytes: w.object.size, uploaded: iso(w.object.lastModified), written: position(w) })),
    ignoredObjects: ignored,
    irregularEntries: irregularDetails(found),
  };
  return {
    layout: LAYOUT_NAME,
    details,
    tables: [
      {
        title: `snapshots (${snapshots.length}, newest first)`,
        columns: ['KEY', 'TIME (NAME)', 'BYTES', 'UPLOADED'],
        rows: details.snapshots.map((s) => [s.key, s.time, String(s.bytes), s.uploaded]),
      },
      {
        title: `WAL copies (${wal.length}, newest upload first)`,
        columns: ['KEY', 'FRAMES', 'BYTES', 'UPLOADED', 'WRITTEN'],
        rows: details.wal.map((w) => [w.key, w.sequence, String(w.bytes), w.uploaded, w.written]),
      },
    ],
    notes,
  };
}
