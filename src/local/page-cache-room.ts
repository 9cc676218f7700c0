// How much of a file the kernel can keep in the page cache for this run: a
// container's memory limit bounds its page cache too (cgroup accounting), so
// a database larger than the room left under it is read back from disk when
// SQLite checks it, in B-tree order (with read-ahead: sqlite/read-ahead.ts).
import os from 'node:os';
import { formatBytes } from '../byte-size.js';

export interface MemoryFacts {
  /** The cgroup's memory limit (process.constrainedMemory()): 0, or more than the machine has, when there is none. */
  readonly constrained: number;
  /** The machine's memory (os.totalmem()). */
  readonly total: number;
  /** This process's resident set. */
  readonly rss: number;
}

/** Kept for the check's child process (node and SQLite, 40-60 MiB measured; 90 with its read-ahead) and whatever else runs beside. */
export const CHECK_RESERVE_BYTES = 96 << 20;

/** Bytes of page cache left for the file under the memory limit, or under the machine's memory. */
export function pageCacheRoom(facts: MemoryFacts = currentFacts()): number {
  return Math.max(0, memoryLimit(facts) - facts.rss - CHECK_RESERVE_BYTES);
}

/** The memory this process may use: its cgroup's limit, or the machine's memory when there is none. */
export function memoryLimit(facts: Pick<MemoryFacts, 'constrained' | 'total'>): number {
  return facts.constrained > 0 ? Math.min(facts.constrained, facts.total) : facts.total;
}

export function currentFacts(): MemoryFacts {
  return { constrained: process.constrainedMemory(), total: os.totalmem(), rss: process.memoryUsage.rss() };
}

/**
 * A warning when SQLite's check will read the database back from disk: 1 GiB
 * under the chart's 384 MiB limit took 7.3 s to verify here with read-ahead
 * (17 s without), against 1.6 s with room for it (the whole restore: 14.9 s
 * against 8.8 s; npm run bench:limits).
 */
export function verifyFromDiskWarning(databaseBytes: number, check: string, facts: MemoryFacts = currentFacts()): string | undefined {
  if (databaseBytes <= pageCacheRoom(facts)) return undefined;
  const limit = memoryLimit(facts);
  const whose = limit < facts.total ? "this container's memory limit" : "this machine's memory";
  return (
    `the database (${formatBytes(databaseBytes)}) does not fit in the page cache under ${whose} (${formatBytes(limit)}): ` +
    `SQLite's ${check} reads it back from disk, several times slower; ` +
    `a memory limit above the database size plus 300 MiB keeps it in memory (the page cache counts toward the limit)`
  );
}
