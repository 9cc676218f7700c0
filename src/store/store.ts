// The one small interface every backup layout reads through. Keys are relative
// to the replica root (the URL's path), always with "/" separators.
import type { Readable } from 'node:stream';
import { CorruptBackupError } from '../errors.js';

export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
  /** Used to pin resumed reads to the same object version. */
  readonly etag?: string | undefined;
}

/**
 * Something a file replica holds where an object could be, that is not a
 * regular file or a directory: a symbolic link (never followed), a FIFO (never
 * opened), a socket or a device. Reported instead of dropped, so a layout can
 * refuse a replica in which one hides an object (S3 has none).
 */
export interface IrregularEntry {
  readonly key: string;
  readonly irregular: 'symbolic link' | 'FIFO' | 'socket' | 'character device' | 'block device' | 'unknown file type';
}

export type ListEntry = ObjectInfo | IrregularEntry;

export function isIrregular(entry: ListEntry): entry is IrregularEntry {
  return 'irregular' in entry;
}

/** Names listed per place by nearby(), at most (one page): a huge prefix is not read to its end. */
export const NEARBY_PAGE = 50;

export interface Nearby {
  /** Where `beside` was listed, safe to log (e.g. s3://bucket/apps/); undefined when the root has no parent (a bucket's root). */
  readonly parent: string | undefined;
  /** Names directly under the replica root. */
  readonly inside: readonly string[];
  /** Names beside the replica root, in its parent, the root's own name left out. */
  readonly beside: readonly string[];
}

export interface ReadOptions {
  readonly signal: AbortSignal;
  /** Called with the size of every chunk received, for progress reporting. */
  readonly onBytes?: (n: number) => void;
}

export interface Store {
  /** A human-readable location, safe to log. */
  readonly location: string;
  /**
   * Every object whose key starts with `prefix`, in no particular order, and
   * every irregular entry at or above such a key (e.g. a symlinked directory).
   */
  list(prefix: string, signal: AbortSignal): AsyncIterable<ListEntry>;
  /**
   * The object's bytes. Implementations retry and resume on their own; the
   * stream errors with a RestoreError once they give up, and ends only after
   * exactly `info.size` bytes.
   */
  read(info: ObjectInfo, options: ReadOptions): Readable;
  /**
   * The whole object in one buffer, with the same retries: for small objects,
   * without a stream's per-object cost. Optional (callers fall back to read()).
   */
  readAll?(info: ObjectInfo, options: ReadOptions): Promise<Buffer>;
  /**
   * One level around the replica root, for a "no backup" message: names
   * inside it and beside it (directories end in "/"), a page of each at most.
   * One attempt, no retries: it only explains a failure already decided.
   */
  nearby?(signal: AbortSignal): Promise<Nearby>;
  /** Bytes [start, end) of the object, with the same retries; optional (readHead falls back to read()). */
  readRange?(info: ObjectInfo, start: number, end: number, options: ReadOptions): Readable;
}

/**
 * The most objects one layout's listing may hold. Litestream v0.3 with a 1 s
 * sync interval and 24 h retention makes about 86,400 WAL segments (one
 * writer: older generations share the same 24 h); this is 1.4 times that.
 * Each listed object costs about 1 KiB of peak RSS (its key, ETag and time,
 * the plan's step, garbage of the parsed pages): restores planning 120,000
 * objects peaked at 200-209 MiB, 150,000 at 207-232 MiB (bench/rss-probe.cjs),
 * so this keeps the 256 MiB bound with room for the GC's whims.
 */
export const MAX_LISTED_OBJECTS = 120_000;

/**
 * The most characters of keys and ETags one layout's listing may hold: a
 * store controls their length (a hostile one could send 1 KiB keys), so the
 * count of objects alone does not bound memory. A real Litestream listing at
 * the object cap holds about 11 million (57-character keys, 34-character
 * ETags); this allows an average of 200 per object.
 */
export const MAX_LISTED_NAME_CHARS = 24_000_000;

/**
 * Everything under `prefixes`, at most MAX_LISTED_OBJECTS
 * entries in all: past that the listing stops with an error naming the
 * prefixes, whatever the store keeps sending. An irregular entry reported by
 * several listings is kept once.
 */
export async function collectListing(
  store: Store,
  prefixes: readonly string[],
  signal: AbortSignal,
  limit: number = MAX_LISTED_OBJECTS,
): Promise<ListEntry[]> {
  const entries: ListEntry[] = [];
  const irregular = new Set<string>();
  let nameChars = 0;
  // One listing failing stops the others.
  const local = new AbortController();
  const both = AbortSignal.any([signal, local.signal]);
  const listOne = async (prefix: string): Promise<void> => {
    try {
      for await (const entry of store.list(prefix, both)) {
        if (isIrregular(entry)) {
          if (irregular.has(entry.key)) continue;
          irregular.add(entry.key);
        }
        if (entries.length >= limit) {
          throw new CorruptBackupError(
            `the replica at ${store.location} holds more than ${limit.toLocaleString('en-US')} objects under ${prefixes.join(', ')}, ` +
              'the most one restore lists; shorten the retention of the backup tool, or is something else writing there?',
          );
        }
        nameChars += entry.key.length + (('etag' in entry && entry.etag?.length) || 0);
        if (nameChars > MAX_LISTED_NAME_CHARS) {
          throw new CorruptBackupError(
            `the replica at ${store.location} holds objects under ${prefixes.join(', ')} whose keys and ETags add up to more than ` +
              `${MAX_LISTED_NAME_CHARS.toLocaleString('en-US')} characters, the most one restore lists; is something else writing there?`,
          );
        }
        entries.push(entry);
      }
    } catch (err) {
      local.abort(err);
      throw err;
    }
  };
  // The first alone, the rest in parallel once the store answers: a store
  // not up yet is retried (and logged) by one listing at a time.
  const [first, ...rest] = prefixes;
  if (first !== undefined) await listOne(first);
  await Promise.all(rest.map(listOne));
  return entries;
}

/** The first `length` bytes of an object (fewer if it is shorter), e.g. a file header. */
export async function readHead(store: Store, info: ObjectInfo, length: number, signal: AbortSignal): Promise<Buffer> {
  const end = Math.min(length, info.size);
  if (end === 0) return Buffer.alloc(0);
  const stream = store.readRange ? store.readRange(info, 0, end, { signal }) : store.read(info, { signal });
  const chunks: Buffer[] = [];
  let got = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      got += (chunk as Buffer).length;
      if (got >= end) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, end);
}
