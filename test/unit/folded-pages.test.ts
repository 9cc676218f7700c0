// FoldedPages (src/apply/folded-pages.ts): which pages go straight into the
// database file and which through the spill, and that the file ends up as the
// newest committed copy of every page either way. The snapshot is simulated:
// its pages are in the file, and the test moves its progress by hand.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { FoldedPages, type SnapshotFacts } from '../../src/apply/folded-pages.js';
import { SnapshotProgress } from '../../src/apply/snapshot-progress.js';
import { SpillFile } from '../../src/apply/spill.js';
import { makeTempDir, removeDir } from '../support/paths.js';

const PS = 4096;
let work: string;
let counter = 0;

before(async () => {
  work = await makeTempDir('unit-folded-pages');
});

after(async () => {
  if (work) await removeDir(work);
});

/** A page whose every byte says which page and which version it is. */
const version = (pgno: number, v: number) => Buffer.alloc(PS, pgno * 16 + v);

interface Fold {
  readonly pages: FoldedPages;
  readonly progress: SnapshotProgress;
  /** Writes out what is left and returns the summary with the file's pages. */
  finish(): Promise<{ summary: Awaited<ReturnType<FoldedPages['finish']>>; file: Buffer }>;
  /** Closes the files without finishing. */
  close(): Promise<void>;
}

/** A file holding a `snapshotPages`-page snapshot (version 0 of each page), and the fold over it. */
async function fold(
  snapshotPages: number,
  budgets?: { pages: number; spillBytes: number },
  snapshotDone?: Promise<void>,
  signal = new AbortController().signal,
): Promise<Fold> {
  counter += 1;
  const file = path.join(work, `db-${counter}`);
  const db: FileHandle = await open(file, 'wx+');
  for (let pgno = 1; pgno <= snapshotPages; pgno += 1) await db.write(version(pgno, 0), 0, PS, (pgno - 1) * PS);
  const spill = await SpillFile.create(path.join(work, `spill-${counter}`));
  const facts: SnapshotFacts = { pageSize: PS, pages: snapshotPages };
  const progress = new SnapshotProgress();
  const snapshot = (snapshotDone ?? Promise.resolve()).then(() => facts);
  const pages = new FoldedPages(spill, db, snapshot, progress, signal, budgets);
  return {
    pages,
    progress,
    async finish() {
      try {
        const summary = await pages.finish();
        return { summary, file: await readFile(file) };
      } finally {
        await spill.close();
        await db.close();
      }
    },
    async close() {
      await spill.close();
      await db.close();
    },
  };
}

function assertPages(file: Buffer, expected: Array<[number, number]>): void {
  assert.equal(file.length, expected.length * PS, 'file size');
  for (const [i, [pgno, v]] of expected.entries()) {
    assert.equal(pgno, i + 1);
    assert.ok(file.subarray(i * PS, (i + 1) * PS).equals(version(pgno, v)), `page ${pgno} should be version ${v}`);
  }
}

test('pages the snapshot has passed go straight into the file, the others through the spill', async () => {
  const { pages, progress, finish } = await fold(8);
  progress.settle(4 * PS);
  pages.write(2, version(2, 1));
  pages.write(6, version(6, 1));
  pages.commit(8);
  const { summary, file } = await finish();
  assert.equal(summary.pagesSpilled, 1, 'only page 6 waits for the snapshot');
  assert.equal(summary.pagesWritten, 2);
  assertPages(file, [[1, 0], [2, 1], [3, 0], [4, 0], [5, 0], [6, 1], [7, 0], [8, 0]]);
});

test('a spilled copy is not written over a newer one that went straight in', async () => {
  const { pages, progress, finish } = await fold(4);
  pages.write(2, version(2, 1));
  pages.commit(4);
  progress.settle(4 * PS);
  pages.write(2, version(2, 2));
  pages.commit(4);
  const { summary, file } = await finish();
  assert.equal(summary.pagesSpilled, 1);
  assertPages(file, [[1, 0], [2, 2], [3, 0], [4, 0]]);
});

test('after a shrink, pages above it wait in the spill, and a copy written before it is cut off', async () => {
  const { pages, progress, finish } = await fold(8);
  progress.settle(8 * PS);
  pages.write(3, version(3, 1));
  pages.write(7, version(7, 1));
  pages.write(5, version(5, 1)); // still gathered in memory when the fold ends
  pages.commit(8);
  pages.write(9, version(9, 1)); // beyond the file: spilled, and cut off by the commit
  pages.commit(4);
  // Growing again: SQLite writes every page it adds; these land after the truncation to 4.
  for (const pgno of [5, 6, 7]) pages.write(pgno, version(pgno, 2));
  pages.commit(7);
  const { summary, file } = await finish();
  assert.equal(summary.pagesSpilled, 4);
  assertPages(file, [[1, 0], [2, 0], [3, 1], [4, 0], [5, 2], [6, 2], [7, 2]]);
});

test('pages of a held transaction wait for its commit, and vanish with it', async () => {
  const { pages, progress, finish } = await fold(4);
  progress.settle(4 * PS);
  pages.hold(true);
  pages.write(2, version(2, 1));
  pages.commit(4);
  pages.write(3, version(3, 1)); // never committed
  pages.discardPending();
  pages.hold(false);
  const { summary, file } = await finish();
  assert.equal(summary.pagesSpilled, 2);
  assertPages(file, [[1, 0], [2, 1], [3, 0], [4, 0]]);
});

test('after an early write-out, pages within the file go straight in and pages that grow it are spilled', async () => {
  const { pages, finish } = await fold(4, { pages: 1, spillBytes: 1 << 30 });
  pages.write(2, version(2, 1));
  pages.commit(4);
  assert.ok(pages.wantsRelief);
  await pages.relieve();
  pages.write(3, version(3, 1));
  pages.write(5, version(5, 1));
  pages.commit(5);
  const { summary, file } = await finish();
  assert.equal(summary.earlyFlushes, 1);
  assert.equal(summary.pagesSpilled, 2, 'page 2 before the write-out, page 5 beyond the file');
  assertPages(file, [[1, 0], [2, 1], [3, 1], [4, 0], [5, 1]]);
});

test('pages of another size than the snapshot\'s fail the fold, whichever way they went', async () => {
  const { pages, progress, finish } = await fold(4);
  progress.settle(4 * PS);
  pages.write(2, Buffer.alloc(PS / 2));
  assert.throws(() => pages.write(3, Buffer.alloc(PS)), /pages change size from 2048 to 4096 bytes/);
  pages.commit(4);
  await assert.rejects(finish(), /the backup's pages are 2048 bytes but its snapshot's are 4096/);
});

/** Whether `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

test('admit waits until the snapshot has passed the page, or has ended', async () => {
  let end: () => void = () => undefined;
  const snapshotDone = new Promise<void>((resolve) => (end = resolve));
  const { pages, progress, finish } = await fold(8, undefined, snapshotDone);
  progress.settle(2 * PS);
  assert.equal(pages.admit(2, PS), undefined, 'page 2 is passed: nothing to wait for');
  const page3 = pages.admit(3, PS) as Promise<void>;
  assert.ok(page3 instanceof Promise);
  assert.equal(await settlesWithin(page3, 120), false, 'waits while the snapshot is at page 2');
  progress.settle(3 * PS);
  assert.equal(await settlesWithin(page3, 40), true, 'woken by the progress, before its 50 ms timeout');
  const page9 = pages.admit(9, PS) as Promise<void>;
  progress.settle(8 * PS);
  assert.equal(await settlesWithin(page9, 120), false, 'page 9 lies past the snapshot: it waits for its end');
  end();
  assert.equal(await settlesWithin(page9, 200), true);
  assert.equal(pages.admit(9, PS), undefined);
  await finish();
});

test('a wait for the snapshot ends with the abort of the build', async () => {
  const stop = new AbortController();
  const { pages, close } = await fold(8, undefined, new Promise<void>(() => undefined), stop.signal);
  const waiting = pages.admit(5, PS) as Promise<void>;
  stop.abort();
  await assert.rejects(waiting, { name: 'AbortError' });
  await close();
});
