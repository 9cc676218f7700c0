// Chooses what to restore from a listing of a Litestream v0.3 replica. Pure;
// fails closed on ambiguity and gaps.
//
// latest: the most recently updated generation, its newest snapshot, and
// every WAL segment from the snapshot's index on.
//
// generation (+ index): that generation; its newest snapshot at or before the
// index, and its WAL from there up to and including every segment of the
// index. "exact" needs the index in the generation (a snapshot or WAL
// segments at it); an index past the generation's last is reachable only
// with at-or-before (the whole generation), one before its oldest snapshot
// never.
//
// time: Litestream v0.3 records time only as the objects' S3 LastModified (or
// file mtime), which S3 reports in whole seconds, so times are compared to
// the second. The restore is the state as of the newest object at or before
// the target: the generation whose newest such object is newest, its newest
// snapshot at or before the target, and its WAL segments, in order, up to the
// first one uploaded after the target. Litestream uploads every sync interval
// while it runs, so within a generation's covered range (its oldest snapshot
// to its last object) that is the database as of the target, to the sync
// interval. "exact" therefore accepts any time in that range; a time after the
// generation's last object (Litestream may have stopped, writes may be lost)
// needs at-or-before, and one before every snapshot is never reachable.
import { CorruptBackupError, TargetUnreachableError } from '../../errors.js';
import type { ListEntry, ObjectInfo } from '../../store/store.js';
import { irregularDetails, irregularNotes, irregularWarnings, nothingUsable, refuseIrregular, sortFound } from '../found.js';
import type { Listing, ListingTable, RestorePlan, WalStep } from '../layout.js';
import { describeTarget, type GenerationTarget, type RestoreTarget, type TimeTarget } from '../target.js';
import { v3Applier } from './apply.js';
import { isV3Place, parseV3Key, snapshotKey, walKey } from './keys.js';

export const LAYOUT_NAME = 'litestream-v0.3';

interface Snapshot {
  readonly index: number;
  readonly object: ObjectInfo;
}

interface Segment {
  readonly index: number;
  readonly offset: number;
  readonly object: ObjectInfo;
}

export interface Generation {
  readonly id: string;
  readonly snapshots: Snapshot[];
  readonly wal: Segment[];
  /** Newest LastModified of any of its objects, in ms. */
  updatedAt: number;
}

export interface V3Listing {
  readonly plan: RestorePlan | null;
  /** Keys under generations/ that are not part of the layout. */
  readonly ignored: number;
}

/** The listing grouped by generation; snapshots by index, WAL by (index, offset), both ascending. */
export function groupV3(objects: Iterable<ObjectInfo>): { generations: Generation[]; ignored: number; ignoredKeys: string[] } {
  const generations = new Map<string, Generation>();
  let ignored = 0;
  const ignoredKeys: string[] = [];
  for (const object of objects) {
    const key = parseV3Key(object.key);
    if (!key) {
      ignored += 1;
      if (ignoredKeys.length < 3) ignoredKeys.push(object.key);
      continue;
    }
    let gen = generations.get(key.generation);
    if (!gen) {
      gen = { id: key.generation, snapshots: [], wal: [], updatedAt: 0 };
      generations.set(key.generation, gen);
    }
    gen.updatedAt = Math.max(gen.updatedAt, object.lastModified.getTime());
    if (key.type === 'snapshot') gen.snapshots.push({ index: key.index, object });
    else gen.wal.push({ index: key.index, offset: key.offset, object });
  }
  for (const gen of generations.values()) {
    gen.snapshots.sort((a, b) => a.index - b.index);
    gen.wal.sort((a, b) => a.index - b.index || a.offset - b.offset);
  }
  return { generations: [...generations.values()], ignored, ignoredKeys };
}

/**
 * The plan for `target` from a listing of generations/; null when it is empty.
 * Irregular entries where objects belong, or entries but no generation, are
 * refused (found.ts).
 */
export function planV3(entries: Iterable<ListEntry>, target: RestoreTarget = 'latest'): V3Listing {
  const found = sortFound(entries, isV3Place);
  refuseIrregular(found, LAYOUT_NAME);
  const { generations, ignored, ignoredKeys } = groupV3(found.objects);
  if (generations.length === 0) {
    if (ignored > 0 || found.elsewhere.length > 0) throw nothingUsable(LAYOUT_NAME, 'generations/', ignoredKeys, found);
    return { plan: null, ignored };
  }
  const warnings: string[] = irregularWarnings(found);
  if (ignored > 0) warnings.push(`${ignored} object(s) under generations/ do not follow the Litestream v0.3 naming and were ignored`);

  let plan: RestorePlan;
  if (target === 'latest') plan = planLatest(generations, warnings);
  else if (target.kind === 'generation') plan = planGenerationTarget(generations, target, warnings);
  else if (target.kind === 'time') plan = planTime(generations, target, warnings);
  else throw new CorruptBackupError(`internal: the ${LAYOUT_NAME} layout has no ${target.kind} targets`);
  return { plan, ignored };
}

function planLatest(generations: Generation[], warnings: string[]): RestorePlan {
  const ranked = [...generations].sort((a, b) => b.updatedAt - a.updatedAt);
  const newest = ranked[0] as Generation;
  const runnerUp = ranked[1];
  if (runnerUp && runnerUp.updatedAt === newest.updatedAt) {
    throw new CorruptBackupError(
      `ambiguous backup: generations ${newest.id} and ${runnerUp.id} were both last updated at ${iso(newest.updatedAt)}; is more than one Litestream writing to this path?`,
    );
  }
  if (newest.snapshots.length === 0) {
    throw new CorruptBackupError(
      `newest generation ${newest.id} has no snapshot yet (Litestream may still be uploading it); refusing to fall back to an older generation`,
    );
  }
  const snapshot = newestSnapshot(newest, newest.snapshots);
  return buildPlan(newest, snapshot, newest.wal.filter((w) => w.index >= snapshot.index), warnings);
}

function planGenerationTarget(generations: Generation[], target: GenerationTarget, warnings: string[]): RestorePlan {
  const gen = generations.find((g) => g.id === target.generation);
  if (!gen) {
    const known = [...generations].sort((a, b) => a.updatedAt - b.updatedAt).map((g) => g.id);
    throw new TargetUnreachableError(
      `generation ${target.generation} is not in the replica; it holds generation(s) ${known.slice(-5).join(', ')}${known.length > 5 ? ' and older' : ''} (see sqlite-s3-restore list)`,
    );
  }
  if (gen.snapshots.length === 0) {
    throw new TargetUnreachableError(`generation ${gen.id} has no snapshot, so nothing in it can be restored`);
  }
  const wanted = target.index;
  if (wanted === undefined) {
    const snapshot = newestSnapshot(gen, gen.snapshots);
    const plan = buildPlan(gen, snapshot, gen.wal.filter((w) => w.index >= snapshot.index), warnings);
    return withTarget(plan, target, { reachedIndex: hex8(reachedIndex(plan, snapshot)) });
  }
  const eligible = gen.snapshots.filter((s) => s.index <= wanted);
  if (eligible.length === 0) {
    throw new TargetUnreachableError(
      `generation ${gen.id} has no snapshot at or before WAL index ${hex8(wanted)}: its oldest snapshot is at index ${hex8((gen.snapshots[0] as Snapshot).index)}`,
    );
  }
  const snapshot = newestSnapshot(gen, eligible);
  const plan = buildPlan(gen, snapshot, gen.wal.filter((w) => w.index >= snapshot.index && w.index <= wanted), warnings);
  const reached = reachedIndex(plan, snapshot);
  if (reached < wanted) {
    const last = Math.max(gen.wal[gen.wal.length - 1]?.index ?? 0, gen.snapshots[gen.snapshots.length - 1]?.index ?? 0);
    if (wanted <= last) {
      // Later indexes exist, so the ones in between were lost.
      throw new CorruptBackupError(`missing WAL segment ${walKey(gen.id, reached + 1, 0)} (WAL index ${reached + 1} is absent)`);
    }
    if (target.match === 'exact') {
      throw new TargetUnreachableError(
        `WAL index ${hex8(wanted)} is not in the backup: generation ${gen.id} ends at WAL index ${hex8(last)}; set SQLITE_RESTORE_TARGET_MATCH=at-or-before to restore up to it`,
      );
    }
  }
  return withTarget(plan, target, { reachedIndex: hex8(reached) });
}

function planTime(generations: Generation[], target: TimeTarget, warnings: string[]): RestorePlan {
  const t = target.time;
  const candidates = generations
    .map((gen) => {
      const snapshots = gen.snapshots.filter((s) => notAfter(s.object, t));
      const newestBefore = [...gen.snapshots, ...gen.wal].reduce(
        (m, o) => (notAfter(o.object, t) ? Math.max(m, o.object.lastModified.getTime()) : m),
        -Infinity,
      );
      return { gen, snapshots, newestBefore };
    })
    .filter((c) => c.snapshots.length > 0)
    .sort((a, b) => b.newestBefore - a.newestBefore);
  const chosen = candidates[0];
  if (!chosen) {
    const oldest = generations
      .flatMap((g) => g.snapshots)
      .reduce<Snapshot | undefined>((o, s) => (!o || s.object.lastModified < o.object.lastModified ? s : o), undefined);
    throw new TargetUnreachableError(
      oldest
        ? `no snapshot at or before ${iso(t)}: the oldest one is ${oldest.object.key} from ${iso(oldest.object.lastModified.getTime())}`
        : `no generation has a snapshot yet, so nothing at or before ${iso(t)} can be restored`,
    );
  }
  const runnerUp = candidates[1];
  if (runnerUp && runnerUp.newestBefore === chosen.newestBefore) {
    throw new CorruptBackupError(
      `ambiguous backup: generations ${chosen.gen.id} and ${runnerUp.gen.id} both have objects from ${iso(chosen.newestBefore)}; is more than one Litestream writing to this path?`,
    );
  }
  const { gen } = chosen;
  if (target.match === 'exact' && second(t) > second(gen.updatedAt)) {
    throw new TargetUnreachableError(
      `${iso(t)} is after the last object of generation ${gen.id} (uploaded ${iso(gen.updatedAt)}): the backup cannot tell what the database held then (Litestream may have stopped); set SQLITE_RESTORE_TARGET_MATCH=at-or-before to restore the state as of ${iso(gen.updatedAt)}`,
    );
  }
  const snapshot = newestSnapshot(gen, chosen.snapshots);
  const following = gen.wal.filter((w) => w.index >= snapshot.index);
  const cut = following.findIndex((w) => !notAfter(w.object, t));
  const segments = cut < 0 ? following : following.slice(0, cut);
  const stray = cut < 0 ? undefined : following.slice(cut).find((w) => notAfter(w.object, t));
  if (stray) {
    warnings.push(
      `object times are not in WAL order: ${following[cut]?.object.key} is from after ${iso(t)} but the later ${stray.object.key} is not; restored up to the first`,
    );
  }
  const plan = buildPlan(gen, snapshot, segments, warnings);
  const reached = segments.reduce((m, w) => Math.max(m, w.object.lastModified.getTime()), snapshot.object.lastModified.getTime());
  return withTarget(plan, target, { generation: gen.id, reachedTime: iso(reached), reachedIndex: hex8(reachedIndex(plan, snapshot)) });
}

/** The highest-index snapshot of `among`, refusing two at one index. */
function newestSnapshot(gen: Generation, among: readonly Snapshot[]): Snapshot {
  const sorted = [...among].sort((a, b) => b.index - a.index);
  const snapshot = sorted[0] as Snapshot;
  if (sorted[1]?.index === snapshot.index) {
    throw new CorruptBackupError(`generation ${gen.id} holds two snapshots for index ${snapshot.index}`);
  }
  return snapshot;
}

/** The snapshot, then `wal` (sorted, from the snapshot's index on), checked to be an unbroken chain. */
function buildPlan(gen: Generation, snapshot: Snapshot, wal: readonly Segment[], warnings: string[]): RestorePlan {
  const steps: WalStep[] = [];
  let expectedIndex = snapshot.index;
  for (const w of wal) {
    const previous = steps[steps.length - 1];
    if (previous && previous.walIndex === w.index) {
      if (previous.offset === w.offset) {
        throw new CorruptBackupError(`generation ${gen.id} holds two WAL segments for index ${w.index} offset ${w.offset}`);
      }
    } else {
      // First segment of a new WAL index: indexes must follow each other and start at offset 0.
      if (previous) expectedIndex = previous.walIndex + 1;
      if (w.index !== expectedIndex) {
        throw new CorruptBackupError(`missing WAL segment ${walKey(gen.id, expectedIndex, 0)} (WAL index ${expectedIndex} is absent)`);
      }
      if (w.offset !== 0) throw new CorruptBackupError(`missing WAL segment ${walKey(gen.id, w.index, 0)}`);
    }
    steps.push({ kind: 'wal', object: w.object, compression: 'lz4', walIndex: w.index, offset: w.offset });
  }
  return {
    layout: LAYOUT_NAME,
    source: { generation: gen.id, snapshotIndex: snapshot.index, snapshot: snapshotKey(gen.id, snapshot.index) },
    warnings,
    steps: [{ kind: 'snapshot', object: snapshot.object, compression: 'lz4' }, ...steps],
    applier: v3Applier(gen.id),
  };
}

function reachedIndex(plan: RestorePlan, snapshot: Snapshot): number {
  const last = plan.steps[plan.steps.length - 1];
  return last?.kind === 'wal' ? last.walIndex : snapshot.index;
}

function withTarget(plan: RestorePlan, target: RestoreTarget, reached: Record<string, string | number>): RestorePlan {
  const asked = describeTarget(target);
  return { ...plan, target: { ...(asked === 'latest' ? {} : asked), ...reached } };
}

/** Whether the object was uploaded at or before `t`, to the second (S3's LastModified resolution). */
function notAfter(object: ObjectInfo, t: number): boolean {
  return second(object.lastModified.getTime()) <= second(t);
}

const second = (ms: number) => Math.floor(ms / 1000);
const iso = (ms: number) => new Date(ms).toISOString();
const hex8 = (n: number) => n.toString(16).padStart(8, '0');

/** Every generation with its snapshots and WAL indexes, oldest update first. */
export function listV3(entries: Iterable<ListEntry>): Listing {
  const found = sortFound(entries, isV3Place);
  const { generations, ignored } = groupV3(found.objects);
  generations.sort((a, b) => a.updatedAt - b.updatedAt);
  const newest = generations[generations.length - 1];
  const notes: string[] = irregularNotes(found, LAYOUT_NAME);
  if (ignored > 0) notes.push(`${ignored} object(s) under generations/ do not follow the Litestream v0.3 naming and were ignored`);
  const tables: ListingTable[] = [];
  const details = generations.map((gen) => {
    const indexes = new Map<number, Segment[]>();
    for (const w of gen.wal) {
      const segments = indexes.get(w.index);
      if (segments) segments.push(w);
      else indexes.set(w.index, [w]);
    }
    const wal = [...indexes].map(([index, segments]) => {
      const times = segments.map((s) => s.object.lastModified.getTime());
      return {
        index: hex8(index),
        segments: segments.length,
        bytes: segments.reduce((n, s) => n + s.object.size, 0),
        firstTime: iso(times.reduce((a, b) => Math.min(a, b))),
        lastTime: iso(times.reduce((a, b) => Math.max(a, b))),
      };
    });
    const snapshots = gen.snapshots.map((s) => ({ index: hex8(s.index), bytes: s.object.size, time: iso(s.object.lastModified.getTime()) }));
    const first = gen.snapshots.reduce<number | undefined>((m, s) => Math.min(m ?? Infinity, s.object.lastModified.getTime()), undefined);
    if (first === undefined) notes.push(`generation ${gen.id} has no snapshot: nothing in it can be restored`);
    const restorable = first === undefined ? null : { from: iso(first), to: iso(gen.updatedAt) };
    tables.push({
      title:
        `generation ${gen.id}${gen === newest ? ' (newest)' : ''}: updated ${iso(gen.updatedAt)}, ` +
        (restorable ? `restorable from ${restorable.from} to ${restorable.to}` : 'not restorable (no snapshot)'),
      columns: ['KIND', 'INDEX', 'OBJECTS', 'BYTES', 'FIRST TIME', 'LAST TIME'],
      rows: [
        ...snapshots.map((s) => ['snapshot', s.index, '1', String(s.bytes), s.time, s.time]),
        ...wal.map((w) => ['wal', w.index, String(w.segments), String(w.bytes), w.firstTime, w.lastTime]),
      ],
    });
    return { generation: gen.id, newest: gen === newest, updatedAt: iso(gen.updatedAt), restorable, snapshots, wal };
  });
  return { layout: LAYOUT_NAME, details: { generations: details, ignoredObjects: ignored, irregularEntries: irregularDetails(found) }, tables, notes };
}
