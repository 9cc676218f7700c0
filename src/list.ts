// The list command: what the replica holds, per layout, as aligned tables or
// as one JSON document. A replica holding nothing is not an error here: the
// listing is empty and says so.
import type { Config } from './config.js';
import { listDetected } from './layout/detect.js';
import type { Layout, Listing, ListingTable } from './layout/layout.js';
import { describeNearby } from './store/nearby.js';
import type { Store } from './store/store.js';

export interface ReplicaListing {
  readonly replica: string;
  readonly layouts: readonly Listing[];
  readonly notes: readonly string[];
}

export async function listReplica(config: Config, store: Store, layout: Layout, signal: AbortSignal): Promise<ReplicaListing> {
  const layouts = config.layout === 'auto' ? await listDetected(store, signal) : [await layout.list(store, signal)];
  const notes: string[] = [];
  if (layouts.every((l) => l.tables.length === 0)) notes.push(`no backup found at ${store.location}${await describeNearby(store, signal)}`);
  if (layouts.length > 1) {
    const names = layouts.map((l) => l.layout);
    const litestreamOnly = names.every((n) => n.startsWith('litestream-'));
    notes.push(
      litestreamOnly
        ? `the replica holds both Litestream layouts (${names.join(', ')}), as an upgrade or a downgrade leaves behind: a restore uses the one written last, unless SQLITE_RESTORE_LAYOUT names one`
        : `the replica holds more than one backup layout (${names.join(', ')}): a restore refuses it until SQLITE_RESTORE_LAYOUT names one`,
    );
  }
  return { replica: config.replica.url, layouts, notes };
}

export function listingJson(listing: ReplicaListing): string {
  const body = {
    replica: listing.replica,
    layouts: listing.layouts.map((l) => ({ layout: l.layout, ...l.details, notes: l.notes })),
    notes: listing.notes,
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}

export function listingText(listing: ReplicaListing): string {
  const out: string[] = [`replica: ${listing.replica}`];
  for (const l of listing.layouts) {
    out.push('', `layout: ${l.layout}`);
    for (const table of l.tables) out.push('', ...renderTable(table));
    for (const note of l.notes) out.push(`note: ${note}`);
  }
  if (listing.notes.length > 0) out.push('');
  for (const note of listing.notes) out.push(`note: ${note}`);
  return `${out.join('\n')}\n`;
}

/** A title line, then columns padded to their widest cell; counts are right-aligned (zero-padded hex is not a count). */
export function renderTable(table: ListingTable): string[] {
  const widths = table.columns.map((c, i) => table.rows.reduce((w, r) => Math.max(w, (r[i] ?? '').length), c.length));
  const numeric = table.columns.map((_, i) => table.rows.length > 0 && table.rows.every((r) => /^(0|[1-9]\d*)$/.test(r[i] ?? '')));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [table.title, line(table.columns), ...table.rows.map(line)];
}
