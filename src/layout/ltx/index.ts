// The Litestream v0.5 layout: lists the LTX levels and plans a restore to the
// newest state, a TXID or a time (the latter reads a few LTX headers).
import { CorruptBackupError } from '../../errors.js';
import { collectListing, isIrregular, readHead, type ListEntry, type Store } from '../../store/store.js';
import type { Layout, Listing, RestorePlan } from '../layout.js';
import { checkTargetSupported, type RestoreTarget } from '../target.js';
import { LTX_HEADER_SIZE, parseLtxHeader } from './decoder.js';
import { levelPrefix, parseLtxKey, SNAPSHOT_LEVEL, txidHex } from './keys.js';
import { LAYOUT_NAME, listLtx, planLtx, planLtxAtTime, type LtxFile } from './plan.js';

/** Every prefix LTX files can live under: levels 0..9 in both namings. */
export function ltxPrefixes(): string[] {
  const prefixes = ['ltx/'];
  for (let level = 0; level <= SNAPSHOT_LEVEL; level += 1) prefixes.push(levelPrefix('s3', level));
  return prefixes;
}

function listAll(store: Store, signal: AbortSignal): Promise<ListEntry[]> {
  // One listing per level rather than one of the whole prefix, so other
  // things stored next to the replica are neither read nor reported.
  return collectListing(store, ltxPrefixes(), signal);
}

/** The time (ms) in a file's LTX header, read with one ranged request; the header must match the name. */
async function headerTime(store: Store, file: Pick<LtxFile, 'object' | 'minTxid' | 'maxTxid'>, signal: AbortSignal): Promise<number> {
  const key = file.object.key;
  const header = parseLtxHeader(await readHead(store, file.object, LTX_HEADER_SIZE, signal), key);
  if (header.minTxid !== file.minTxid || header.maxTxid !== file.maxTxid) {
    throw new CorruptBackupError(
      `${key}: header says TXIDs ${txidHex(header.minTxid)}-${txidHex(header.maxTxid)}, the name says ${txidHex(file.minTxid)}-${txidHex(file.maxTxid)}`,
    );
  }
  return header.timestamp;
}

/** Headers read in parallel by `list`; a listing is a diagnostic, not a download. */
const LIST_HEADER_CONCURRENCY = 8;

export const litestreamV5: Layout = {
  name: LAYOUT_NAME,
  targets: ['txid', 'time'],
  async plan(store: Store, signal: AbortSignal, target: RestoreTarget = 'latest'): Promise<RestorePlan | null> {
    checkTargetSupported(litestreamV5, target);
    const objects = await listAll(store, signal);
    if (target !== 'latest' && target.kind === 'time') {
      return (await planLtxAtTime(objects, target, (file) => headerTime(store, file, signal))).plan;
    }
    return planLtx(objects, target).plan;
  },
  async list(store: Store, signal: AbortSignal): Promise<Listing> {
    const objects = await listAll(store, signal);
    const files = objects.flatMap((object) => {
      if (isIrregular(object)) return [];
      const key = parseLtxKey(object.key);
      return key ? [{ object, minTxid: key.minTxid, maxTxid: key.maxTxid }] : [];
    });
    // Key -> header time, or why it could not be read (the listing still shows the file).
    const timestamps = new Map<string, number | string>();
    let next = 0;
    const worker = async () => {
      while (next < files.length) {
        const file = files[next++] as (typeof files)[number];
        try {
          timestamps.set(file.object.key, await headerTime(store, file, signal));
        } catch (err) {
          if (!(err instanceof CorruptBackupError) || signal.aborted) throw err;
          timestamps.set(file.object.key, err.message);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(LIST_HEADER_CONCURRENCY, files.length) }, worker));
    return listLtx(objects, timestamps);
  },
};
