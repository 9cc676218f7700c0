// Which pages to read next, ahead of SQLite's check: given the page the check
// is reading now, the pages that follow it in the check's order (check-order.ts),
// up to a window ahead, merged into ranges of nearby pages. Pure: the caller
// reads them (read-ahead-thread.ts).
import type { CheckOrder } from './check-order.js';

export interface PageRange {
  readonly first: number;
  readonly count: number;
}

/** One read covers at most this much. */
export const MAX_RANGE_BYTES = 1 << 20;

export class ReadAheadPlan {
  /** Index in the order of the last page handed out for reading; -1 before the first. */
  private upTo = -1;

  /**
   * @param windowPages how far ahead of the check to read
   * @param gapPages pages read over to join two pages into one range
   * @param maxRangePages pages in one range at most
   */
  constructor(
    private readonly order: CheckOrder,
    private readonly windowPages: number,
    private readonly gapPages: number,
    private readonly maxRangePages: number,
  ) {}

  /**
   * The ranges to read now that the check reads `pageNo`: none while more than
   * half a window is still ahead of it. After a jump (to another tree, or past
   * the window) the window starts again from the new page, and `restarted`
   * says that ranges handed out before are no longer needed.
   */
  next(pageNo: number): { ranges: PageRange[]; restarted: boolean } {
    const at = pageNo >= 0 && pageNo < this.order.indexOf.length ? (this.order.indexOf[pageNo] ?? -1) : -1;
    if (at < 0) return { ranges: [], restarted: false };
    const restarted = at > this.upTo || at < this.upTo - 2 * this.windowPages;
    if (restarted) this.upTo = at;
    if (this.upTo - at >= this.windowPages / 2) return { ranges: [], restarted };
    const to = Math.min(this.order.pages.length, at + 1 + this.windowPages);
    const ranges = this.ranges(this.upTo + 1, to);
    this.upTo = to - 1;
    return { ranges, restarted };
  }

  /** order.pages[from, to) as ranges: a page within gapPages of the range so far joins it. */
  private ranges(from: number, to: number): PageRange[] {
    const pages = this.order.pages;
    const out: PageRange[] = [];
    let i = from;
    while (i < to) {
      let low = pages[i]!;
      let high = low;
      let j = i + 1;
      for (; j < to; j++) {
        const p = pages[j]!;
        const newLow = Math.min(low, p);
        const newHigh = Math.max(high, p);
        if (low - p > this.gapPages || p - high > this.gapPages || newHigh - newLow >= this.maxRangePages) break;
        low = newLow;
        high = newHigh;
      }
      out.push({ first: low, count: high - low + 1 });
      i = j;
    }
    return out;
  }
}
