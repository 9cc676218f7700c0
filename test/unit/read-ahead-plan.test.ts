import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadAheadPlan } from '../../src/sqlite/read-ahead-plan.js';
import type { CheckOrder } from '../../src/sqlite/check-order.js';

function order(pages: number[]): CheckOrder {
  const indexOf = new Int32Array(Math.max(...pages) + 1).fill(-1);
  pages.forEach((p, i) => (indexOf[p] = i));
  return { pages: Uint32Array.from(pages), indexOf };
}

test('the plan reads a window ahead of the check, merging nearby pages, again only when half of it is used', () => {
  const plan = new ReadAheadPlan(order([10, 9, 8, 7, 50, 49, 3, 2, 1]), 4, 2, 256);
  assert.deepEqual(plan.next(10), { ranges: [{ first: 7, count: 3 }, { first: 50, count: 1 }], restarted: true });
  assert.deepEqual(plan.next(9), { ranges: [], restarted: false }, 'three pages still ahead');
  assert.deepEqual(plan.next(8), { ranges: [], restarted: false });
  assert.deepEqual(plan.next(7), { ranges: [{ first: 49, count: 1 }, { first: 2, count: 2 }], restarted: false });
  assert.deepEqual(plan.next(1), { ranges: [], restarted: true }, 'a jump past the window starts again; nothing is left after it');
  assert.deepEqual(plan.next(77), { ranges: [], restarted: false }, 'a page not in the order');
  assert.deepEqual(plan.next(-1), { ranges: [], restarted: false });
});

test('a range spans at most the pages it is given', () => {
  const pages = Array.from({ length: 600 }, (_, i) => 600 - i);
  const plan = new ReadAheadPlan(order(pages), 599, 16, 256);
  const { ranges } = plan.next(600);
  assert.deepEqual(ranges, [{ first: 344, count: 256 }, { first: 88, count: 256 }, { first: 1, count: 87 }]);
});
