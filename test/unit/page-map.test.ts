import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PageMap, sortBySlot } from '../../src/apply/page-map.js';

/** The old PageFolder's view of a map: committed pages ascending by page number. */
class PageFolder {
  readonly map = new PageMap();

  constructor(hold = true) {
    this.map.hold(hold);
  }

  add(pgno: number, slot: number, commitSize: number): void {
    this.map.write(pgno, slot);
    if (commitSize > 0) this.map.commit(commitSize);
  }

  discardPending(): void {
    this.map.discardPending();
  }

  get hasPending(): boolean {
    return this.map.hasPending;
  }

  get transactions(): number {
    return this.map.transactions;
  }

  result(): { dbSize: number | undefined; minDbSize: number | undefined; pages: Array<[number, number]> } {
    const { pgnos, slots } = this.map.bySlot();
    const pages = Array.from(pgnos, (pgno, i): [number, number] => [pgno, slots[i] as number]).sort((a, b) => a[0] - b[0]);
    return { ...this.map.state, pages };
  }
}

/** Adds frames [pgno, slot, commitSize] in order; frames wait for their commit. */
function fold(frames: Array<[number, number, number]>): PageFolder {
  const folder = new PageFolder();
  for (const [pgno, slot, commit] of frames) folder.add(pgno, slot, commit);
  return folder;
}

test('empty folder: nothing committed', () => {
  const r = new PageFolder().result();
  assert.equal(r.dbSize, undefined);
  assert.equal(r.minDbSize, undefined);
  assert.deepEqual(r.pages, []);
});

test('the newest committed version of a page wins', () => {
  const folder = fold([
    [1, 100, 0],
    [2, 200, 3], // tx 1
    [2, 300, 0],
    [3, 400, 3], // tx 2
    [2, 500, 3], // tx 3
  ]);
  const r = folder.result();
  assert.deepEqual(r.pages, [
    [1, 100],
    [2, 500],
    [3, 400],
  ]);
  assert.equal(r.dbSize, 3);
  assert.equal(folder.transactions, 3);
});

test('within one transaction the later frame of a page wins', () => {
  const r = fold([
    [4, 10, 0],
    [4, 20, 0],
    [1, 30, 4],
  ]).result();
  assert.deepEqual(r.pages, [
    [1, 30],
    [4, 20],
  ]);
});

test('uncommitted (pending) frames are not in the result', () => {
  const folder = fold([
    [1, 100, 0],
    [2, 200, 2], // committed
    [2, 999, 0], // pending: newer version of page 2
    [7, 998, 0], // pending: new page
  ]);
  assert.equal(folder.hasPending, true);
  const r = folder.result();
  assert.deepEqual(r.pages, [
    [1, 100],
    [2, 200],
  ]);
  assert.equal(r.dbSize, 2);
  assert.equal(folder.transactions, 1);
});

test('discardPending drops an aborted transaction so a later commit does not include it', () => {
  const folder = fold([
    [1, 100, 1],
    [2, 999, 0], // never committed
  ]);
  folder.discardPending();
  assert.equal(folder.hasPending, false);
  folder.add(1, 300, 1);
  const r = folder.result();
  assert.deepEqual(r.pages, [[1, 300]]);
  assert.equal(folder.transactions, 2);
});

test('without discardPending, pending frames are committed by the next commit frame', () => {
  const folder = fold([
    [1, 100, 1],
    [2, 200, 0],
  ]);
  folder.add(3, 300, 3);
  assert.deepEqual(folder.result().pages, [
    [1, 100],
    [2, 200],
    [3, 300],
  ]);
});

test('a shrinking commit drops pages beyond the new size', () => {
  const folder = fold([
    [1, 10, 0],
    [2, 20, 0],
    [3, 30, 0],
    [4, 40, 0],
    [5, 50, 5], // db has 5 pages
    [1, 60, 3], // shrinks to 3 pages
  ]);
  const r = folder.result();
  assert.deepEqual(r.pages, [
    [1, 60],
    [2, 20],
    [3, 30],
  ]);
  assert.equal(r.dbSize, 3);
  assert.equal(r.minDbSize, 3);
});

test('a shrinking commit also drops pages written in the same transaction beyond the size', () => {
  const r = fold([
    [1, 10, 0],
    [2, 20, 0],
    [6, 25, 6], // db has 6 pages
    [5, 30, 0], // spilled frame of a page that the commit then truncates away
    [6, 35, 0],
    [2, 40, 4], // shrinks to 4 pages
  ]).result();
  assert.deepEqual(r.pages, [
    [1, 10],
    [2, 40],
  ]);
  assert.equal(r.dbSize, 4);
});

test('the first commit drops pages beyond its size (the snapshot may have been larger)', () => {
  const r = fold([
    [1, 10, 0],
    [9, 90, 0],
    [2, 20, 2],
  ]).result();
  assert.deepEqual(r.pages, [
    [1, 10],
    [2, 20],
  ]);
  assert.equal(r.dbSize, 2);
  assert.equal(r.minDbSize, 2);
});

test('growing again after a shrink: truncated pages stay gone unless rewritten; minDbSize tracks the smallest size', () => {
  const folder = fold([
    [1, 10, 0],
    [2, 20, 0],
    [3, 30, 0],
    [4, 40, 4], // 4 pages
    [1, 50, 2], // shrink to 2: pages 3 and 4 dropped
    [4, 60, 0],
    [1, 70, 4], // grow to 4: page 4 rewritten, page 3 not
    [5, 80, 5], // grow to 5
  ]);
  const r = folder.result();
  assert.deepEqual(r.pages, [
    [1, 70],
    [2, 20],
    [4, 60],
    [5, 80],
  ]);
  assert.equal(r.dbSize, 5);
  assert.equal(r.minDbSize, 2);
  assert.equal(folder.transactions, 4);
});

test('minDbSize equals dbSize when the database only grows', () => {
  const r = fold([
    [1, 1, 1],
    [2, 2, 2],
    [3, 3, 3],
  ]).result();
  assert.equal(r.dbSize, 3);
  assert.equal(r.minDbSize, 1);
});

test('pages are sorted ascending by page number whatever the order of frames', () => {
  const order = [17, 3, 250, 1, 42, 8, 99, 2, 64, 5];
  const folder = new PageFolder();
  order.forEach((pgno, i) => folder.add(pgno, i * 4096, i === order.length - 1 ? 300 : 0));
  const r = folder.result();
  assert.deepEqual(
    r.pages.map(([pgno]) => pgno),
    [...order].sort((a, b) => a - b),
  );
  // Numeric, not lexicographic order.
  assert.deepEqual(r.pages.slice(0, 3).map(([p]) => p), [1, 2, 3]);
  const byPage = new Map(r.pages);
  order.forEach((pgno, i) => assert.equal(byPage.get(pgno), i * 4096));
});

test('result() is a snapshot: later frames do not change an earlier result', () => {
  const folder = fold([[1, 10, 1]]);
  const first = folder.result();
  folder.add(1, 20, 1);
  assert.deepEqual(first.pages, [[1, 10]]);
  assert.deepEqual(folder.result().pages, [[1, 20]]);
});

test('frames are recorded at once when not holding (strict WALs: an uncommitted tail fails the restore anyway)', () => {
  const folder = new PageFolder(false);
  folder.add(3, 7, 0);
  assert.equal(folder.hasPending, false);
  assert.deepEqual(folder.result().pages, [[3, 7]]);
  folder.add(9, 8, 5); // commits at 5 pages: page 9 is past the end
  assert.deepEqual(folder.result().pages, [[3, 7]]);
});

test('clear() forgets applied pages and sizes but keeps a pending transaction', () => {
  const folder = fold([
    [1, 1, 2],
    [2, 2, 0],
  ]);
  folder.map.clear();
  assert.equal(folder.map.entries, 0);
  assert.equal(folder.map.state.dbSize, undefined);
  assert.equal(folder.hasPending, true);
  folder.add(3, 3, 3);
  assert.deepEqual(folder.result().pages, [
    [2, 2],
    [3, 3],
  ]);
});

test('sortBySlot orders pairs by slot across both 16-bit halves', () => {
  let seed = 7;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  const n = 10_000;
  const slots = Uint32Array.from({ length: n }, () => random());
  const pgnos = Uint32Array.from(slots, (s) => (s ^ 0x5555) >>> 0);
  const sorted = sortBySlot(pgnos, slots);
  for (let i = 1; i < n; i += 1) assert.ok(sorted.slots[i - 1]! <= sorted.slots[i]!);
  for (let i = 0; i < n; i += 1) assert.equal(sorted.pgnos[i], (sorted.slots[i]! ^ 0x5555) >>> 0);
});

test('a transaction of a million distinct pages costs a few bytes a page, not hundreds', () => {
  const before = process.memoryUsage().arrayBuffers;
  const map = new PageMap();
  for (let pgno = 1; pgno <= 1_000_000; pgno += 1) map.write(pgno * 3, pgno);
  map.commit(3_000_000);
  const used = process.memoryUsage().arrayBuffers - before;
  assert.equal(map.entries, 1_000_000);
  // 2^21 slots x (4 + 4) bytes at most, plus the table it grew from.
  assert.ok(used < 32 << 20, `the map holds ${(used / 2 ** 20).toFixed(1)} MiB for a million pages`);
  const { pgnos, slots } = map.bySlot();
  assert.equal(pgnos.length, 1_000_000);
  assert.equal(pgnos[0], 3);
  assert.equal(slots[999_999], 1_000_000);
});

test('a superseded page is no longer copied; superseding a page not in the map adds nothing', () => {
  const map = new PageMap();
  map.write(3, 0);
  map.write(5, 1);
  map.commit(8);
  map.supersede(3);
  map.supersede(7);
  const { pgnos, slots } = map.bySlot();
  assert.deepEqual([...pgnos], [5]);
  assert.deepEqual([...slots], [1]);
  map.write(3, 2);
  map.commit(8);
  assert.deepEqual([...map.bySlot().pgnos], [5, 3], 'a newer spilled copy counts again');
});
