// The Litestream v0.5 layout: lists the LTX levels and plans the newest restore.
import type { ObjectInfo, Store } from '../../store/store.js';
import type { Layout, RestorePlan } from '../layout.js';
import { levelPrefix, SNAPSHOT_LEVEL } from './keys.js';
import { LAYOUT_NAME, planLtx } from './plan.js';

/** Every prefix LTX files can live under: levels 0..9 in both namings. */
export function ltxPrefixes(): string[] {
  const prefixes = ['ltx/'];
  for (let level = 0; level <= SNAPSHOT_LEVEL; level += 1) prefixes.push(levelPrefix('s3', level));
  return prefixes;
}

export const litestreamV5: Layout = {
  name: LAYOUT_NAME,
  async plan(store: Store, signal: AbortSignal): Promise<RestorePlan | null> {
    // One listing per level rather than one of the whole prefix, so other
    // things stored next to the replica are neither read nor reported.
    const listings = await Promise.all(
      ltxPrefixes().map(async (prefix) => {
        const objects: ObjectInfo[] = [];
        for await (const object of store.list(prefix, signal)) objects.push(object);
        return objects;
      }),
    );
    return planLtx(listings.flat()).plan;
  },
};
