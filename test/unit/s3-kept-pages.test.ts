// A listing's first page replayed once (src/store/s3-listing.ts KeptPages,
// used by S3Store.list): layout detection lists each known prefix and stops at
// the first object, then the plan lists the same prefixes in full; without the
// replay each costs a second round trip to the store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KeptPages, ListingPager, type KeptPage } from '../../src/store/s3-listing.js';
import { S3Store } from '../../src/store/s3.js';
import { loadConfig } from '../../src/config.js';

const page = (fetchedAt: number): KeptPage => ({ pager: new ListingPager('s3://b/p/x/', 'p/'), objects: [], next: undefined, fetchedAt });

test('a kept page is taken once, and only while fresh', () => {
  const clock = { t: 1_000 };
  const kept = new KeptPages(10_000, () => clock.t);
  const a = page(clock.t);
  kept.keep('a/', a);
  assert.equal(kept.take('b/'), undefined);
  assert.equal(kept.take('a/'), a);
  assert.equal(kept.take('a/'), undefined, 'never twice');
  kept.keep('a/', page(clock.t));
  clock.t += 10_001;
  assert.equal(kept.take('a/'), undefined, 'too old');
});

/** A store answering ListObjectsV2 with `keys` under each prefix, one page each; counts the listings per prefix. */
async function listingServer(keys: Record<string, string[]>): Promise<{ endpoint: string; listed: Map<string, number>; close(): void }> {
  const listed = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const prefix = url.searchParams.get('prefix') ?? '';
    listed.set(prefix, (listed.get(prefix) ?? 0) + 1);
    const contents = (keys[prefix] ?? [])
      .map((k) => `<Contents><Key>${prefix}${k}</Key><Size>1</Size><LastModified>2026-03-01T12:00:00.000Z</LastModified><ETag>"e"</ETag></Contents>`)
      .join('');
    res.writeHead(200, { 'content-type': 'application/xml' });
    res.end(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>bkt</Name><Prefix>${prefix}</Prefix><IsTruncated>false</IsTruncated>${contents}</ListBucketResult>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, listed, close: () => server.close() };
}

test('S3Store: a listing stopped at its first object, or ended on its first page, is not fetched again by the next listing of the prefix', async () => {
  const server = await listingServer({ 'p/a/': ['1', '2', '3'], 'p/b/': [] });
  let after = () => {};
  try {
    const config = loadConfig(
      { SQLITE_RESTORE_REPLICA_URL: 's3://bkt/p', SQLITE_RESTORE_DB_PATH: '/tmp/x.db', SQLITE_RESTORE_S3_ENDPOINT: server.endpoint, SQLITE_RESTORE_S3_REGION: 'us-east-1' },
      'restore',
    );
    const env = { AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's' };
    // The SDK's credential chain reads process.env.
    const saved = { ...process.env };
    Object.assign(process.env, env);
    after = () => (process.env = saved);
    const store = new S3Store({ bucket: 'bkt', prefix: 'p', settings: config.s3, concurrency: 2, env });
    const signal = new AbortController().signal;
    const keys = async (prefix: string, stopAfter = Infinity) => {
      const found: string[] = [];
      for await (const o of store.list(prefix, signal)) {
        found.push(o.key);
        if (found.length >= stopAfter) break;
      }
      return found;
    };
    // As layout detection does, then as the plan does.
    assert.deepEqual(await keys('a/', 1), ['a/1']);
    assert.deepEqual(await keys('b/', 1), []);
    assert.deepEqual(await keys('a/'), ['a/1', 'a/2', 'a/3']);
    assert.deepEqual(await keys('b/'), []);
    assert.deepEqual(Object.fromEntries(server.listed), { 'p/a/': 1, 'p/b/': 1 });
    // A replayed page is not replayed again.
    assert.deepEqual(await keys('a/'), ['a/1', 'a/2', 'a/3']);
    assert.equal(server.listed.get('p/a/'), 2);
  } finally {
    after();
    server.close();
  }
});
