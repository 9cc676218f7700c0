// Chooses what to restore from a listing of a Litestream v0.5 replica: the
// newest level-9 snapshot, then LTX files that extend the restored TXID range
// without a hole, preferring at each step the file reaching furthest (so one
// compacted file replaces many small ones). Pure; fails closed on gaps.
//
// A file may start before the range restored so far: its pages are the
// newest versions as of its max TXID, so applying it over a later state is
// still correct. It may not start after it: the TXIDs in between are lost.
import { CorruptBackupError } from '../../errors.js';
import type { ObjectInfo } from '../../store/store.js';
import type { LtxStep, RestorePlan } from '../layout.js';
import { ltxKey, parseLtxKey, SNAPSHOT_LEVEL, txidHex, type KeyStyle } from './keys.js';

export const LAYOUT_NAME = 'litestream-v0.5';

interface File {
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

export function planLtx(objects: Iterable<ObjectInfo>): LtxListing {
  const files: File[] = [];
  const styles = new Set<KeyStyle>();
  let ignored = 0;
  for (const object of objects) {
    const key = parseLtxKey(object.key);
    if (!key) {
      ignored += 1;
      continue;
    }
    styles.add(key.style);
    files.push({ object, level: key.level, minTxid: key.minTxid, maxTxid: key.maxTxid });
  }
  if (files.length === 0) return { plan: null, ignored };
  if (styles.size > 1) {
    throw new CorruptBackupError(
      'ambiguous backup: the replica holds LTX files both under ltx/<level>/ (file replica naming) and under <level as 4 hex digits>/ (S3 naming); is more than one Litestream writing here?',
    );
  }
  const style = [...styles][0] as KeyStyle;
  const warnings: string[] = [];
  if (ignored > 0) warnings.push(`${ignored} object(s) do not follow the Litestream v0.5 LTX naming and were ignored`);

  // Level 9 holds snapshots only, which always start at TXID 1.
  const strays = files.filter((f) => f.level === SNAPSHOT_LEVEL && f.minTxid !== 1n);
  if (strays.length > 0) {
    warnings.push(`${strays.length} level-9 file(s) do not start at TXID 1 and were ignored, e.g. ${strays[0]?.object.key}`);
  }
  const snapshots = files.filter((f) => f.level === SNAPSHOT_LEVEL && f.minTxid === 1n);
  const incremental = files
    .filter((f) => f.level < SNAPSHOT_LEVEL)
    .sort((a, b) => compare(a.minTxid, b.minTxid) || compare(b.maxTxid, a.maxTxid) || b.level - a.level);

  const chosen: File[] = [];
  let current = 0n;
  const snapshot = snapshots.reduce<File | undefined>((best, f) => (!best || f.maxTxid > best.maxTxid ? f : best), undefined);
  if (snapshot) {
    chosen.push(snapshot);
    current = snapshot.maxTxid;
  }
  // Files are sorted by where they start, so each is looked at once: a file
  // passed over for one that reaches further is never useful later.
  let i = 0;
  for (;;) {
    let best: File | undefined;
    while (i < incremental.length && (incremental[i] as File).minTxid <= current + 1n) {
      const f = incremental[i] as File;
      if (f.maxTxid > current && (!best || better(f, best))) best = f;
      i += 1;
    }
    if (!best) break;
    chosen.push(best);
    current = best.maxTxid;
  }

  const first = chosen[0];
  if (!first) {
    const oldest = incremental[0] ?? (strays[0] as File);
    throw new CorruptBackupError(
      `no snapshot: the replica has no level-9 snapshot and its oldest LTX file ${oldest.object.key} starts at TXID ${oldest.minTxid}, not 1 (Litestream may still be uploading the first snapshot)`,
    );
  }
  const beyond = incremental.find((f) => f.maxTxid > current);
  if (beyond) {
    throw new CorruptBackupError(
      `missing TXIDs ${txidHex(current + 1n)}..${txidHex(beyond.minTxid - 1n)}: the LTX files restorable from ${first.object.key} end at TXID ${txidHex(current)}, but ${beyond.object.key} starts at ${txidHex(beyond.minTxid)}`,
    );
  }

  const steps: LtxStep[] = chosen.map((f) => ({
    kind: 'ltx',
    object: f.object,
    level: f.level,
    minTxid: f.minTxid,
    maxTxid: f.maxTxid,
  }));
  return {
    plan: {
      layout: LAYOUT_NAME,
      source: {
        snapshot: first.object.key,
        snapshotTxid: txidHex(first.maxTxid),
        txid: txidHex(current),
        files: steps.length,
      },
      warnings,
      steps,
      walKey: () => `(no WAL segments in the ${LAYOUT_NAME} layout; LTX keys look like ${ltxKey(style, 0, 1n, 1n)})`,
    },
    ignored,
  };
}

function compare(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Reaches further; on a tie starts earlier, then comes from the higher (larger, fewer-file) level. */
function better(f: File, than: File): boolean {
  if (f.maxTxid !== than.maxTxid) return f.maxTxid > than.maxTxid;
  if (f.minTxid !== than.minTxid) return f.minTxid < than.minTxid;
  return f.level > than.level;
}
