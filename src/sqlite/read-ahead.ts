// Read-ahead for SQLite's check of a file larger than the page cache's room
// (sqlite-check.ts decides): a worker thread (read-ahead-thread.ts) reads the
// pages just before the check reads them. The check reads one page at a time
// in B-tree order, which the kernel's readahead does not follow: 1 GiB under a
// 384 MiB memory limit took 21 s to quick_check here, 5 s with this.
import { isMainThread, Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { pread64Number } from './pread-position.js';

export interface ReadAheadJob {
  readonly file: string;
  readonly roots: readonly number[];
  readonly pageSize: number;
  readonly pageCount: number;
  readonly windowBytes: number;
  /** No read-ahead for a file with more pages: the check's order takes 8 bytes a page. */
  readonly maxOrderedPages: number;
  /** The thread that runs the check (its pread64 calls are sampled). */
  readonly checkThread: number;
  readonly pread64: number;
  readonly counters: SharedArrayBuffer;
}

/** seen: samples that found the check in a pread of the file. */
const COUNTERS = ['orderedPages', 'samples', 'seen', 'bytesRead'] as const;
export type ReadAheadReport = Record<(typeof COUNTERS)[number], number>;

/** Counters shared between the read-ahead thread, which writes them, and the check's thread. */
export class ReadAheadCounters {
  private readonly values: Float64Array;
  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(COUNTERS.length * 8)) {
    this.values = new Float64Array(buffer);
  }
  get buffer(): SharedArrayBuffer {
    return this.values.buffer as SharedArrayBuffer;
  }
  set(name: (typeof COUNTERS)[number], value: number): void {
    this.values[COUNTERS.indexOf(name)] = value;
  }
  add(name: (typeof COUNTERS)[number], value: number): void {
    this.values[COUNTERS.indexOf(name)]! += value;
  }
  report(): ReadAheadReport {
    return Object.fromEntries(COUNTERS.map((name, i) => [name, this.values[i]!])) as ReadAheadReport;
  }
}

/** A report as another process printed it (the check's child), or undefined when it is not one. */
export function parseReadAheadReport(value: unknown): ReadAheadReport | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const fields = value as Partial<Record<string, unknown>>;
  const numbers = COUNTERS.map((name) => fields[name]);
  if (!numbers.every((n) => typeof n === 'number' && Number.isFinite(n))) return undefined;
  return Object.fromEntries(COUNTERS.map((name, i) => [name, numbers[i]])) as ReadAheadReport;
}

/** 2 Mi pages (8 GiB of 4 KiB pages): 16 MiB for the order. */
export const MAX_ORDERED_PAGES = 2 << 20;

export interface ReadAhead {
  /** Ends the read-ahead (the thread stops at its next step) and says what it did. */
  stop(): ReadAheadReport;
}

/**
 * Starts reading ahead of a check that `db` (open on `file`, its first page
 * read, `pageCount` pages) is about to run on this, the main, thread; undefined where it
 * cannot: another thread, an architecture without a known pread64 number, or
 * a schema that cannot be read (the check reports that).
 */
export function startReadAhead(db: Database.Database, file: string, pageCount: number, windowBytes: number): ReadAhead | undefined {
  const pread64 = pread64Number();
  // the check's thread is found by the process's id, which is the main thread's
  if (pread64 === undefined || !isMainThread) return undefined;
  let roots: number[];
  try {
    roots = [1, ...(db.prepare('SELECT rootpage FROM sqlite_schema WHERE rootpage > 1').pluck().all() as number[])];
  } catch {
    return undefined;
  }
  const counters = new ReadAheadCounters();
  const job: ReadAheadJob = {
    file,
    roots,
    pageSize: db.pragma('page_size', { simple: true }) as number,
    pageCount,
    windowBytes,
    maxOrderedPages: MAX_ORDERED_PAGES,
    checkThread: process.pid,
    pread64,
    counters: counters.buffer,
  };
  const worker = new Worker(new URL('./read-ahead-thread.js', import.meta.url), { workerData: job, resourceLimits: { maxYoungGenerationSizeMb: 2 } });
  // advisory: a failure of the thread only ends the read-ahead
  worker.on('error', () => undefined);
  // and it never keeps the process alive
  worker.unref();
  return {
    stop() {
      void worker.terminate();
      return counters.report();
    },
  };
}
