// Object names of the Litestream v0.3 layout. Anything else under the prefix
// (hostile or just foreign keys) is ignored, never interpreted as a path.

export type V3Key =
  | { readonly type: 'snapshot'; readonly generation: string; readonly index: number }
  | { readonly type: 'wal'; readonly generation: string; readonly index: number; readonly offset: number };

const SNAPSHOT = /^generations\/([0-9a-f]{16})\/snapshots\/([0-9a-f]{8})\.snapshot\.lz4$/;
// Offsets are 8 hex digits; newer Litestream writes up to 16 for WAL files over 4 GiB.
const WAL = /^generations\/([0-9a-f]{16})\/wal\/([0-9a-f]{8})_([0-9a-f]{8}|[0-9a-f]{16})\.wal\.lz4$/;

export function parseV3Key(key: string): V3Key | undefined {
  let m = SNAPSHOT.exec(key);
  if (m) return { type: 'snapshot', generation: m[1] as string, index: parseInt(m[2] as string, 16) };
  m = WAL.exec(key);
  if (m) {
    const offset = Number.parseInt(m[3] as string, 16);
    if (!Number.isSafeInteger(offset)) return undefined;
    return { type: 'wal', generation: m[1] as string, index: parseInt(m[2] as string, 16), offset };
  }
  return undefined;
}

const PLACE = /^generations(\/[0-9a-f]{16}(\/(snapshots|wal))?)?$/;

/** Whether the key is where an object or a directory of this layout belongs. */
export function isV3Place(key: string): boolean {
  return PLACE.test(key) || parseV3Key(key) !== undefined;
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

export function snapshotKey(generation: string, index: number): string {
  return `generations/${generation}/snapshots/${hex(index, 8)}.snapshot.lz4`;
}

export function walKey(generation: string, index: number, offset: number): string {
  return `generations/${generation}/wal/${hex(index, 8)}_${hex(offset, offset > 0xffffffff ? 16 : 8)}.wal.lz4`;
}
