// The check's reading order and the overflow chains, against SQLite's own
// account of the same file (the dbstat table), and on crafted pages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, readSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { checkOrder, type PageReader } from '../../src/sqlite/check-order.js';
import { headerOffset, interiorChildren, leafOverflowChains } from '../../src/sqlite/btree-page.js';

const PAGE = 4096;

/** Tables, an index with interior pages, rows with overflow chains, and a schema larger than page 1. */
function makeDatabase(dir: string): string {
  const file = path.join(dir, 'app.db');
  const db = new Database(file);
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT, blob BLOB); CREATE INDEX t_body ON t (body)');
  for (let i = 0; i < 120; i++) db.exec(`CREATE TABLE side_${i} (id INTEGER PRIMARY KEY, a_rather_long_column_name_${i} TEXT, another_one_${i} TEXT)`);
  const insert = db.prepare('INSERT INTO t (body, blob) VALUES (?, ?)');
  db.transaction(() => {
    for (let i = 0; i < 6000; i++) insert.run(`row ${(i * 7919) % 6000} `.repeat(12), i % 10 === 0 ? Buffer.alloc(9000 + i, i % 251) : null);
  })();
  db.close();
  return file;
}

function reader(file: string): { read: PageReader; close(): void } {
  const fd = openSync(file, 'r');
  return {
    read: (pageNo) => {
      const page = new Uint8Array(PAGE);
      return readSync(fd, page, 0, PAGE, (pageNo - 1) * PAGE) === PAGE ? page : undefined;
    },
    close: () => closeSync(fd),
  };
}

test('the order holds every B-tree page once, each tree its leaves in the reverse of dbstat, a page before its children', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'check-order-'));
  try {
    const file = makeDatabase(dir);
    const db = new Database(file, { readonly: true });
    const rows = db.prepare('SELECT name, pageno, pagetype, path FROM dbstat').all() as Array<{ name: string; pageno: number; pagetype: string; path: string }>;
    const roots = [1, ...(db.prepare('SELECT rootpage FROM sqlite_schema WHERE rootpage > 1').pluck().all() as number[])];
    const pageCount = db.pragma('page_count', { simple: true }) as number;
    db.close();
    assert.ok(rows.some((r) => r.pageno === 1 && r.pagetype === 'internal'), 'the schema spans more than page 1');
    assert.ok(rows.some((r) => r.name === 't_body' && r.pagetype === 'internal'), 'the index has interior pages');

    const { read, close } = reader(file);
    const order = checkOrder(read, roots, pageCount, 1 << 20);
    assert.ok(order);
    const btreePages = rows.filter((r) => r.pagetype !== 'overflow');
    assert.deepEqual([...order.pages].sort((a, b) => a - b), btreePages.map((r) => r.pageno).sort((a, b) => a - b));
    for (const [i, pageNo] of order.pages.entries()) assert.equal(order.indexOf[pageNo], i);

    const rowOf = new Map(rows.map((r) => [r.pageno, r]));
    const ordered: number[] = [...order.pages];
    for (const name of new Set(btreePages.map((r) => r.name))) {
      const isLeaf = (p: number): boolean => rowOf.get(p)?.name === name && rowOf.get(p)?.pagetype === 'leaf';
      const dbstatLeaves = btreePages.map((r) => r.pageno).filter(isLeaf);
      assert.deepEqual(ordered.filter(isLeaf), dbstatLeaves.reverse(), `leaves of ${name}`);
    }
    // dbstat's path names a page's parent: a parent comes first
    const byPath = new Map(rows.map((r) => [`${r.name}:${r.path}`, r.pageno]));
    for (const r of btreePages) {
      const parentPath = r.path.replace(/[0-9a-f]+\/$/, '');
      if (parentPath === r.path || parentPath === '') continue;
      const parent = byPath.get(`${r.name}:${parentPath}`)!;
      assert.ok(order.indexOf[parent]! < order.indexOf[r.pageno]!, `${r.name} ${r.path} after its parent`);
    }

    // the leaves' overflow chains are exactly dbstat's overflow pages
    const overflow = new Set<number>();
    for (const pageNo of order.pages) {
      for (const chain of leafOverflowChains(read(pageNo)!, headerOffset(pageNo), PAGE)) {
        let next = chain.first;
        for (let k = 0; k < chain.pages; k++) {
          overflow.add(next);
          next = new DataView(read(next)!.buffer).getUint32(0);
        }
        assert.equal(next, 0, 'a chain ends where its payload size says');
      }
    }
    close();
    assert.deepEqual([...overflow].sort((a, b) => a - b), rows.filter((r) => r.pagetype === 'overflow').map((r) => r.pageno).sort((a, b) => a - b));
    assert.ok(overflow.size > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** An interior table page pointing to `children` (the last is the right-most child). */
function interiorPage(children: number[]): Uint8Array {
  const page = new Uint8Array(PAGE);
  const view = new DataView(page.buffer);
  page[0] = 5;
  const cells = children.length - 1;
  view.setUint16(3, cells);
  view.setUint32(8, children[cells]!);
  for (let i = 0; i < cells; i++) {
    const at = 1000 + i * 8;
    view.setUint16(12 + i * 2, at);
    view.setUint32(at, children[i]!);
    page[at + 4] = i; // the key, a one-byte varint
  }
  return page;
}

function leafPage(): Uint8Array {
  const page = new Uint8Array(PAGE);
  page[0] = 13;
  return page;
}

test('crafted trees: a cycle, a child past the end and a page of another kind end their walk; the page limit holds', () => {
  // 1 -> [3, right-most 2]; 2 -> [4, 1 (a cycle), right-most 99 (past the end)]; 3 is not a B-tree page; 4 a leaf
  const pages = new Map<number, Uint8Array>([
    [2, interiorPage([4, 1, 99])],
    [3, new Uint8Array(PAGE).fill(0xee)],
    [4, leafPage()],
  ]);
  // page 1's B-tree header follows the 100-byte file header
  const first = new Uint8Array(PAGE);
  first.set(interiorPage([3, 2]).subarray(0, 12), 100);
  new DataView(first.buffer).setUint16(112, 1100);
  new DataView(first.buffer).setUint32(1100, 3);
  pages.set(1, first);
  const read: PageReader = (n) => pages.get(n);
  const order = checkOrder(read, [1], 10, 100);
  assert.ok(order);
  // the right-most child first, and its subtree, then cell 0's child
  assert.deepEqual([...order.pages], [1, 2, 4, 3]);
  assert.equal(checkOrder(read, [1], 101, 100), undefined, 'more pages than the limit');
  assert.deepEqual([...checkOrder(read, [0, 11, 1.5], 10, 100)!.pages], [], 'roots out of range');
});

test('interiorChildren and leafOverflowChains refuse what does not fit the page', () => {
  assert.equal(interiorChildren(undefined, 0), undefined);
  assert.equal(interiorChildren(new Uint8Array(8), 0), undefined);
  const tooMany = interiorPage([2, 3]);
  new DataView(tooMany.buffer).setUint16(3, 5000);
  assert.equal(interiorChildren(tooMany, 0), undefined);
  const badCell = interiorPage([2, 3]);
  new DataView(badCell.buffer).setUint16(12, PAGE - 2);
  assert.equal(interiorChildren(badCell, 0), undefined);
  assert.deepEqual(interiorChildren(leafPage(), 0), []);

  // a leaf whose cell's varint runs off the page, and one claiming a huge payload with its pointer off the page
  const leaf = leafPage();
  const view = new DataView(leaf.buffer);
  view.setUint16(3, 2);
  view.setUint16(8, PAGE - 2);
  leaf.fill(0xff, PAGE - 2);
  view.setUint16(10, PAGE - 12);
  leaf.set([0x87, 0xff, 0xff, 0x7f, 0x01], PAGE - 12);
  assert.deepEqual(leafOverflowChains(leaf, 0, PAGE), []);
  assert.deepEqual(leafOverflowChains(interiorPage([2, 3]), 0, PAGE), []);

  // 1,000 cell pointers at one cell with a 2^40-byte payload: no more chains than a real leaf can hold
  const crafted = leafPage();
  const craftedView = new DataView(crafted.buffer);
  craftedView.setUint16(3, 1000);
  for (let i = 0; i < 1000; i++) craftedView.setUint16(8 + i * 2, 2100);
  crafted.set([0xa0, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01], 2100); // payload 2^40 (a 6-byte varint), rowid 1
  const chains = leafOverflowChains(crafted, 0, PAGE);
  assert.ok(chains.length > 0 && chains.length <= 8, `${chains.length} chains`);
});
