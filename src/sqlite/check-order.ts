// The order in which SQLite's quick_check and integrity_check read a
// database's B-tree pages, from its interior pages alone: each tree is walked
// depth first, a page before its children, the right-most child first and
// then the cells' children from the last to the first (btree.c,
// checkTreePage). Overflow and freelist pages are left out. Pure: pages come
// from the caller, and a page that does not parse ends the walk of its subtree
// (the check itself reports the damage; this only guides reads ahead of it).

import { headerOffset, interiorChildren } from './btree-page.js';

/** Reads page `pageNo` (1-based), or undefined when it cannot be read. */
export type PageReader = (pageNo: number) => Uint8Array | undefined;

export interface CheckOrder {
  /** Page numbers in the order the check reads them. */
  readonly pages: Uint32Array;
  /** Index into `pages` for each page number, or -1 for a page not in it. */
  readonly indexOf: Int32Array;
}

/** SQLite refuses trees deeper than 20 levels (BTCURSOR_MAX_DEPTH). */
const MAX_DEPTH = 20;

/**
 * The check's reading order of the trees rooted at `roots`, or undefined when
 * the file has more than `maxPages` pages (the two arrays take 8 bytes a page).
 */
export function checkOrder(read: PageReader, roots: readonly number[], pageCount: number, maxPages: number): CheckOrder | undefined {
  if (!Number.isInteger(pageCount) || pageCount < 1 || pageCount > maxPages) return undefined;
  const pages = new Uint32Array(pageCount);
  const indexOf = new Int32Array(pageCount + 1).fill(-1);
  let length = 0;
  const visit = (pageNo: number): boolean => {
    // a page seen before (a cycle, or a page shared by two trees) is read once here
    if (!Number.isInteger(pageNo) || pageNo < 1 || pageNo > pageCount || indexOf[pageNo] !== -1) return false;
    indexOf[pageNo] = length;
    pages[length++] = pageNo;
    return true;
  };
  for (const root of roots) {
    if (!visit(root)) continue;
    // Leaves are not read: every leaf of a tree is at the same depth (SQLite
    // checks it), found down the right-most path, so only interior pages are.
    const leafDepth = depthOfLeaves(read, root);
    // depth-first with an explicit stack of the children still to visit, last first
    const stack: number[][] = [];
    const pushChildren = (pageNo: number): void => {
      const children = stack.length < leafDepth ? interiorChildren(read(pageNo), headerOffset(pageNo)) : undefined;
      if (children) stack.push(children);
    };
    pushChildren(root);
    while (stack.length > 0) {
      const next = stack[stack.length - 1]!.pop();
      if (next === undefined) {
        stack.pop();
        continue;
      }
      if (visit(next)) pushChildren(next);
    }
  }
  return { pages: pages.subarray(0, length), indexOf };
}

/** Levels below the root to the leaves, down the right-most path (0 for a root that is a leaf). */
function depthOfLeaves(read: PageReader, root: number): number {
  let pageNo = root;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const children = interiorChildren(read(pageNo), headerOffset(pageNo));
    if (!children || children.length === 0) return depth;
    pageNo = children[children.length - 1]!;
  }
  return MAX_DEPTH;
}
