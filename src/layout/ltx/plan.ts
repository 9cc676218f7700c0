// Chooses what to restore from a listing of a Litestream v0.5 replica: the
// newest level-9 snapshot, then LTX files that extend the restored TXID range
// without a hole, preferring at each step the file reaching furthest (so one
// compacted file replaces many small ones). Pure; fails closed on gaps.
//
// A file may start before the range restored so far: its pages are the
// newest versions as of its max TXID, so applying it over a later state is
// still correct. It may not start after it: the TXIDs in between are lost.
//
// To a TXID: the same walk using only files that end at or before it, from
// the newest snapshot at or before it. The database can only be rebuilt at
// the end of some file, so "exact" needs a chain of files ending precisely at
// the target; where compaction merged it into a larger file (and the smaller
// ones are gone), or it is past the newest file, only at-or-before restores,
// to the newest reachable end below it. A hole below the target is exit 65
// either way: the state there is lost, not merely coarse.
//
// To a time: every LTX header carries the time (ms) its max TXID was captured
// (compactions keep the newest input's), so the restore goes to the newest
// file end whose time is at or before the target. "exact" needs the state at
// the target to be known: the next TXID must end a file of its own, stamped
// after the target (to the sync interval, as Litestream writes a file per
// sync); if compaction merged it with later ones, or the target is after the
// newest file, the state at the target is unknown, and only at-or-before
// restores. Before the oldest restorable state nothing does.
import { CorruptBackupError, TargetUnreachableError } from '../../errors.js';
import type { ListEntry, ObjectInfo } from '../../store/store.js';
import { irregularDetails, irregularNotes, irregularWarnings, nothingUsable, refuseIrregular, sortFound, type Found } from '../found.js';
import type { Listing, ListingTable, LtxStep, RestorePlan } from '../layout.js';
import { describeTarget, type RestoreTarget, type TimeTarget, type TxidTarget } from '../target.js';
import { ltxApplier } from './apply.js';
import { isLtxPlace, ltxKey, parseLtxKey, SNAPSHOT_LEVEL, txidHex, type KeyStyle } from './keys.js';

export const LAYOUT_NAME = 'litestream-v0.5';

export interface LtxFile {
  readonly object: ObjectInfo;
  readonly level: number;
  readonly minTxid: bigint;
  readonly maxTxid: bigint;
}

export interface LtxListing {
  readonly plan: RestorePlan | null;
  /** Keys listed that are not LTX files of the layout. */
  readonly ignored: number;
}

interface Parsed {
  readonly files: LtxFile[];
  readonly style: KeyStyle;
  readonly ignored: number;
  readonly found: Found;
  readonly warnings: string[];
  /** Level-9 files starting at TXID 1. */
  readonly snapshots: LtxFile[];
  /** Level-9 files that do not start at TXID 1 (ignored). */
  readonly strays: LtxFile[];
  /** Levels 0-8, by min TXID ascending, then max descending, then level descending. */
  readonly incremental: LtxFile[];
}

interface Unparsed {
  readonly ignored: number;
  readonly ignoredKeys: string[];
  readonly found: Found;
}

function parse(entries: Iterable<ListEntry>): Parsed | Unparsed {
  const found = sortFound(entries, isLtxPlace);
  const files: LtxFile[] = [];
  const styles = new Set<KeyStyle>();
  let ignored = 0;
  const ignoredKeys: string[] = [];
  for (const object of found.objects) {
    const key = parseLtxKey(object.key);
    if (!key) {
      ignored += 1;
      if (ignoredKeys.length < 3) ignoredKeys.push(object.key);
      continue;
    }
    styles.add(key.style);
    files.push({ object, level: key.level, minTxid: key.minTxid, maxTxid: key.maxTxid });
  }
  if (files.length === 0) return { ignored, ignoredKeys, found };
  if (styles.size > 1) {
    throw new CorruptBackupError(
      'ambiguous backup: the replica holds LTX files both under ltx/<level>/ (file replica naming) and under <level as 4 hex digits>/ (S3 naming); is more than one Litestream writing here?',
    );
  }
  const warnings: string[] = irregularWarnings(found);
  if (ignored > 0) warnings.push(`${ignored} object(s) do not follow the Litestream v0.5 LTX naming and were ignored`);
  // Level 9 holds snapshots only, which always start at TXID 1.
  const strays = files.filter((f) => f.level === SNAPSHOT_LEVEL && f.minTxid !== 1n);
  if (strays.length > 0) {
    warnings.push(`${strays.length} level-9 file(s) do not start at TXID 1 and were ignored, e.g. ${strays[0]?.object.key}`);
  }
  return {
    files,
    style: [...styles][0] as KeyStyle,
    ignored,
    found,
    warnings,
    strays,
    snapshots: files.filter((f) => f.level === SNAPSHOT_LEVEL && f.minTxid === 1n),
    incremental: files
      .filter((f) => f.level < SNAPSHOT_LEVEL)
      .sort((a, b) => compare(a.minTxid, b.minTxid) || compare(b.maxTxid, a.maxTxid) || b.level - a.level),
  };
}

/** The greedy walk from the newest snapshot, using only files ending at or before `limit` when given. */
function walk(p: Parsed, limit: bigint | undefined): { chosen: LtxFile[]; current: bigint } {
  const fits = (f: LtxFile) => limit === undefined || f.maxTxid <= limit;
  const chosen: LtxFile[] = [];
  let current = 0n;
  const snapshot = p.snapshots.reduce<LtxFile | undefined>((best, f) => (fits(f) && (!best || f.maxTxid > best.maxTxid) ? f : best), undefined);
  if (snapshot) {
    chosen.push(snapshot);
    current = snapshot.maxTxid;
  }
  // Files are sorted by where they start, so each is looked at once: a file
  // passed over for one that reaches further (or past the limit) is never useful later.
  let i = 0;
  for (;;) {
    let best: LtxFile | undefined;
    while (i < p.incremental.length && (p.incremental[i] as LtxFile).minTxid <= current + 1n) {
      const f = p.incremental[i] as LtxFile;
      if (f.maxTxid > current && fits(f) && (!best || better(f, best))) best = f;
      i += 1;
    }
    if (!best) break;
    chosen.push(best);
    current = best.maxTxid;
  }
  return { chosen, current };
}

function noSnapshot(p: Parsed): CorruptBackupError {
  const oldest = p.incremental[0] ?? (p.strays[0] as LtxFile);
  return new CorruptBackupError(
    `no snapshot: the replica has no level-9 snapshot and its oldest LTX file ${oldest.object.key} starts at TXID ${oldest.minTxid}, not 1 (Litestream may still be uploading the first snapshot)`,
  );
}

function gap(current: bigint, first: LtxFile, beyond: LtxFile): CorruptBackupError {
  return new CorruptBackupError(
    `missing TXIDs ${txidHex(current + 1n)}..${txidHex(beyond.minTxid - 1n)}: the LTX files restorable from ${first.object.key} end at TXID ${txidHex(current)}, but ${beyond.object.key} starts at ${txidHex(beyond.minTxid)}`,
  );
}

/** The oldest TXID a restore can reach: the end of the smallest file holding a whole database. */
function oldestRestorable(p: Parsed): bigint | undefined {
  return [...p.snapshots, ...p.incremental.filter((f) => f.minTxid === 1n)].reduce<bigint | undefined>(
    (min, f) => (min === undefined || f.maxTxid < min ? f.maxTxid : min),
    undefined,
  );
}

/**
 * Refuses irregular entries where LTX files belong, and a listing with
 * entries but no LTX file (found.ts); true when there are LTX files.
 */
function usable(p: Parsed | Unparsed): p is Parsed {
  refuseIrregular(p.found, LAYOUT_NAME);
  if ('files' in p) return true;
  if (p.ignored > 0 || p.found.elsewhere.length > 0) throw nothingUsable(LAYOUT_NAME, 'ltx/ and the level directories', p.ignoredKeys, p.found);
  return false;
}

export function planLtx(entries: Iterable<ListEntry>, target: RestoreTarget = 'latest'): LtxListing {
  const p = parse(entries);
  if (!usable(p)) return { plan: null, ignored: p.ignored };
  if (target !== 'latest' && target.kind !== 'txid') {
    throw new CorruptBackupError(`internal: ${target.kind} targets of the ${LAYOUT_NAME} layout are resolved to a TXID first`);
  }
  const limit = target === 'latest' ? undefined : target.txid;
  const { chosen, current } = walk(p, limit);

  const first = chosen[0];
  if (!first) {
    const oldest = oldestRestorable(p);
    if (limit === undefined || oldest === undefined) throw noSnapshot(p);
    throw new TargetUnreachableError(
      `nothing at or before TXID ${txidHex(limit)} can be restored: the oldest snapshot ends at TXID ${txidHex(oldest)}`,
    );
  }
  if (limit === undefined) {
    const beyond = p.incremental.find((f) => f.maxTxid > current);
    if (beyond) throw gap(current, first, beyond);
  } else if (current < limit) {
    checkShortOfTarget(p, target as TxidTarget, first, current);
  }
  return { plan: makePlan(p, chosen, current, target === 'latest' ? undefined : { ...(describeTarget(target) as Record<string, string>), reachedTxid: txidHex(current) }), ignored: p.ignored };
}

/** The walk to `target` stopped at `current` < target: a hole (65), exact impossible (66), or fine with at-or-before. */
function checkShortOfTarget(p: Parsed, target: TxidTarget, first: LtxFile, current: bigint): void {
  const wanted = txidHex(target.txid);
  const hint = `set SQLITE_RESTORE_TARGET_MATCH=at-or-before to restore TXID ${txidHex(current)}`;
  // Files that continue the chain but end past the target: the TXIDs exist, merged.
  const merged = p.files
    .filter((f) => f.level !== SNAPSHOT_LEVEL || f.minTxid === 1n)
    .filter((f) => f.minTxid <= current + 1n && f.maxTxid > current)
    // The one ending soonest; on a tie the smallest (starting latest).
    .reduce<LtxFile | undefined>((m, f) => (!m || f.maxTxid < m.maxTxid || (f.maxTxid === m.maxTxid && f.minTxid > m.minTxid) ? f : m), undefined);
  if (merged) {
    if (target.match === 'exact') {
      throw new TargetUnreachableError(
        `no LTX file ends at TXID ${wanted}: it is inside ${merged.object.key} (compacted), so the nearest restorable TXIDs are ${txidHex(current)} and ${txidHex(merged.maxTxid)}; ${hint}`,
      );
    }
    return;
  }
  const beyond = p.incremental.find((f) => f.maxTxid > current);
  if (beyond) throw gap(current, first, beyond);
  if (target.match === 'exact') {
    throw new TargetUnreachableError(`TXID ${wanted} is not in the backup: its newest LTX file ends at TXID ${txidHex(current)}; ${hint}`);
  }
}

function makePlan(p: Parsed, chosen: LtxFile[], current: bigint, target: Record<string, string | number> | undefined): RestorePlan {
  const first = chosen[0] as LtxFile;
  const steps: LtxStep[] = chosen.map((f) => ({
    kind: 'ltx',
    object: f.object,
    level: f.level,
    minTxid: f.minTxid,
    maxTxid: f.maxTxid,
  }));
  return {
    layout: LAYOUT_NAME,
    source: {
      snapshot: first.object.key,
      snapshotTxid: txidHex(first.maxTxid),
      txid: txidHex(current),
      files: steps.length,
    },
    warnings: p.warnings,
    steps,
    applier: ltxApplier,
    ...(target ? { target } : {}),
  };
}

/** Reads the time (ms) recorded in a file's LTX header. */
export type TimestampOf = (file: LtxFile) => Promise<number>;

export interface ResolvedTime {
  /** The newest restorable file end stamped at or before the target. */
  readonly txid: bigint;
  readonly time: number;
}

/**
 * The TXID to restore for a time target, reading as few LTX headers as it
 * can: file ends are searched by binary search, as Litestream stamps them
 * from one clock, in TXID order. Throws TargetUnreachableError as described
 * at the top of this file.
 */
export async function resolveLtxTime(entries: Iterable<ListEntry>, target: TimeTarget, timestampOf: TimestampOf): Promise<ResolvedTime | null> {
  const p = parse(entries);
  if (!usable(p)) return null;
  const ends = reachableEnds(p);
  if (ends.length === 0) throw noSnapshot(p);
  const oldest = ends[0] as bigint;
  // One file per end, the lowest level (whose time is the capture time; a
  // snapshot's is when it was taken, later).
  const byEnd = new Map<bigint, LtxFile>();
  for (const f of p.files) {
    if (f.level === SNAPSHOT_LEVEL && f.minTxid !== 1n) continue;
    const seen = byEnd.get(f.maxTxid);
    if (!seen || f.level < seen.level) byEnd.set(f.maxTxid, f);
  }
  const times = new Map<bigint, number>();
  const timeOf = async (end: bigint): Promise<number> => {
    let t = times.get(end);
    if (t === undefined) {
      t = await timestampOf(byEnd.get(end) as LtxFile);
      times.set(end, t);
    }
    return t;
  };
  const at = target.time;
  if ((await timeOf(ends[0] as bigint)) > at) {
    throw new TargetUnreachableError(
      `nothing at or before ${iso(at)} can be restored: the oldest restorable state is TXID ${txidHex(oldest)} from ${iso(await timeOf(ends[0] as bigint))}`,
    );
  }
  // Invariant: time(ends[lo]) <= at; hi is the first index known to be after (or the length).
  let lo = 0;
  let hi = ends.length;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((await timeOf(ends[mid] as bigint)) <= at) lo = mid;
    else hi = mid;
  }
  const txid = ends[lo] as bigint;
  const time = await timeOf(txid);
  const next = ends[lo + 1];
  if (target.match === 'exact' && time < at) {
    const hint = `set SQLITE_RESTORE_TARGET_MATCH=at-or-before to restore TXID ${txidHex(txid)} from ${iso(time)}`;
    if (next === undefined) {
      throw new TargetUnreachableError(
        `${iso(at)} is after the newest backed-up transaction (TXID ${txidHex(txid)} from ${iso(time)}): the backup cannot tell what the database held then (Litestream may have stopped); ${hint}`,
      );
    }
    if (next !== txid + 1n) {
      const holder = p.files.find((f) => f.maxTxid === next && f.minTxid <= txid + 1n) ?? (byEnd.get(next) as LtxFile);
      throw new TargetUnreachableError(
        `the state at ${iso(at)} is unknown: TXIDs ${txidHex(txid + 1n)}..${txidHex(next)} were compacted into ${holder.object.key} (from ${iso(await timeOf(next))}), so any of them may have been committed by then; ${hint}`,
      );
    }
  }
  return { txid, time };
}

/**
 * Every TXID a restore can end at, ascending: the ends of files holding a
 * whole database, and of files starting at most one past a reachable end.
 * Taking files by ascending end, every end below the current one is known.
 */
function reachableEnds(p: Parsed): bigint[] {
  const files = p.files
    .filter((f) => f.level !== SNAPSHOT_LEVEL || f.minTxid === 1n)
    .sort((a, b) => compare(a.maxTxid, b.maxTxid));
  const reachable: bigint[] = [0n]; // "before TXID 1": where a whole database starts
  for (const f of files) {
    const last = reachable[reachable.length - 1] as bigint;
    if (last === f.maxTxid) continue;
    // The newest reachable end below this file's end; older ones are further from its start.
    if (last >= f.minTxid - 1n) reachable.push(f.maxTxid);
  }
  return reachable.slice(1);
}

/** A time target: resolves the TXID, then plans to it exactly; the marker shows both. */
export async function planLtxAtTime(objects: ListEntry[], target: TimeTarget, timestampOf: TimestampOf): Promise<LtxListing> {
  const resolved = await resolveLtxTime(objects, target, timestampOf);
  if (!resolved) return planLtx(objects);
  const { plan, ignored } = planLtx(objects, { kind: 'txid', txid: resolved.txid, match: 'exact' });
  if (!plan) return { plan, ignored };
  return {
    plan: { ...plan, target: { ...(describeTarget(target) as Record<string, string>), reachedTxid: txidHex(resolved.txid), reachedTime: iso(resolved.time) } },
    ignored,
  };
}

function compare(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Reaches further; on a tie starts earlier, then comes from the higher (larger, fewer-file) level. */
function better(f: LtxFile, than: LtxFile): boolean {
  if (f.maxTxid !== than.maxTxid) return f.maxTxid > than.maxTxid;
  if (f.minTxid !== than.minTxid) return f.minTxid < than.minTxid;
  return f.level > than.level;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Every LTX file by level (highest first), with its header time when
 * `timestamps` has it (key -> ms) and its upload time, and the TXID range a
 * restore can reach.
 */
export function listLtx(entries: Iterable<ListEntry>, timestamps: ReadonlyMap<string, number | string> = new Map()): Listing {
  const p = parse(entries);
  const irregularEntries = irregularDetails(p.found);
  if (!('files' in p)) {
    return {
      layout: LAYOUT_NAME,
      details: { levels: [], restorable: null, ignoredObjects: p.ignored, irregularEntries },
      tables: [],
      notes: [
        ...irregularNotes(p.found, LAYOUT_NAME),
        ...(p.ignored > 0 ? [`${p.ignored} object(s) do not follow the Litestream v0.5 LTX naming and were ignored`] : []),
      ],
    };
  }
  // The warnings without the irregular ones, which the notes give with what a restore does about them.
  const notes = [...irregularNotes(p.found, LAYOUT_NAME), ...p.warnings.filter((w) => !irregularWarnings(p.found).includes(w))];
  let restorable: { fromTxid: string; toTxid: string } | null = null;
  const oldest = oldestRestorable(p);
  if (oldest === undefined) {
    notes.push('no file holds a whole database (no level-9 snapshot, nothing starting at TXID 1): nothing can be restored yet');
  } else {
    const { chosen, current } = walk(p, undefined);
    restorable = { fromTxid: txidHex(oldest), toTxid: txidHex(current) };
    const beyond = p.incremental.find((f) => f.maxTxid > current);
    const first = chosen[0];
    if (beyond && first) notes.push(`a restore fails: ${gap(current, first, beyond).message}`);
  }
  const levels = [...new Set(p.files.map((f) => f.level))].sort((a, b) => b - a);
  const tables: ListingTable[] = [];
  const details = levels.map((level) => {
    const files = p.files
      .filter((f) => f.level === level)
      .sort((a, b) => compare(a.minTxid, b.minTxid) || compare(a.maxTxid, b.maxTxid))
      .map((f) => {
        const t = timestamps.get(f.object.key);
        return {
          key: f.object.key,
          minTxid: txidHex(f.minTxid),
          maxTxid: txidHex(f.maxTxid),
          bytes: f.object.size,
          timestamp: typeof t === 'number' ? iso(t) : null,
          ...(typeof t === 'string' ? { timestampError: t } : {}),
          uploaded: iso(f.object.lastModified.getTime()),
        };
      });
    const bytes = files.reduce((n, f) => n + f.bytes, 0);
    tables.push({
      title: `level ${level}${level === SNAPSHOT_LEVEL ? ' (snapshots)' : level === 0 ? ' (one file per sync)' : ' (compactions)'}: ${files.length} file(s), ${bytes} bytes`,
      columns: ['MIN TXID', 'MAX TXID', 'BYTES', 'TIMESTAMP', 'UPLOADED'],
      rows: files.map((f) => [f.minTxid, f.maxTxid, String(f.bytes), f.timestamp ?? '?', f.uploaded]),
    });
    return { level, files };
  });
  if (restorable) tables.unshift({ title: 'restorable', columns: ['FROM TXID', 'TO TXID'], rows: [[restorable.fromTxid, restorable.toTxid]] });
  const unread = [...timestamps.values()].filter((t) => typeof t === 'string');
  if (unread.length > 0) notes.push(`${unread.length} LTX header(s) could not be read, e.g. ${unread[0]}`);
  return { layout: LAYOUT_NAME, details: { levels: details, restorable, ignoredObjects: p.ignored, irregularEntries }, tables, notes };
}
