// Worker-thread entry of read-ahead.ts, inside the check's child process:
// reads the pages SQLite's check is about to read, so that it finds them in
// the page cache. It learns the check's order from the interior pages
// (check-order.ts) and where the check is from the pread64 SQLite's thread is
// blocked in, sampled every millisecond (pread-position.ts). Advisory: any
// failure just ends it, and the check goes on reading for itself.
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, realpathSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { workerData } from 'node:worker_threads';
import { headerOffset, leafOverflowChains, type OverflowChain } from './btree-page.js';
import { checkOrder } from './check-order.js';
import { preadOffset } from './pread-position.js';
import { ReadAheadCounters, type ReadAheadJob } from './read-ahead.js';
import { ReadAheadPlan, MAX_RANGE_BYTES, type PageRange } from './read-ahead-plan.js';

/** Reads in flight at once: one at a time leaves the disk idle between them. */
const READS_IN_FLIGHT = 4;
/** Pages read over to join two of the check's pages into one read (its overflow pages often lie between). */
const GAP_PAGES = 16;
/** Reads of one overflow chain, at most: its pages are seldom scattered, and this is only a guide. */
const MAX_CHAIN_RUNS = 8;

const job = workerData as ReadAheadJob;
// counters the check's thread reads when it is done (it is blocked in SQLite meanwhile)
const report = new ReadAheadCounters(job.counters);

async function main(): Promise<void> {
  const path = realpathSync(job.file);
  // SQLite's descriptors for the file, opened before this thread started
  const sqliteFds = new Set(
    readdirSync('/proc/self/fd')
      .filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === path;
        } catch {
          return false;
        }
      })
      .map(Number),
  );
  if (sqliteFds.size === 0) return;
  const syscallFile = `/proc/self/task/${job.checkThread}/syscall`;
  readFileSync(syscallFile, 'utf8'); // throws where it cannot be read (then no read-ahead)

  const page = new Uint8Array(job.pageSize);
  const fd = openSync(path, 'r');
  let order: ReturnType<typeof checkOrder>;
  let usableSize: number;
  try {
    order = checkOrder((pageNo) => (readSync(fd, page, 0, job.pageSize, (pageNo - 1) * job.pageSize) === job.pageSize ? page : undefined), job.roots, job.pageCount, job.maxOrderedPages);
    // the bytes of a page that hold data: less those reserved at each page's end (file header byte 20)
    usableSize = readSync(fd, page, 0, job.pageSize, 0) === job.pageSize ? job.pageSize - (page[20] ?? 0) : job.pageSize;
  } finally {
    closeSync(fd);
  }
  if (!order) return;
  report.set('orderedPages', order.pages.length);
  const { indexOf } = order;
  const rangePages = Math.max(1, Math.floor(MAX_RANGE_BYTES / job.pageSize));
  const plan = new ReadAheadPlan(order, Math.max(1, Math.floor(job.windowBytes / job.pageSize)), GAP_PAGES, rangePages);

  const file = await open(path, 'r');
  const queue: PageRange[] = [];
  const buffers = Array.from({ length: READS_IN_FLIGHT }, () => new Uint8Array(rangePages * job.pageSize));
  let inFlight = 0;
  const pump = (): void => {
    while (inFlight < READS_IN_FLIGHT && queue.length > 0) {
      const range = queue.shift()!;
      const buffer = buffers.pop()!;
      inFlight += 1;
      void readRange(file, buffer, range)
        .catch(() => undefined)
        .finally(() => {
          buffers.push(buffer);
          inFlight -= 1;
          pump();
        });
    }
  };
  for (;;) {
    report.add('samples', 1);
    const offset = preadOffset(readFileSync(syscallFile, 'utf8'), job.pread64, sqliteFds);
    if (offset !== undefined) {
      report.add('seen', 1);
      const { ranges, restarted } = plan.next(Math.floor(offset / job.pageSize) + 1);
      if (restarted) queue.length = 0;
      queue.push(...ranges);
      pump();
    }
    await sleep(1);
  }

  /** A range of the check's pages, then the overflow chains of the leaves in it, which the check reads right after each leaf. */
  async function readRange(file: FileHandle, buffer: Uint8Array, range: PageRange): Promise<void> {
    await readTwice(file, buffer, range.first, range.count);
    const chains: OverflowChain[] = [];
    for (let i = 0; i < range.count; i++) {
      const pageNo = range.first + i;
      if ((indexOf[pageNo] ?? -1) < 0) continue;
      chains.push(...leafOverflowChains(buffer.subarray(i * job.pageSize, (i + 1) * job.pageSize), headerOffset(pageNo), usableSize));
    }
    for (const chain of chains) await readChain(file, buffer, chain);
  }

  /** An overflow chain: its pages are usually consecutive; where a link says otherwise, the read goes on from there (a few times at most). */
  async function readChain(file: FileHandle, buffer: Uint8Array, chain: OverflowChain): Promise<void> {
    const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    let next = chain.first;
    let left = chain.pages;
    for (let runs = 0; runs < MAX_CHAIN_RUNS && left > 0 && next >= 2 && next <= job.pageCount; runs++) {
      const count = Math.min(left, rangePages, job.pageCount - next + 1);
      await readTwice(file, buffer, next, count);
      // the pages read that follow each other's links (an overflow page starts with the next one's number)
      let used = 1;
      while (used < count && view.getUint32((used - 1) * job.pageSize) === next + used) used += 1;
      left -= used;
      next = view.getUint32((used - 1) * job.pageSize);
    }
  }

  async function readTwice(file: FileHandle, buffer: Uint8Array, first: number, count: number): Promise<void> {
    const bytes = count * job.pageSize;
    const position = (first - 1) * job.pageSize;
    // Twice: the second read marks the pages as used again, which keeps them
    // in the page cache's active list like the pages the check has read. Read
    // once, under a memory limit they were evicted before the check got to them.
    await file.read(buffer, 0, bytes, position);
    await file.read(buffer, 0, bytes, position);
    report.add('bytesRead', bytes);
  }
}

void main().catch(() => undefined);
