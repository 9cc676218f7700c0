// Object names of the Litestream v0.5 layout. Litestream's S3 client names
// levels with 4 hex digits at the replica root; its file backend (and the
// other directory-like backends) use ltx/<level in decimal>/. Both hold files
// named <min TXID>-<max TXID>.ltx, 16 lowercase hex digits each. Anything else
// under the prefix is ignored, never interpreted as a path.

/** Level 9 holds snapshots; 0 is one file per sync; 1..8 are compactions. */
export const SNAPSHOT_LEVEL = 9;

export type KeyStyle = 's3' | 'file';

export interface LtxKey {
  readonly style: KeyStyle;
  readonly level: number;
  readonly minTxid: bigint;
  readonly maxTxid: bigint;
}

const S3_KEY = /^([0-9a-f]{4})\/([0-9a-f]{16})-([0-9a-f]{16})\.ltx$/;
const FILE_KEY = /^ltx\/(0|[1-9][0-9]?)\/([0-9a-f]{16})-([0-9a-f]{16})\.ltx$/;

export function parseLtxKey(key: string): LtxKey | undefined {
  let style: KeyStyle = 's3';
  let m = S3_KEY.exec(key);
  if (!m) {
    style = 'file';
    m = FILE_KEY.exec(key);
  }
  if (!m) return undefined;
  const level = Number.parseInt(m[1] as string, style === 's3' ? 16 : 10);
  const minTxid = BigInt(`0x${m[2] as string}`);
  const maxTxid = BigInt(`0x${m[3] as string}`);
  if (level > SNAPSHOT_LEVEL || minTxid === 0n || maxTxid < minTxid) return undefined;
  return { style, level, minTxid, maxTxid };
}

const PLACE = /^(ltx(\/(0|[1-9][0-9]?))?|[0-9a-f]{4})$/;

/** Whether the key is where an LTX file or a level directory belongs. */
export function isLtxPlace(key: string): boolean {
  return PLACE.test(key) || parseLtxKey(key) !== undefined;
}

export function txidHex(txid: bigint): string {
  return txid.toString(16).padStart(16, '0');
}

/** The directory-like prefix a level lives under, e.g. "0009/" or "ltx/9/". */
export function levelPrefix(style: KeyStyle, level: number): string {
  return style === 's3' ? `${level.toString(16).padStart(4, '0')}/` : `ltx/${level}/`;
}

export function ltxKey(style: KeyStyle, level: number, minTxid: bigint, maxTxid: bigint): string {
  return `${levelPrefix(style, level)}${txidHex(minTxid)}-${txidHex(maxTxid)}.ltx`;
}
