// Chooses what to restore from a listing of a Litestream v0.3 replica: the
// most recently updated generation, its newest snapshot, and every WAL
// segment from the snapshot's index on. Pure; fails closed on ambiguity.
import { CorruptBackupError } from '../../errors.js';
import type { ObjectInfo } from '../../store/store.js';
import type { RestorePlan, WalStep } from '../layout.js';
import { parseV3Key, snapshotKey, walKey } from './keys.js';

export const LAYOUT_NAME = 'litestream-v0.3';

interface Generation {
  readonly id: string;
  readonly snapshots: Array<{ index: number; object: ObjectInfo }>;
  readonly wal: Array<{ index: number; offset: number; object: ObjectInfo }>;
  updatedAt: number;
}

export interface V3Listing {
  readonly plan: RestorePlan | null;
  /** Keys under generations/ that are not part of the layout. */
  readonly ignored: number;
}

export function planV3(objects: Iterable<ObjectInfo>): V3Listing {
  const generations = new Map<string, Generation>();
  let ignored = 0;
  for (const object of objects) {
    const key = parseV3Key(object.key);
    if (!key) {
      ignored += 1;
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
  if (generations.size === 0) return { plan: null, ignored };

  const ranked = [...generations.values()].sort((a, b) => b.updatedAt - a.updatedAt);
  const newest = ranked[0] as Generation;
  const runnerUp = ranked[1];
  if (runnerUp && runnerUp.updatedAt === newest.updatedAt) {
    throw new CorruptBackupError(
      `ambiguous backup: generations ${newest.id} and ${runnerUp.id} were both last updated at ${new Date(newest.updatedAt).toISOString()}; is more than one Litestream writing to this path?`,
    );
  }
  const plan = planGeneration(newest);
  if (ignored > 0) {
    plan.warnings.push(`${ignored} object(s) under generations/ do not follow the Litestream v0.3 naming and were ignored`);
  }
  return { plan, ignored };
}

function planGeneration(gen: Generation): RestorePlan & { warnings: string[] } {
  if (gen.snapshots.length === 0) {
    throw new CorruptBackupError(
      `newest generation ${gen.id} has no snapshot yet (Litestream may still be uploading it); refusing to fall back to an older generation`,
    );
  }
  gen.snapshots.sort((a, b) => b.index - a.index);
  const snapshot = gen.snapshots[0] as Generation['snapshots'][number];
  if (gen.snapshots[1]?.index === snapshot.index) {
    throw new CorruptBackupError(`generation ${gen.id} holds two snapshots for index ${snapshot.index}`);
  }

  const wal = gen.wal
    .filter((w) => w.index >= snapshot.index)
    .sort((a, b) => a.index - b.index || a.offset - b.offset);
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
    warnings: [],
    steps: [{ kind: 'snapshot', object: snapshot.object, compression: 'lz4' }, ...steps],
    walKey: (index, offset) => walKey(gen.id, index, offset),
  };
}
