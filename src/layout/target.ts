// What a restore aims at: the newest state ("latest", the default), or a
// point in time given as a wall-clock time, a Litestream v0.3 generation and
// WAL index, or a Litestream v0.5 TXID. Parsed from the environment by
// config.ts; each layout plans to the kinds it supports.
import { ConfigError } from '../errors.js';
import type { Layout } from './layout.js';

/**
 * exact: the backups must hold the target itself (see each layout for what
 * that means), otherwise exit 66. at-or-before: the newest restorable state
 * not after the target.
 */
export type TargetMatch = 'exact' | 'at-or-before';

export interface TimeTarget {
  readonly kind: 'time';
  /** Milliseconds since the Unix epoch. */
  readonly time: number;
  readonly match: TargetMatch;
}

export interface GenerationTarget {
  readonly kind: 'generation';
  /** 16 lowercase hex digits. */
  readonly generation: string;
  /** WAL index (inclusive); absent: the newest state of that generation. */
  readonly index: number | undefined;
  readonly match: TargetMatch;
}

export interface TxidTarget {
  readonly kind: 'txid';
  readonly txid: bigint;
  readonly match: TargetMatch;
}

export type PointTarget = TimeTarget | GenerationTarget | TxidTarget;
export type RestoreTarget = 'latest' | PointTarget;
export type TargetKind = PointTarget['kind'];

/** The environment variable(s) that set each kind of target, for messages. */
export const TARGET_VARIABLES: Readonly<Record<TargetKind, string>> = {
  time: 'SQLITE_RESTORE_TARGET_TIME',
  generation: 'SQLITE_RESTORE_TARGET_GENERATION (+ SQLITE_RESTORE_TARGET_INDEX)',
  txid: 'SQLITE_RESTORE_TARGET_TXID',
};

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 date-time with a zone ("2026-03-01T12:00:00Z", "...+02:00"), to the millisecond. */
export function parseRfc3339(value: string, name: string): number {
  const m = RFC3339.exec(value.trim());
  const ms = m ? Date.parse(value.trim().toUpperCase().replace(' ', 'T').replace(/(\.\d{3})\d+/, '$1')) : Number.NaN;
  if (!m || Number.isNaN(ms)) {
    throw new ConfigError(`${name} must be an RFC 3339 time with a zone, such as 2026-03-01T12:00:00Z or 2026-03-01T14:00:00+02:00`);
  }
  // Date.parse rolls 2026-02-30 over to March; refuse days a month does not have.
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 59) {
    throw new ConfigError(`${name} is not a valid date and time`);
  }
  return ms;
}

/**
 * A TXID as Litestream prints it: "0x" + hex, or exactly 16 hex digits (the
 * form in LTX file names and in the marker); otherwise decimal digits.
 */
export function parseTxid(value: string, name: string): bigint {
  const v = value.trim();
  let txid: bigint | undefined;
  if (/^0x[0-9a-fA-F]{1,16}$/.test(v)) txid = BigInt(v);
  else if (/^[0-9a-fA-F]{16}$/.test(v)) txid = BigInt(`0x${v}`);
  else if (/^[0-9]{1,20}$/.test(v)) txid = BigInt(v);
  if (txid === undefined || txid < 1n || txid > 0xffffffffffffffffn) {
    throw new ConfigError(`${name} must be a TXID from 1 to 2^64-1: decimal, 0x-prefixed hex, or 16 hex digits as in LTX file names`);
  }
  return txid;
}

/** A Litestream v0.3 WAL index, hex as in the object names ("0000002a" or "2a"). */
export function parseWalIndex(value: string, name: string): number {
  const v = value.trim().replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{1,8}$/.test(v)) {
    throw new ConfigError(`${name} must be a WAL index in hex as in the object names (up to 8 hex digits, e.g. 0000002a)`);
  }
  return Number.parseInt(v, 16);
}

export function parseGeneration(value: string, name: string): string {
  const v = value.trim();
  if (!/^[0-9a-f]{16}$/.test(v)) throw new ConfigError(`${name} must be a Litestream generation: 16 lowercase hex digits`);
  return v;
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');
const hex16 = (n: bigint) => n.toString(16).padStart(16, '0');

/** The target as it is logged and recorded in the marker. */
export function describeTarget(target: RestoreTarget): Record<string, string> | 'latest' {
  if (target === 'latest') return 'latest';
  switch (target.kind) {
    case 'time':
      return { kind: 'time', time: new Date(target.time).toISOString(), match: target.match };
    case 'generation':
      return {
        kind: 'generation',
        generation: target.generation,
        ...(target.index !== undefined ? { index: hex8(target.index) } : {}),
        match: target.match,
      };
    case 'txid':
      return { kind: 'txid', txid: hex16(target.txid), match: target.match };
  }
}

/** Exit 78 unless `layout` can plan to `target`; a layout without `targets` only restores the newest state. */
export function checkTargetSupported(layout: Pick<Layout, 'name' | 'targets'>, target: RestoreTarget): void {
  if (target === 'latest') return;
  const supported = layout.targets ?? [];
  if (!supported.includes(target.kind)) {
    const others = supported.map((k) => TARGET_VARIABLES[k]);
    throw new ConfigError(
      `the ${layout.name} layout cannot restore to a target set by ${TARGET_VARIABLES[target.kind]}` +
        (others.length > 0 ? `; it supports ${others.join(' or ')}` : '; it only restores the newest backup'),
    );
  }
}
