// The checks on S3 listing pages (src/store/s3-listing.ts): a listing must
// advance, and every listed size and time must be possible.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { CorruptBackupError, TemporaryError } from '../../src/errors.js';
import { limitBody, ListingPager, ListingTooLargeError, MAX_EMPTY_PAGES, MAX_OBJECT_SIZE, type ListedItem } from '../../src/store/s3-listing.js';

const where = 's3://b/app/generations/';
const time = new Date('2026-03-01T12:00:00Z');
const item = (Key: string, Size: number | undefined = 10, extra: Partial<ListedItem> = {}): ListedItem => ({ Key, Size, LastModified: time, ETag: '"e"', ...extra });
const storeFault = (pattern: RegExp) => (err: unknown) => err instanceof TemporaryError && err.exitCode === 75 && err.message.includes(where) && pattern.test(err.message);

test('a well-behaved listing: keys relative to the root, the next token, the end', () => {
  const pager = new ListingPager(where, 'app/');
  const first = pager.accept({ Contents: [item('app/generations/a'), item('app/generations/b')], IsTruncated: true, NextContinuationToken: 't1' }, undefined);
  assert.deepEqual(first.objects.map((o) => [o.key, o.size, o.etag]), [['generations/a', 10, '"e"'], ['generations/b', 10, '"e"']]);
  assert.equal(first.next, 't1');
  const last = pager.accept({ Contents: [item('app/generations/c')], IsTruncated: false }, 't1');
  assert.deepEqual(last.objects.map((o) => o.key), ['generations/c']);
  assert.equal(last.next, undefined);
});

test('a page that repeats keys already listed (a fresh token each time) is abandoned at once', () => {
  const pager = new ListingPager(where, 'app/');
  const page = { Contents: [item('app/generations/a'), item('app/generations/b')], IsTruncated: true };
  pager.accept({ ...page, NextContinuationToken: 't1' }, undefined);
  assert.throws(() => pager.accept({ ...page, NextContinuationToken: 't2' }, 't1'), storeFault(/does not go past the keys already listed/));
});

test('keys are compared in UTF-8 byte order, as S3 sorts them', () => {
  const pager = new ListingPager(where, '');
  // U+FF5E sorts before U+1F600 in UTF-8 bytes, after it in UTF-16 code units.
  pager.accept({ Contents: [item('k\uff5e')], IsTruncated: true, NextContinuationToken: 't1' }, undefined);
  assert.doesNotThrow(() => pager.accept({ Contents: [item('k\u{1f600}')], IsTruncated: false }, 't1'));
});

test('the same token again, or a truncated page without one, is abandoned', () => {
  const pager = new ListingPager(where, '');
  pager.accept({ Contents: [item('a')], IsTruncated: true, NextContinuationToken: 't1' }, undefined);
  assert.throws(() => pager.accept({ Contents: [item('b')], IsTruncated: true, NextContinuationToken: 't1' }, 't1'), storeFault(/same continuation token/));
  assert.throws(() => new ListingPager(where, '').accept({ Contents: [item('a')], IsTruncated: true }, undefined), storeFault(/without a continuation token/));
});

test(`empty truncated pages: ${MAX_EMPTY_PAGES} in a row are tolerated, one more is not`, () => {
  const pager = new ListingPager(where, '');
  for (let i = 1; i <= MAX_EMPTY_PAGES; i++) pager.accept({ Contents: [], IsTruncated: true, NextContinuationToken: `t${i}` }, `t${i - 1}`);
  assert.throws(() => pager.accept({ IsTruncated: true, NextContinuationToken: 'tx' }, `t${MAX_EMPTY_PAGES}`), storeFault(/empty pages in a row/));
  // A page with keys resets the count.
  const again = new ListingPager(where, '');
  for (let i = 1; i <= 3 * MAX_EMPTY_PAGES; i++) {
    const keys = i % MAX_EMPTY_PAGES === 0 ? [item(`k${String(i).padStart(4, '0')}`)] : [];
    again.accept({ Contents: keys, IsTruncated: true, NextContinuationToken: `t${i}` }, `t${i - 1}`);
  }
});

test('an entry without a key is a broken listing', () => {
  assert.throws(() => new ListingPager(where, '').accept({ Contents: [{ Size: 1, LastModified: time }], IsTruncated: false }, undefined), storeFault(/without a key/));
});

test('a key longer than S3 allows or an ETag longer than any real one is a broken listing (a store controls their length)', () => {
  assert.throws(() => new ListingPager(where, '').accept({ Contents: [item('k'.repeat(1025))], IsTruncated: false }, undefined), storeFault(/a key of 1025 bytes/));
  assert.throws(() => new ListingPager(where, '').accept({ Contents: [item('k', 1, { ETag: `"${'e'.repeat(200)}"` })], IsTruncated: false }, undefined), storeFault(/an ETag of 202 characters/));
  assert.equal(new ListingPager(where, '').accept({ Contents: [item('k'.repeat(1024), 1, { ETag: '"0123456789abcdef0123456789abcdef-10000"' })], IsTruncated: false }, undefined).objects.length, 1);
});

test('keys outside the prefix (a store ignoring Prefix) are dropped, but still count as progress', () => {
  const pager = new ListingPager(where, 'app/');
  const r = pager.accept({ Contents: [item('aaa'), item('app/generations/x'), item('zzz')], IsTruncated: true, NextContinuationToken: 't' }, undefined);
  assert.deepEqual(r.objects.map((o) => o.key), ['generations/x']);
});

test('negative, fractional, absurd or missing sizes are exit 65 naming the key', () => {
  for (const size of [-5, 1.5, 1e300, Number.MAX_SAFE_INTEGER + 1, MAX_OBJECT_SIZE + 1, Number.NaN, Infinity, undefined]) {
    assert.throws(
      () => new ListingPager(where, 'app/').accept({ Contents: [{ ...item('app/generations/g/snapshots/00000001.snapshot.lz4'), Size: size }], IsTruncated: false }, undefined),
      (err: unknown) => err instanceof CorruptBackupError && err.exitCode === 65 && err.message.startsWith('generations/g/snapshots/00000001.snapshot.lz4: the store lists its size as'),
      String(size),
    );
  }
  assert.equal(new ListingPager(where, '').accept({ Contents: [item('a', 0), item('b', MAX_OBJECT_SIZE)], IsTruncated: false }, undefined).objects.length, 2);
});

test('a missing or invalid LastModified is exit 65 naming the key (it would sort as the oldest object)', () => {
  for (const bad of [undefined, new Date(Number.NaN)]) {
    assert.throws(
      () => new ListingPager(where, '').accept({ Contents: [item('k', 1, { LastModified: bad })], IsTruncated: false }, undefined),
      (err: unknown) => err instanceof CorruptBackupError && /^k: the store lists no valid LastModified/.test(err.message),
    );
  }
});

test('limitBody passes a body up to the limit and errors past it', async () => {
  const collect = async (stream: Readable) => {
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };
  const ok = await collect(limitBody(Readable.from([Buffer.alloc(600), Buffer.alloc(400)]), 1000));
  assert.equal(ok.length, 1000);
  let produced = 0;
  // An endless body: the limiter stops it, and the source is destroyed.
  const endless = new Readable({
    read() {
      produced += 64 << 10;
      this.push(Buffer.alloc(64 << 10));
    },
  });
  await assert.rejects(collect(limitBody(endless, 1 << 20)), ListingTooLargeError);
  assert.ok(endless.destroyed, 'the source is destroyed');
  assert.ok(produced < 4 << 20, `read ${produced} bytes of an endless body`);
});
