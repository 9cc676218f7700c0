// What a backup layout hands the restore pipeline: a plan, i.e. the objects to
// read in order and the applier that knows how to turn them into a database.
// Layouts know key names, linkage and their formats; they never touch the
// local file system (the applier writes through the format-free machinery in
// src/apply/).
import type { Applier } from '../apply/applier.js';
import type { Compression } from '../codec/decoder.js';
import type { ObjectInfo, Store } from '../store/store.js';
import type { RestoreTarget, TargetKind } from './target.js';

export type { Compression };

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
  /** How the steps become a database (the layout's own format logic). */
  readonly applier: Applier;
  /**
   * Plans to a point in time only: the target as asked and what the plan
   * reaches (e.g. reachedTime, reachedTxid), copied into the marker.
   */
  readonly target?: Readonly<Record<string, string | number>>;
  /** Why this backup was chosen among several candidates (e.g. two layouts in one replica), logged before the restore. */
  readonly choice?: string;
  /** What this plan restores, in a few words, for messages when it is rejected or used as a fallback. */
  readonly description?: string;
  /** The verification the result needs at least, whatever SQLITE_RESTORE_VERIFY says. */
  readonly minVerify?: 'quick' | 'full';
  /**
   * Plans to try in order, best first, when this one cannot be built or its
   * result fails verification because of the backup's content (a
   * CorruptBackupError): for layouts whose objects are not provably linked,
   * where the best candidate is a guess. Each is built from scratch; the last
   * one's failure is the run's.
   */
  readonly fallbacks?: readonly RestorePlan[];
}

/** One table of a listing, rendered aligned by the `list` command. */
export interface ListingTable {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: ReadonlyArray<readonly string[]>;
}

/** What a replica holds in one layout, for the `list` command. */
export interface Listing {
  readonly layout: string;
  /** Layout-specific, JSON-ready description (generations, levels, ...), printed by `list --json`. */
  readonly details: Readonly<Record<string, unknown>>;
  /** The same for humans. */
  readonly tables: readonly ListingTable[];
  /** Things worth knowing (ignored keys, nothing restorable yet, ...). */
  readonly notes: readonly string[];
}

export interface Layout {
  readonly name: string;
  /**
   * The kinds of point-in-time target plan() accepts besides 'latest'. A
   * layout without it only restores the newest backup; asking it for more is
   * a configuration error (checkTargetSupported in target.ts).
   */
  readonly targets?: readonly TargetKind[];
  /**
   * The newest restorable backup (target 'latest', the default), or the
   * restore reaching `target`; null when the replica holds no backup at all.
   * A target the backups cannot reach is a TargetUnreachableError (exit 66).
   */
  plan(store: Store, signal: AbortSignal, target?: RestoreTarget): Promise<RestorePlan | null>;
  /** Everything of this layout the replica holds, for `sqlite-s3-restore list`. */
  list(store: Store, signal: AbortSignal): Promise<Listing>;
}

/**
 * When the state a plan restores was written to the replica: the time a
 * point-in-time plan reaches, else the newest upload among its objects.
 */
export function planWrittenAt(plan: RestorePlan): number {
  const reached = plan.target?.reachedTime;
  if (typeof reached === 'string') return Date.parse(reached);
  return plan.steps.reduce((newest, step) => Math.max(newest, step.object.lastModified.getTime()), 0);
}
