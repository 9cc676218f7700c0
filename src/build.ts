// Executes a restore plan into a new file: the snapshot is streamed in, WAL
// segments are validated frame by frame and folded into a page map (pages
// spilled to disk), and finally each surviving page is written once.
import fs from 'node:fs/promises';
import { PassThrough, type Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CorruptBackupError, toLocalIoError } from './errors.js';
import { fetchInOrder } from './fetch.js';
import type { Compression, PlanStep, RestorePlan, WalStep } from './layout/layout.js';
import { createLz4FrameDecoder } from './lz4/frame.js';
import { DB_HEADER_SIZE, parseDbHeader } from './sqlite/header.js';
import { PageFolder } from './sqlite/page-folder.js';
import { WalReader } from './sqlite/wal.js';
import { SpillFile } from './spill.js';
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
}

const PREFETCH_BUDGET = 64 << 20;
const COPY_RUN_LIMIT = 4 << 20;

async function decoder(compression: Compression, name: string): Promise<Transform> {
  return compression === 'lz4' ? createLz4FrameDecoder({ name }) : new PassThrough();
}

export async function buildDatabase(options: BuildOptions): Promise<BuildResult> {
  const { store, plan } = options;
  // Stops prefetches still in flight when the build fails half way.
  const local = new AbortController();
  const signal = AbortSignal.any([options.signal, local.signal]);
  const [first, ...rest] = plan.steps;
  if (first?.kind !== 'snapshot') throw new CorruptBackupError(`${plan.layout} plan does not start with a snapshot`);

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
    const snapshot = await writeSnapshot(head.value.body, head.value.step, db, signal);

    spill = await SpillFile.create(options.spillPath).catch((err: unknown) => {
      throw toLocalIoError(err, `creating ${options.spillPath}`);
    });
    const folder = new PageFolder();
    const wal = await foldWal(iterator, rest.length, plan, snapshot.pageSize, spill, folder, signal);
    await spill.flush();

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
      walSegments: rest.length,
      walFrames: wal.frames,
      transactions: folder.transactions,
      pagesWritten: written,
      position: wal.position,
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

async function writeSnapshot(
  body: Readable,
  step: PlanStep,
  db: fs.FileHandle,
  signal: AbortSignal,
): Promise<{ pageSize: number; pages: number }> {
  const name = step.object.key;
  let position = 0;
  const head = Buffer.alloc(DB_HEADER_SIZE);
  await pipeline(
    body,
    await decoder(step.compression, name),
    async function (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        if (position < DB_HEADER_SIZE) chunk.copy(head, position, 0, Math.min(chunk.length, DB_HEADER_SIZE - position));
        await writeAll(db, chunk, position);
        position += chunk.length;
      }
    },
    { signal },
  );
  const header = parseDbHeader(position >= DB_HEADER_SIZE ? head : head.subarray(0, position));
  if (typeof header === 'string') throw new CorruptBackupError(`${name}: snapshot is ${header}`);
  // Only the size is checked here: a snapshot's in-header page count may lag
  // behind (its WAL index replays from offset 0); the result is checked in full later.
  if (position % header.pageSize !== 0) {
    throw new CorruptBackupError(`${name}: snapshot size ${position} is not a multiple of its page size ${header.pageSize}`);
  }
  return { pageSize: header.pageSize, pages: position / header.pageSize };
}

async function foldWal(
  iterator: AsyncIterator<{ step: PlanStep; body: Readable }>,
  count: number,
  plan: RestorePlan,
  pageSize: number,
  spill: SpillFile,
  folder: PageFolder,
  signal: AbortSignal,
): Promise<{ frames: number; position: BuildResult['position'] }> {
  let reader: WalReader | undefined;
  let readerIndex = -1;
  let frames = 0;
  const finish = () => {
    if (!reader) return;
    reader.end();
    frames += reader.frames;
  };
  for (let i = 0; i < count; i += 1) {
    const next = await iterator.next();
    if (next.done) break;
    const step = next.value.step as WalStep;
    const name = step.object.key;
    if (step.walIndex !== readerIndex) {
      finish();
      readerIndex = step.walIndex;
      reader = new WalReader({
        name,
        mode: 'strict',
        onFrame: (frame) => folder.add(frame.pgno, spill.append(frame.page), frame.commitSize),
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
    await pipeline(
      next.value.body,
      await decoder(step.compression, name),
      async function (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          wal.push(chunk);
          const header = wal.walHeader;
          if (header && header.pageSize !== pageSize) {
            throw new CorruptBackupError(`${name}: WAL page size ${header.pageSize} differs from the snapshot's ${pageSize}`);
          }
          await spill.drain();
        }
      },
      { signal },
    );
  }
  finish();
  return { frames, position: reader ? { index: readerIndex, offset: reader.offset } : undefined };
}

/** Writes each surviving page once, coalescing runs that are adjacent in both files. */
async function copyPages(
  pages: ReadonlyArray<[number, number]>,
  spill: SpillFile,
  db: fs.FileHandle,
  pageSize: number,
  signal: AbortSignal,
): Promise<number> {
  const buffer = Buffer.allocUnsafe(Math.max(COPY_RUN_LIMIT, pageSize));
  let i = 0;
  while (i < pages.length) {
    signal.throwIfAborted();
    const [startPgno, startLocation] = pages[i] as [number, number];
    let n = 1;
    while (i + n < pages.length && (n + 1) * pageSize <= buffer.length) {
      const [pgno, location] = pages[i + n] as [number, number];
      if (pgno !== startPgno + n || location !== startLocation + n * pageSize) break;
      n += 1;
    }
    await spill.read(buffer, n * pageSize, startLocation);
    await writeAll(db, buffer.subarray(0, n * pageSize), (startPgno - 1) * pageSize);
    i += n;
  }
  return pages.length;
}

async function writeAll(handle: fs.FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}
