// Checks on the pages of an S3 ListObjectsV2 listing, which a broken or
// hostile store controls entirely. Without them a listing that is always
// truncated with a fresh continuation token runs until memory runs out, and a
// negative or absurd size reaches buffer allocations as an "internal" error.
//
// - Progress: keys come in UTF-8 binary order (S3, MinIO, Ceph RGW, R2 all
//   do), so every page must reach past the highest key seen before it; a page
//   that does not, a repeated token, a truncated page without a token or more
//   than MAX_EMPTY_PAGES empty pages in a row end the listing with an error
//   naming the prefix. These are the store's fault, not the backup's (the
//   objects are fine; the listing API misbehaves), so they are exit 75.
// - Sizes: a safe integer between 0 and MAX_OBJECT_SIZE, else exit 65
//   naming the key, like any other impossible backup object.
// - Bytes: a page's response body is cut at MAX_LISTING_PAGE_BYTES before the
//   SDK buffers and parses it.
// Pure but for the middleware, which only wraps a stream.
import { Transform, type Readable } from 'node:stream';
import { CorruptBackupError, TemporaryError } from '../errors.js';
import type { ObjectInfo } from './store.js';

/** Empty truncated pages tolerated in a row (real stores send them rarely, e.g. past many delete markers). */
export const MAX_EMPTY_PAGES = 20;
/** 64 TiB: more than any S3 object (AWS allows 50 TB) and any SQLite file a restore could write. */
export const MAX_OBJECT_SIZE = 2 ** 46;
/** S3's own limit on a key. */
export const MAX_KEY_BYTES = 1024;
/** A real ETag is a quoted MD5 in hex (34 characters), "-<parts>" added for multipart uploads. */
export const MAX_ETAG_CHARS = 128;
/** A page of 1,000 keys of 1,024 bytes with their XML is about 1.5 MB; 16 MiB is far beyond any real page. */
export const MAX_LISTING_PAGE_BYTES = 16 << 20;

export interface ListedItem {
  readonly Key?: string | undefined;
  readonly Size?: number | undefined;
  readonly LastModified?: Date | undefined;
  readonly ETag?: string | undefined;
}

export interface ListedPage {
  readonly Contents?: readonly ListedItem[] | undefined;
  readonly IsTruncated?: boolean | undefined;
  readonly NextContinuationToken?: string | undefined;
}

/**
 * Follows one listing page by page. `where` names the listing in errors
 * (e.g. "s3://bucket/prefix/generations/"); `root` is stripped from keys,
 * and keys outside it are dropped (a store that ignores Prefix).
 */
export class ListingPager {
  private highest: Buffer | undefined;
  private emptyPages = 0;

  constructor(
    private readonly where: string,
    private readonly root: string,
  ) {}

  /** The page's objects (keys relative to the root) and the token for the next page, undefined at the end. */
  accept(page: ListedPage, sentToken: string | undefined): { objects: ObjectInfo[]; next: string | undefined } {
    const objects: ObjectInfo[] = [];
    let pageHighest: Buffer | undefined;
    for (const item of page.Contents ?? []) {
      if (typeof item.Key !== 'string' || item.Key === '') throw this.broken('an entry without a key');
      const raw = Buffer.from(item.Key, 'utf8');
      if (raw.length > MAX_KEY_BYTES) throw this.broken(`a key of ${raw.length} bytes (S3 keys have at most ${MAX_KEY_BYTES})`);
      if (item.ETag !== undefined && item.ETag.length > MAX_ETAG_CHARS) throw this.broken(`an ETag of ${item.ETag.length} characters`);
      if (!pageHighest || Buffer.compare(raw, pageHighest) > 0) pageHighest = raw;
      if (!item.Key.startsWith(this.root)) continue;
      // A copy, not a slice: a slice would keep the whole listed key (root included) alive as well.
      const key = raw.subarray(Buffer.byteLength(this.root)).toString('utf8');
      objects.push({ key, size: checkSize(key, item.Size), lastModified: checkTime(key, item.LastModified), etag: item.ETag });
    }
    const truncated = page.IsTruncated === true;
    if (pageHighest === undefined) {
      this.emptyPages += 1;
      if (truncated && this.emptyPages > MAX_EMPTY_PAGES) {
        throw this.broken(`${this.emptyPages} empty pages in a row, each saying more follow`);
      }
    } else {
      if (this.highest && Buffer.compare(pageHighest, this.highest) <= 0) {
        throw this.broken(`a page that does not go past the keys already listed (up to "${this.highest.toString('utf8')}"): it repeats itself`);
      }
      this.highest = pageHighest;
      this.emptyPages = 0;
    }
    if (!truncated) return { objects, next: undefined };
    const next = page.NextContinuationToken;
    if (!next) throw this.broken('a truncated page without a continuation token');
    if (next === sentToken) throw this.broken('the same continuation token again');
    return { objects, next };
  }

  private broken(what: string): TemporaryError {
    return new TemporaryError(
      `listing ${this.where}: the store sent ${what}; the listing would never end or miss objects, so it is abandoned (a broken S3-compatible store or a proxy in between?)`,
    );
  }
}

/** A page kept by KeptPages: what ListingPager.accept returned, the pager that accepted it and when it was fetched. */
export interface KeptPage {
  readonly pager: ListingPager;
  readonly objects: readonly ObjectInfo[];
  readonly next: string | undefined;
  readonly fetchedAt: number;
}

/** Long enough for a layout's plan to follow its detection; short enough that nobody mistakes it for a fresh listing. */
export const KEEP_FIRST_PAGE_MS = 10_000;

/**
 * First pages of listings that ended on their first page. Layout detection
 * stops each listing after one object (or finds the prefix empty), and the
 * plan then lists the same prefixes in full: replaying the page saves a round
 * trip per prefix. Each page is replayed at most once, and only while fresh.
 */
export class KeptPages {
  private readonly pages = new Map<string, KeptPage>();

  constructor(
    private readonly ttlMs = KEEP_FIRST_PAGE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  keep(prefix: string, page: KeptPage): void {
    for (const [other, kept] of this.pages) if (!this.fresh(kept)) this.pages.delete(other);
    if (this.fresh(page)) this.pages.set(prefix, page);
  }

  /** The page kept for `prefix`, if still fresh; never the same one twice. */
  take(prefix: string): KeptPage | undefined {
    const page = this.pages.get(prefix);
    this.pages.delete(prefix);
    return page && this.fresh(page) ? page : undefined;
  }

  private fresh(page: KeptPage): boolean {
    return this.now() - page.fetchedAt <= this.ttlMs;
  }
}

function checkSize(key: string, size: number | undefined): number {
  if (size === undefined || !Number.isSafeInteger(size) || size < 0 || size > MAX_OBJECT_SIZE) {
    throw new CorruptBackupError(
      `${key}: the store lists its size as ${size === undefined ? 'missing' : String(size)}, not a whole number of bytes between 0 and 2^46 (64 TiB)`,
    );
  }
  return size;
}

function checkTime(key: string, time: Date | undefined): Date {
  // The SDK refuses unparsable times itself; a missing one would sort as 1970 and look oldest.
  if (!(time instanceof Date) || Number.isNaN(time.getTime())) {
    throw new CorruptBackupError(`${key}: the store lists no valid LastModified time for it`);
  }
  return time;
}

/** An error a listing response body gets when it passes the limit. */
export class ListingTooLargeError extends Error {
  override name = 'ListingTooLargeError';
}

/** Wraps a response body so that it errors (and the connection is dropped) once more than `limit` bytes arrive. */
export function limitBody(body: Readable, limit: number): Readable {
  let seen = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen <= limit) return done(null, chunk);
      body.unpipe(limiter);
      body.destroy();
      done(new ListingTooLargeError(`a listing response of more than ${limit} bytes`));
    },
  });
  body.on('error', (err) => limiter.destroy(err));
  return body.pipe(limiter);
}
