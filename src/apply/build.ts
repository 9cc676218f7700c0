// Executes a restore plan into a new file, whatever its layout: a worker
// thread decodes the first object (the snapshot) into the file through the
// layout's snapshot source, while this thread hands the objects after it to
// the layout's fold, which turns them into pages and commits. Pages the
// snapshot has already passed go straight into the file; the others are
// spilled, and the surviving ones written once, when both are done (or
// earlier, at a commit, when the page map or the spill outgrows its budget).
import { setMaxListeners } from 'node:events';
import fs from 'node:fs/promises';
import { CorruptBackupError, toLocalIoError } from '../errors.js';
import type { PlanStep, RestorePlan } from '../layout/layout.js';
import type { Store } from '../store/store.js';
import { fetchInOrder } from './fetch.js';
import { FoldedPages, type SnapshotFacts } from './folded-pages.js';
import { SnapshotProgress } from './snapshot-progress.js';
import { writeSnapshot } from './snapshot-writer.js';
import { SpillFile } from './spill.js';

export interface BuildOptions {
  readonly store: Store;
  readonly plan: RestorePlan;
  readonly dbTempPath: string;
  readonly spillPath: string;
  readonly concurrency: number;
  readonly signal: AbortSignal;
  readonly onBytes: (n: number) => void;
}

export interface BuildResult {
  readonly pageSize: number;
  readonly pageCount: number;
  readonly transactions: number;
  /** Pages written after the snapshot: straight into the file, and from the spill (each surviving page once per write-out). */
  readonly pagesWritten: number;
  /** Pages that went through the spill file (those the snapshot had not passed yet). */
  readonly pagesSpilled: number;
  /** Layout-specific figures (WAL segments and position, LTX files and TXID...). */
  readonly details: Readonly<Record<string, unknown>>;
}

const PREFETCH_BUDGET = 8 << 20;

export async function buildDatabase(options: BuildOptions): Promise<BuildResult> {
  const { store, plan } = options;
  const { applier } = plan;
  // Stops prefetches still in flight when the build fails half way.
  const local = new AbortController();
  const signal = AbortSignal.any([options.signal, local.signal]);
  setMaxListeners(1000, signal);

  // Private until published: the final mode and owner are set just before the rename.
  const db = await open(options.dbTempPath, 'wx+', 0o600);
  let spill: SpillFile | undefined;
  try {
    const fetched = fetchInOrder<PlanStep>(store, plan.steps, {
      concurrency: options.concurrency,
      budgetBytes: PREFETCH_BUDGET,
      signal,
      onBytes: options.onBytes,
    });
    const iterator = fetched[Symbol.asyncIterator]();
    const head = await iterator.next();
    if (head.done) throw new CorruptBackupError(`${plan.layout}: empty plan`);
    spill = await SpillFile.create(options.spillPath).catch((err: unknown) => {
      throw toLocalIoError(err, `creating ${options.spillPath}`);
    });
    const first = head.value.step;
    const progress = new SnapshotProgress();
    const writing = writeSnapshot(head.value.buffer ?? head.value.body, {
      source: applier.snapshotSource(first),
      fd: db.fd,
      name: first.object.key,
      size: first.object.size,
      progress: progress.buffer,
      signal,
    });
    const snapshot = writing.then((written) => applier.inspectSnapshot(written, first));
    // Also awaited by the pages' early write-outs; its failure is reported once, below.
    snapshot.catch(() => undefined);
    const pages = new FoldedPages(spill, db, snapshot, progress, signal);
    if (applier.foldAfterSnapshot) await snapshot;
    const folding = applier.fold({ steps: iterator, count: plan.steps.length - 1, pages, signal });
    const [facts, fold] = await settleBoth(snapshot, folding, local);
    fold.check(facts);
    const applied = await pages.finish();
    // Not synced here: the restore flushes the file to disk while SQLite verifies it (restore.ts).
    return {
      pageSize: facts.pageSize,
      pageCount: applied.pageCount,
      transactions: pages.transactions,
      pagesWritten: applied.pagesWritten,
      pagesSpilled: applied.pagesSpilled,
      details: { ...fold.details, ...(applied.earlyFlushes > 0 ? { earlyWriteOuts: applied.earlyFlushes } : {}) },
    };
  } catch (err) {
    throw toLocalIoError(err, `building ${options.dbTempPath}`);
  } finally {
    local.abort();
    await spill?.close().catch(() => undefined);
    await db.close().catch(() => undefined);
  }
}

async function open(path: string, flags: string, mode: number): Promise<fs.FileHandle> {
  try {
    return await fs.open(path, flags, mode);
  } catch (err) {
    throw toLocalIoError(err, `creating ${path}`);
  }
}

/** Both, or the first failure once the other has stopped too (it may still use the file). */
async function settleBoth<A extends SnapshotFacts, B>(a: Promise<A>, b: Promise<B>, stop: AbortController): Promise<[A, B]> {
  try {
    return await Promise.all([a, b]);
  } catch (err) {
    stop.abort();
    await Promise.allSettled([a, b]);
    throw err;
  }
}
