// The Litestream v0.3 layout: lists the replica and plans a restore to the
// newest state, a generation (+ WAL index) or a time.
import { collectListing, type ListEntry, type Store } from '../../store/store.js';
import type { Layout, Listing, RestorePlan } from '../layout.js';
import { checkTargetSupported, type RestoreTarget } from '../target.js';
import { LAYOUT_NAME, listV3, planV3 } from './plan.js';

function listAll(store: Store, signal: AbortSignal): Promise<ListEntry[]> {
  return collectListing(store, ['generations/'], signal);
}

export const litestreamV3: Layout = {
  name: LAYOUT_NAME,
  targets: ['generation', 'time'],
  async plan(store: Store, signal: AbortSignal, target: RestoreTarget = 'latest'): Promise<RestorePlan | null> {
    checkTargetSupported(litestreamV3, target);
    return planV3(await listAll(store, signal), target).plan;
  },
  async list(store: Store, signal: AbortSignal): Promise<Listing> {
    return listV3(await listAll(store, signal));
  },
};
