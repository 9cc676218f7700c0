// What a backup layout hands the restore pipeline: a plan, i.e. the objects to
// read in order and how to apply each. Layouts know key names and linkage;
// they never touch the local file system.
import type { ObjectInfo, Store } from '../store/store.js';

export type Compression = 'lz4' | 'none';

export interface SnapshotStep {
  readonly kind: 'snapshot';
  readonly object: ObjectInfo;
  readonly compression: Compression;
}

export interface WalStep {
  readonly kind: 'wal';
  readonly object: ObjectInfo;
  readonly compression: Compression;
  /** Which WAL file (Litestream's WAL index) this segment belongs to. */
  readonly walIndex: number;
  /** Byte offset of this segment inside that WAL file. */
  readonly offset: number;
}

/**
 * One LTX file (Litestream v0.5): a compressed set of pages and the database
 * size after them. The first step of an LTX plan is a whole database (its
 * range starts at TXID 1); each later one is applied as one commit.
 */
export interface LtxStep {
  readonly kind: 'ltx';
  readonly object: ObjectInfo;
  readonly level: number;
  readonly minTxid: bigint;
  readonly maxTxid: bigint;
}

export type PlanStep = SnapshotStep | WalStep | LtxStep;

export interface RestorePlan {
  readonly layout: string;
  /** Layout-specific identity of the chosen backup, copied into the marker and logs. */
  readonly source: Readonly<Record<string, string | number>>;
  /** Things the operator should know about this backup; logged and kept in the marker. */
  readonly warnings: readonly string[];
  /** A snapshot first, then WAL segments in apply order; or LTX steps only. */
  readonly steps: readonly PlanStep[];
  /** Key of the object that should exist at a WAL position, for error messages about gaps (WAL layouts). */
  walKey(walIndex: number, offset: number): string;
}

export interface Layout {
  readonly name: string;
  /** The newest restorable backup, or null when the replica holds none. */
  plan(store: Store, signal: AbortSignal): Promise<RestorePlan | null>;
}
