import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PageFolder } from '../../src/sqlite/page-folder.js';

/** Adds frames [pgno, location, commitSize] in order. */
function fold(frames: Array<[number, number, number]>): PageFolder {
  const folder = new PageFolder();
  for (const [pgno, location, commit] of frames) folder.add(pgno, location, commit);
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
