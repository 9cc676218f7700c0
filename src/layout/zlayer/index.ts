// The zlayer-storage layout (the Rust crate's SQLite replication to S3):
// lists snapshots/ and wal/, reads metadata.json and the evidence of which
// WAL copy continues the newest snapshot (proof.ts), and plans the restore
// described in plan.ts. Only the newest state can be restored.
import { CorruptBackupError } from '../../errors.js';
import { collectListing, isIrregular, type ListEntry, type ObjectInfo, type Store } from '../../store/store.js';
import type { Layout, Listing, RestorePlan } from '../layout.js';
import { checkTargetSupported, type RestoreTarget } from '../target.js';
import { METADATA_KEY, SNAPSHOTS_PREFIX, WAL_PREFIX } from './keys.js';
import { METADATA_MAX_BYTES, parseMetadata, type MetadataState } from './metadata.js';
import { classify, LAYOUT_NAME, listZlayer, MAX_WAL_CANDIDATES, planZlayer } from './plan.js';
import { gatherEvidence } from './proof.js';

/** Where detection looks: any object under these means the replica holds this layout. */
export const ZLAYER_PREFIXES = [SNAPSHOTS_PREFIX, WAL_PREFIX, METADATA_KEY] as const;

function listAll(store: Store, signal: AbortSignal): Promise<ListEntry[]> {
  return collectListing(store, ZLAYER_PREFIXES, signal);
}

/**
 * metadata.json, if the listing holds it as a regular object; storage errors
 * propagate, unusable content is reported as invalid. (One that is not a
 * regular file makes the plan refuse the replica: found.ts.)
 */
export async function readMetadata(store: Store, entries: readonly ListEntry[], signal: AbortSignal): Promise<MetadataState> {
  const info = entries.find((e): e is ObjectInfo => e.key === METADATA_KEY && !isIrregular(e));
  if (!info) return { state: 'missing' };
  if (info.size > METADATA_MAX_BYTES) return { state: 'invalid', reason: `${info.size} bytes, more than a metadata file holds` };
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of store.read(info, { signal })) chunks.push(chunk as Buffer);
  } catch (err) {
    // Replaced while being read (a size change): nothing to cross-check against.
    if (err instanceof CorruptBackupError && !signal.aborted) return { state: 'invalid', reason: err.message };
    throw err;
  }
  return parseMetadata(Buffer.concat(chunks).toString('utf8'));
}

export const zlayer: Layout = {
  name: LAYOUT_NAME,
  async plan(store: Store, signal: AbortSignal, target: RestoreTarget = 'latest'): Promise<RestorePlan | null> {
    checkTargetSupported(zlayer, target);
    const entries = await listAll(store, signal);
    const metadata = await readMetadata(store, entries, signal);
    // Refusals and "no backup" first, before anything is downloaded.
    if (!planZlayer(entries, metadata)) return null;
    const { snapshots, wal } = classify(entries.filter((e): e is ObjectInfo => !isIrregular(e)));
    return planZlayer(entries, metadata, MAX_WAL_CANDIDATES, await gatherEvidence(store, snapshots, wal, signal));
  },
  async list(store: Store, signal: AbortSignal): Promise<Listing> {
    const entries = await listAll(store, signal);
    return listZlayer(entries, await readMetadata(store, entries, signal));
  },
};
