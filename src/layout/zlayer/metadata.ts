// metadata.json of a zlayer-storage replica, as the crate writes it after each
// snapshot (serde, chrono times as RFC 3339):
//   { "latest_snapshot": "<prefix>snapshots/20260301_120000.sqlite.zst" | null,
//     "latest_snapshot_time": "...", "latest_wal_sequence": n | null,
//     "snapshot_count": n, "db_identifier": "..." | null, "last_modified": "..." }
// Only used to cross-check the listing, so anything unreadable is reported,
// never fatal by itself.

export interface ZlayerMetadata {
  readonly latestSnapshot: string | undefined;
  readonly latestSnapshotTime: string | undefined;
  readonly latestWalSequence: number | undefined;
  readonly snapshotCount: number | undefined;
  readonly dbIdentifier: string | undefined;
  readonly lastModified: string | undefined;
}

export type MetadataState =
  | { readonly state: 'missing' }
  | { readonly state: 'invalid'; readonly reason: string }
  | { readonly state: 'ok'; readonly metadata: ZlayerMetadata };

/** More than any real metadata.json; a larger object is not read. */
export const METADATA_MAX_BYTES = 1 << 20;

function optional<T>(record: Record<string, unknown>, field: string, type: 'string' | 'number'): T | undefined {
  const value = record[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== type) throw new TypeError(`"${field}" is not a ${type}`);
  return value as T;
}

export function parseMetadata(text: string): MetadataState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { state: 'invalid', reason: `not JSON (${(err as Error).message})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { state: 'invalid', reason: 'not a JSON object' };
  }
  const record = value as Record<string, unknown>;
  try {
    return {
      state: 'ok',
      metadata: {
        latestSnapshot: optional(record, 'latest_snapshot', 'string'),
        latestSnapshotTime: optional(record, 'latest_snapshot_time', 'string'),
        latestWalSequence: optional(record, 'latest_wal_sequence', 'number'),
        snapshotCount: optional(record, 'snapshot_count', 'number'),
        dbIdentifier: optional(record, 'db_identifier', 'string'),
        lastModified: optional(record, 'last_modified', 'string'),
      },
    };
  } catch (err) {
    return { state: 'invalid', reason: (err as Error).message };
  }
}
