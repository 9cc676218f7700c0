// Picks the backup layout of a replica when SQLITE_RESTORE_LAYOUT is auto.
// Each layout keeps its objects under a few known prefixes, so one short
// listing per prefix (stopped after the first object) tells which are there,
// without listing a large replica in full.
import { ConfigError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { Layout, Listing, RestorePlan } from './layout.js';
import { checkTargetSupported, type RestoreTarget } from './target.js';
import { litestreamV3 } from './litestream-v3/index.js';
import { litestreamV5, ltxPrefixes } from './ltx/index.js';
import { zlayer, ZLAYER_PREFIXES } from './zlayer/index.js';

export const LAYOUT_NAMES = ['litestream-v0.3', 'litestream-v0.5', 'zlayer'] as const;
export type LayoutName = (typeof LAYOUT_NAMES)[number];

const CANDIDATES: ReadonlyArray<{ layout: Layout; prefixes: readonly string[] }> = [
  { layout: litestreamV3, prefixes: ['generations/'] },
  { layout: litestreamV5, prefixes: ltxPrefixes() },
  { layout: zlayer, prefixes: ZLAYER_PREFIXES },
];

export function layoutByName(name: LayoutName): Layout {
  return name === 'litestream-v0.3' ? litestreamV3 : name === 'litestream-v0.5' ? litestreamV5 : zlayer;
}

async function holdsAny(store: Store, prefix: string, signal: AbortSignal): Promise<boolean> {
  for await (const _ of store.list(prefix, signal)) return true;
  return false;
}

/** The layouts that have at least one object in the replica, as "name (prefix)" for messages. */
export async function detectLayouts(store: Store, signal: AbortSignal): Promise<Array<{ layout: Layout; found: string }>> {
  const probes = CANDIDATES.flatMap(({ layout, prefixes }) => prefixes.map((prefix) => ({ layout, prefix })));
  // One probe first, the rest in parallel once the store answers: a store
  // that is not up yet is retried (and logged) by one listing, not fifteen.
  const [first, ...rest] = probes as [(typeof probes)[number], ...typeof probes];
  const hits = [await holdsAny(store, first.prefix, signal), ...(await Promise.all(rest.map(({ prefix }) => holdsAny(store, prefix, signal))))];
  return CANDIDATES.flatMap(({ layout }) => {
    const found = probes.filter((p, i) => p.layout === layout && hits[i]).map((p) => p.prefix);
    return found.length > 0 ? [{ layout, found: `${layout.name} (${found.join(', ')})` }] : [];
  });
}

/**
 * A layout that decides when asked for a plan: a replica holding none of the
 * known layouts holds no backup (null plan); one holding several is refused,
 * because restoring the wrong one would silently roll the database back.
 */
export const autoLayout: Layout = {
  name: 'auto',
  // Whatever any layout supports; the detected one checks its own.
  targets: ['time', 'generation', 'txid'],
  async plan(store: Store, signal: AbortSignal, target: RestoreTarget = 'latest'): Promise<RestorePlan | null> {
    const found = await detectLayouts(store, signal);
    const [only, ...others] = found;
    if (!only) return null;
    if (others.length > 0) {
      throw new ConfigError(
        `the replica at ${store.location} holds more than one backup layout: ${found.map((f) => f.found).join(' and ')}; set SQLITE_RESTORE_LAYOUT to ${LAYOUT_NAMES.join(' or ')} to choose one`,
      );
    }
    checkTargetSupported(only.layout, target);
    return only.layout.plan(store, signal, target);
  },
  async list(store: Store, signal: AbortSignal): Promise<Listing> {
    const listings = await listDetected(store, signal);
    return {
      layout: listings.map((l) => l.layout).join(' + ') || 'none',
      details: { layouts: listings },
      tables: listings.flatMap((l) => l.tables.map((t) => ({ ...t, title: `${l.layout}: ${t.title}` }))),
      notes: listings.flatMap((l) => l.notes.map((n) => `${l.layout}: ${n}`)),
    };
  },
};

/**
 * A listing of every layout the replica holds (none, one, or several: a
 * replica a restore refuses as ambiguous is exactly one worth looking at).
 */
export async function listDetected(store: Store, signal: AbortSignal): Promise<Listing[]> {
  const found = await detectLayouts(store, signal);
  return Promise.all(found.map(({ layout }) => layout.list(store, signal)));
}
