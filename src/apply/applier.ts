// What a backup layout provides so that its plans can be applied: how its
// first object becomes the database file (decoded in a worker thread), how
// the objects after it become pages, and the checks between the two. The
// machinery that runs them (fetching, the worker, the page map, the spill,
// writing the result) is format-free and lives beside this file.
import type { PlanStep } from '../layout/layout.js';
import type { Fetched } from './fetch.js';
import type { PageSink, SnapshotFacts } from './folded-pages.js';
import type { SnapshotSourceSpec } from './snapshot-source.js';
import type { WrittenSnapshot } from './snapshot-writer.js';

export interface FoldContext {
  /** The plan's steps after the first, in order, fetched. */
  readonly steps: AsyncIterator<Fetched<PlanStep>>;
  readonly count: number;
  readonly pages: PageSink;
  readonly signal: AbortSignal;
}

export interface FoldOutcome<F extends SnapshotFacts> {
  /** Checks that need the snapshot (page sizes, linkage); throws a CorruptBackupError. */
  check(snapshot: F): void;
  /** Layout-specific figures for the log and the marker (JSON-ready). */
  readonly details: Readonly<Record<string, unknown>>;
}

export interface Applier<F extends SnapshotFacts = SnapshotFacts> {
  /** The worker-side decoder of the plan's first step. */
  snapshotSource(first: PlanStep): SnapshotSourceSpec;
  /** Checks what the worker wrote; returns what the checks of the fold need. */
  inspectSnapshot(written: WrittenSnapshot, first: PlanStep): F;
  /** Turns the steps after the first into pages and commits. */
  fold(context: FoldContext): Promise<FoldOutcome<F>>;
  /**
   * Fold only once the snapshot is written: for layouts whose objects may
   * each need a large decoder window (zstd up to 128 MiB), so that two of
   * them are never held at once.
   */
  readonly foldAfterSnapshot?: boolean;
}
