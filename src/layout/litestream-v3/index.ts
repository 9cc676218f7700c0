// The Litestream v0.3 layout: lists the replica and plans the newest restore.
import type { ObjectInfo, Store } from '../../store/store.js';
import type { Layout, RestorePlan } from '../layout.js';
import { LAYOUT_NAME, planV3 } from './plan.js';

export const litestreamV3: Layout = {
  name: LAYOUT_NAME,
  async plan(store: Store, signal: AbortSignal): Promise<RestorePlan | null> {
    const objects: ObjectInfo[] = [];
    for await (const object of store.list('generations/', signal)) objects.push(object);
    return planV3(objects).plan;
  },
};
