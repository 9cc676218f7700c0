// Object names of the zlayer-storage crate's SQLite replication, relative to
// the replica root (the crate's `s3_prefix`, which ends in "/"):
//   snapshots/{YYYYmmdd_HHMMSS}.sqlite.zst   whole main database file, UTC upload time
//   wal/{sequence, 20 decimal digits}.wal.zst whole -wal file; sequence = its frame count
//   metadata.json                            latest snapshot and a few counters
// Pure parsing and formatting.

export const SNAPSHOTS_PREFIX = 'snapshots/';
export const WAL_PREFIX = 'wal/';
export const METADATA_KEY = 'metadata.json';

export type ZlayerKey =
  | { readonly type: 'snapshot'; readonly stamp: string; readonly time: Date }
  | { readonly type: 'wal'; readonly sequence: bigint }
  | { readonly type: 'metadata' };

const snapshotRe = /^snapshots\/(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})\.sqlite\.zst$/;
const walRe = /^wal\/(\d{20})\.wal\.zst$/;
const U64_MAX = (1n << 64n) - 1n;

/** The UTC time a snapshot name stands for, or undefined when it is not a real date and time. */
export function parseSnapshotStamp(stamp: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})$/.exec(stamp);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const time = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Date.UTC rolls 31 February over into March: only a round trip is a real date.
  return formatSnapshotStamp(time) === stamp ? time : undefined;
}

export function formatSnapshotStamp(time: Date): string {
  const p = (n: number, width = 2) => String(n).padStart(width, '0');
  return (
    `${p(time.getUTCFullYear(), 4)}${p(time.getUTCMonth() + 1)}${p(time.getUTCDate())}_` +
    `${p(time.getUTCHours())}${p(time.getUTCMinutes())}${p(time.getUTCSeconds())}`
  );
}

export function parseZlayerKey(key: string): ZlayerKey | undefined {
  if (key === METADATA_KEY) return { type: 'metadata' };
  const snap = snapshotRe.exec(key);
  if (snap) {
    const stamp = key.slice(SNAPSHOTS_PREFIX.length, SNAPSHOTS_PREFIX.length + 15);
    const time = parseSnapshotStamp(stamp);
    return time ? { type: 'snapshot', stamp, time } : undefined;
  }
  const wal = walRe.exec(key);
  if (wal) {
    const sequence = BigInt(wal[1] as string);
    return sequence <= U64_MAX ? { type: 'wal', sequence } : undefined;
  }
  return undefined;
}

/** Whether the key is where an object or a directory of this layout belongs. */
export function isZlayerPlace(key: string): boolean {
  return key === 'snapshots' || key === 'wal' || parseZlayerKey(key) !== undefined;
}

export function snapshotKey(time: Date): string {
  return `${SNAPSHOTS_PREFIX}${formatSnapshotStamp(time)}.sqlite.zst`;
}

export function walKey(sequence: bigint | number): string {
  return `${WAL_PREFIX}${String(sequence).padStart(20, '0')}.wal.zst`;
}

/**
 * The replica-relative snapshot key inside a full S3 key as metadata.json
 * records it (`{prefix}snapshots/...`), or undefined when it names none.
 */
export function snapshotKeyIn(fullKey: string): string | undefined {
  const at = fullKey.lastIndexOf(SNAPSHOTS_PREFIX);
  if (at < 0 || (at > 0 && fullKey[at - 1] !== '/')) return undefined;
  const key = fullKey.slice(at);
  return parseZlayerKey(key)?.type === 'snapshot' ? key : undefined;
}
