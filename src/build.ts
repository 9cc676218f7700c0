// Executes a restore plan into a new file: a worker thread streams the
// snapshot in while this thread validates the WAL segments frame by frame and
// folds them into a page map (pages spilled to disk); once both are done, each
// surviving page is written once. LTX plans (Litestream v0.5) take the same
// path with pages instead of WAL frames: the worker writes the first file's
// pages in place, later files are folded, one commit per file.
import { setMaxListeners } from 'node:events';
import fs from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { CorruptBackupError, toLocalIoError } from './errors.js';
import { fetchInOrder, type Fetched } from './fetch.js';
import type { LtxStep, PlanStep, RestorePlan, SnapshotStep, WalStep } from './layout/layout.js';
import { hex64, HEADER_FLAG_NO_CHECKSUM, isSnapshot, LtxDecoder, type LtxHeader, type LtxSummary } from './layout/ltx/decoder.js';
import { txidHex } from './layout/ltx/keys.js';
import { createDecoder, createSyncDecoder } from './decoders.js';
import { changeCounterOf, checkChangeCounter, Page1Tracker } from './layout/zlayer/linkage.js';
import { parseDbHeader } from './sqlite/header.js';
import { PageFolder } from './sqlite/page-folder.js';
import { WAL_HEADER_SIZE, WalReader } from './sqlite/wal.js';
import { pump } from './sink.js';
import { writeSnapshotInWorker, type WrittenSnapshot } from './snapshot-writer.js';
import { SpillFile } from './spill.js';
import { writeAllSync } from './write-all.js';
import type { Store } from './store/store.js';

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
  readonly walSegments: number;
  readonly walFrames: number;
  readonly transactions: number;
  readonly pagesWritten: number;
  /** Last WAL position applied: WAL index and the end offset inside it. */
  readonly position: { readonly index: number; readonly offset: number } | undefined;
  /** LTX plans: files applied and the TXID the database is at. */
  readonly ltx?: { readonly files: number; readonly txid: string };
}

const PREFETCH_BUDGET = 8 << 20;
/** Spill bytes read at a time when copying the surviving pages. */
const COPY_WINDOW = 4 << 20;

export async function buildDatabase(options: BuildOptions): Promise<BuildResult> {
  const { store, plan } = options;
  // Stops prefetches still in flight when the build fails half way.
  const local = new AbortController();
  const signal = AbortSignal.any([options.signal, local.signal]);
  setMaxListeners(1000, signal);
  const [first, ...rest] = plan.steps;
  if (first?.kind !== 'snapshot' && first?.kind !== 'ltx') {
    throw new CorruptBackupError(`${plan.layout} plan does not start with a snapshot`);
  }

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
    if (head.done) throw new CorruptBackupError('empty plan');
    spill = await SpillFile.create(options.spillPath).catch((err: unknown) => {
      throw toLocalIoError(err, `creating ${options.spillPath}`);
    });
    const folder = new PageFolder();
    // The snapshot is written by a worker thread while this one folds what follows it.
    const first = head.value.step;
    const name = first.object.key;
    if (first.kind === 'ltx' && first.minTxid !== 1n) {
      throw new CorruptBackupError(`${name}: an LTX restore must start with a snapshot (TXID 1)`);
    }
    const writing = writeSnapshotInWorker(head.value.body, {
      ...(first.kind === 'ltx' ? { format: 'ltx' as const } : { format: 'image' as const, compression: (first as SnapshotStep).compression }),
      fd: db.fd,
      name,
      signal,
    });
    const folding =
      first.kind === 'ltx'
        ? foldLtx(iterator, rest.length, spill, folder, signal)
        : foldWal(iterator, rest.length, plan, spill, folder, signal);
    const [image, wal] = await settleBoth(writing, folding, local);
    const snapshot = first.kind === 'ltx' ? checkLtxSnapshot(image, first) : checkSnapshot(image, name);
    wal.check(snapshot);
    spill.flush();

    const fold = folder.result();
    const finalPages = fold.dbSize ?? snapshot.pages;
    if (fold.minDbSize !== undefined && fold.minDbSize < snapshot.pages) {
      await db.truncate(fold.minDbSize * snapshot.pageSize);
    }
    const written = await copyPages(fold.pages, spill, db, snapshot.pageSize, signal);
    await db.truncate(finalPages * snapshot.pageSize);
    await db.sync();
    return {
      pageSize: snapshot.pageSize,
      pageCount: finalPages,
      walSegments: snapshot.ltx ? 0 : rest.length,
      walFrames: wal.frames,
      transactions: folder.transactions,
      pagesWritten: written,
      position: wal.position,
      ...(snapshot.ltx ? { ltx: { files: plan.steps.length, txid: txidHex((plan.steps.at(-1) as LtxStep).maxTxid) } } : {}),
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
async function settleBoth<A, B>(a: Promise<A>, b: Promise<B>, stop: AbortController): Promise<[A, B]> {
  try {
    return await Promise.all([a, b]);
  } catch (err) {
    stop.abort();
    await Promise.allSettled([a, b]);
    throw err;
  }
}

interface SnapshotFacts {
  readonly pageSize: number;
  readonly pages: number;
  readonly changeCounter: number;
  /** LTX snapshots: what the file held. */
  readonly ltx?: LtxSummary;
}

function checkSnapshot(written: WrittenSnapshot, name: string): SnapshotFacts {
  const header = parseDbHeader(written.head);
  if (typeof header === 'string') throw new CorruptBackupError(`${name}: snapshot is ${header}`);
  // Only the size is checked here: a snapshot's in-header page count may lag
  // behind (its WAL index replays from offset 0); the result is checked in full later.
  if (written.bytes % header.pageSize !== 0) {
    throw new CorruptBackupError(`${name}: snapshot size ${written.bytes} is not a multiple of its page size ${header.pageSize}`);
  }
  return { pageSize: header.pageSize, pages: written.bytes / header.pageSize, changeCounter: changeCounterOf(written.head) };
}

async function foldWal(
  iterator: AsyncIterator<Fetched<PlanStep>>,
  count: number,
  plan: RestorePlan,
  spill: SpillFile,
  folder: PageFolder,
  signal: AbortSignal,
): Promise<{ frames: number; position: BuildResult['position']; check: (snapshot: SnapshotFacts) => void }> {
  // Checks against the snapshot, which is still being written while the WAL is folded.
  const checks: Array<(snapshot: SnapshotFacts) => void> = [];
  let reader: WalReader | undefined;
  let readerIndex = -1;
  let readerStep: WalStep | undefined;
  let page1: Page1Tracker | undefined;
  let frames = 0;
  const finish = () => {
    if (!reader || !readerStep) return;
    reader.end();
    frames += reader.frames;
    if (readerStep.mode === 'lenient') {
      // A copied -wal file: whatever follows the last commit is not part of the database.
      folder.discardPending();
      if (reader.committedOffset <= WAL_HEADER_SIZE) {
        throw new CorruptBackupError(`${readerStep.object.key}: WAL holds no committed transaction with valid checksums`);
      }
    }
    if (page1) {
      const { versions } = page1;
      const key = readerStep.object.key;
      checks.push((snapshot) => checkChangeCounter(snapshot.changeCounter, versions, key));
    }
  };
  for (let i = 0; i < count; i += 1) {
    const next = await iterator.next();
    if (next.done) break;
    const step = next.value.step as WalStep;
    const name = step.object.key;
    if (step.walIndex !== readerIndex) {
      finish();
      readerIndex = step.walIndex;
      readerStep = step;
      const tracker = step.checkChangeCounter ? new Page1Tracker() : undefined;
      page1 = tracker;
      reader = new WalReader({
        name,
        mode: step.mode ?? 'strict',
        onFrame: (frame) => {
          tracker?.frame(frame.pgno, frame.page, frame.commitSize);
          folder.add(frame.pgno, spill.append(frame.page), frame.commitSize);
        },
      });
    }
    const wal = reader as WalReader;
    if (step.offset !== wal.offset) {
      next.value.body.destroy();
      throw new CorruptBackupError(
        step.offset > wal.offset
          ? `missing WAL segment ${plan.walKey(step.walIndex, wal.offset)} (the next segment present is ${name})`
          : `WAL segment ${name} overlaps the previous segment, which ends at offset ${wal.offset}`,
      );
    }
    wal.setName(name);
    if (!wal.walHeader) {
      checks.push((snapshot) => {
        const header = wal.walHeader;
        if (header && header.pageSize !== snapshot.pageSize) {
          throw new CorruptBackupError(`${name}: WAL page size ${header.pageSize} differs from the snapshot's ${snapshot.pageSize}`);
        }
      });
    }
    const { buffer } = next.value;
    if (buffer) {
      // Small prefetched segments (the common case) are decoded synchronously,
      // without the stream machinery and without a copy of each block: its
      // per-object cost dominated restores of thousands of segments.
      const decoder = await createSyncDecoder(step.compression, name);
      decoder.write(buffer, (data) => wal.push(data));
      decoder.end();
    } else {
      await pump(
        next.value.body,
        await createDecoder(step.compression, name),
        async (source) => {
          for await (const chunk of source) wal.push(chunk);
        },
        signal,
      );
    }
  }
  finish();
  const check = (snapshot: SnapshotFacts) => {
    for (const one of checks) one(snapshot);
  };
  // The end of the last commit: all of a strict WAL, the committed part of a lenient one.
  return { frames, position: reader ? { index: readerIndex, offset: reader.committedOffset } : undefined, check };
}

/** Streams the LTX decoder's pages out of `body`. */
async function decodeLtx(
  body: Readable,
  step: LtxStep,
  signal: AbortSignal,
  onPage: (pgno: number, data: Uint8Array) => void,
): Promise<LtxSummary> {
  const name = step.object.key;
  const decoder = new LtxDecoder({ name });
  let checked = false;
  await pump(
    body,
    undefined,
    async (source) => {
      for await (const chunk of source) {
        decoder.push(chunk);
        // One page at a time: a small chunk may decompress to many pages.
        for (let page = decoder.read(); page; page = decoder.read()) {
          if (!checked) checked = checkRange(decoder.header as LtxHeader, step);
          onPage(page.pgno, page.data);
        }
      }
    },
    signal,
  );
  const summary = decoder.end();
  checkRange(summary.header, step);
  return summary;
}

/** The key names the range; the header must agree, or the file is not what the plan needs. */
function checkRange(header: LtxHeader, step: LtxStep): true {
  if (header.minTxid !== step.minTxid || header.maxTxid !== step.maxTxid) {
    throw new CorruptBackupError(
      `${step.object.key}: header says TXIDs ${txidHex(header.minTxid)}-${txidHex(header.maxTxid)}, the name says ${txidHex(step.minTxid)}-${txidHex(step.maxTxid)}`,
    );
  }
  return true;
}

/** The first LTX file, written in place by the worker: its range, and page 1 agreeing with it. */
function checkLtxSnapshot(written: WrittenSnapshot, step: LtxStep): SnapshotFacts {
  const name = step.object.key;
  const summary = written.ltx as LtxSummary;
  checkRange(summary.header, step);
  const { pageSize } = summary.header;
  if (written.head.length > 0) {
    const header = parseDbHeader(written.head);
    if (typeof header === 'string') throw new CorruptBackupError(`${name}: snapshot page 1 is ${header}`);
    if (header.pageSize !== pageSize) {
      throw new CorruptBackupError(`${name}: database page size ${header.pageSize} differs from the LTX page size ${pageSize}`);
    }
  }
  return { pageSize, pages: summary.header.commit, changeCounter: changeCounterOf(written.head), ltx: summary };
}

/**
 * Later LTX files: each is one commit to `commit` pages; pages go to the spill
 * file and the folder. What must be compared with the snapshot (still being
 * written meanwhile) is checked once it is done.
 */
async function foldLtx(
  iterator: AsyncIterator<{ step: PlanStep; body: Readable }>,
  count: number,
  spill: SpillFile,
  folder: PageFolder,
  signal: AbortSignal,
): Promise<{ frames: number; position: BuildResult['position']; check: (snapshot: SnapshotFacts) => void }> {
  const checks: Array<(snapshot: SnapshotFacts) => void> = [];
  let previous: LtxSummary | undefined;
  for (let i = 0; i < count; i += 1) {
    const next = await iterator.next();
    if (next.done) break;
    const step = next.value.step as LtxStep;
    const name = step.object.key;
    // The folder commits on a page with a size, so each page is held back until the next one (or the end) is known.
    let held: [number, number] | undefined;
    const summary = await decodeLtx(next.value.body, step, signal, (pgno, data) => {
      if (held) folder.add(held[0], held[1], 0);
      held = [pgno, spill.append(data)];
    });
    const { header } = summary;
    checks.push((snapshot) => {
      if (header.pageSize !== snapshot.pageSize) {
        throw new CorruptBackupError(`${name}: LTX page size ${header.pageSize} differs from the snapshot's ${snapshot.pageSize}`);
      }
    });
    if (previous) checkChain(previous, summary, name);
    else checks.push((snapshot) => checkChain(snapshot.ltx as LtxSummary, summary, name));
    if (held) folder.add(held[0], held[1], header.commit);
    else {
      const resizes = (size: number) => {
        if (header.commit !== size) {
          throw new CorruptBackupError(`${name}: an LTX file without pages that resizes the database (${size} -> ${header.commit}) is not supported`);
        }
      };
      if (previous) resizes(previous.header.commit);
      else checks.push((snapshot) => resizes(snapshot.pages));
    }
    previous = summary;
  }
  return {
    frames: 0,
    position: undefined,
    check: (snapshot) => {
      for (const one of checks) one(snapshot);
    },
  };
}

/**
 * Where one file starts right after the previous one ends, its pre-apply
 * checksum (the database's rolling checksum before it) must be the previous
 * file's post-apply checksum: this catches a file from another lineage that
 * merely has the right TXIDs. Overlapping files and files written without
 * checksums cannot be compared.
 */
function checkChain(previous: LtxSummary, current: LtxSummary, name: string): void {
  const a = previous.header;
  const b = current.header;
  if (b.minTxid !== a.maxTxid + 1n || isSnapshot(b)) return;
  if (((a.flags | b.flags) & HEADER_FLAG_NO_CHECKSUM) !== 0) return;
  if (b.preApplyChecksum !== previous.trailer.postApplyChecksum) {
    throw new CorruptBackupError(
      `${name} does not continue the previous LTX file: its pre-apply checksum ${hex64(b.preApplyChecksum)} is not the database checksum ${hex64(previous.trailer.postApplyChecksum)} after TXID ${txidHex(a.maxTxid)}`,
    );
  }
}

/**
 * Writes each surviving page once. The spill is read sequentially in large
 * windows and pages are written in spill order with synchronous positional
 * writes: one small write each (adjacent pages coalesced) instead of an async
 * read and write round trip per page.
 */
async function copyPages(
  pages: ReadonlyArray<[number, number]>,
  spill: SpillFile,
  db: fs.FileHandle,
  pageSize: number,
  signal: AbortSignal,
): Promise<number> {
  const byLocation = [...pages].sort((a, b) => a[1] - b[1]);
  const window = Buffer.allocUnsafe(Math.max(COPY_WINDOW, pageSize));
  let i = 0;
  while (i < byLocation.length) {
    signal.throwIfAborted();
    const windowStart = (byLocation[i] as [number, number])[1];
    const windowLength = Math.min(window.length, spill.size - windowStart);
    await spill.read(window, windowLength, windowStart);
    while (i < byLocation.length) {
      const [pgno, location] = byLocation[i] as [number, number];
      if (location + pageSize > windowStart + windowLength) break;
      let n = 1;
      while (i + n < byLocation.length) {
        const [nextPgno, nextLocation] = byLocation[i + n] as [number, number];
        if (nextPgno !== pgno + n || nextLocation !== location + n * pageSize || nextLocation + pageSize > windowStart + windowLength) break;
        n += 1;
      }
      writeAllSync(db.fd, window.subarray(location - windowStart, location - windowStart + n * pageSize), (pgno - 1) * pageSize);
      i += n;
    }
    // Let SIGTERM and timers in between windows.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return pages.length;
}
