// zlayer-storage key names (src/layout/zlayer/keys.ts), metadata.json
// (metadata.ts), the change-counter linkage check (linkage.ts) and the choice
// of candidates (plan.ts): the newest snapshot by the time in its name, WAL
// copies written after it newest first, then the snapshot alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CorruptBackupError } from '../../src/errors.js';
import type { RestorePlan, WalStep } from '../../src/layout/layout.js';
import {
  formatSnapshotStamp,
  parseSnapshotStamp,
  parseZlayerKey,
  snapshotKey,
  snapshotKeyIn,
  walKey,
} from '../../src/layout/zlayer/keys.js';
import { changeCounterProblem, Page1Tracker } from '../../src/layout/zlayer/linkage.js';
import { parseMetadata, type MetadataState } from '../../src/layout/zlayer/metadata.js';
import { listZlayer, MAX_WAL_CANDIDATES, planZlayer } from '../../src/layout/zlayer/plan.js';
import type { ObjectInfo } from '../../src/store/store.js';
import { crateMetadata, crateSnapshotKey, crateWalKey } from '../support/zlayer.js';

test('snapshot keys: chrono %Y%m%d_%H%M%S in UTC, real dates only', () => {
  const time = new Date(Date.UTC(2026, 2, 1, 12, 34, 56));
  assert.equal(snapshotKey(time), 'snapshots/20260301_123456.sqlite.zst');
  assert.equal(snapshotKey(time), crateSnapshotKey(time), 'same spelling as the test fixtures');
  assert.deepEqual(parseZlayerKey('snapshots/20260301_123456.sqlite.zst'), { type: 'snapshot', stamp: '20260301_123456', time });
  assert.equal(formatSnapshotStamp(new Date(Date.UTC(999, 0, 2, 3, 4, 5))), '09990102_030405');
  for (const bad of [
    'snapshots/20260230_000000.sqlite.zst', // 30 February
    'snapshots/20261301_000000.sqlite.zst',
    'snapshots/20260301_240000.sqlite.zst',
    'snapshots/20260301_123460.sqlite.zst',
    'snapshots/20260301_12345.sqlite.zst',
    'snapshots/20260301-123456.sqlite.zst',
    'snapshots/20260301_123456.sqlite',
    'snapshots/20260301_123456.sqlite.zst.tmp',
    'snapshots/x/20260301_123456.sqlite.zst',
    'other/snapshots/20260301_123456.sqlite.zst',
  ]) {
    assert.equal(parseZlayerKey(bad), undefined, bad);
  }
  assert.equal(parseSnapshotStamp('20240229_235959')?.toISOString(), '2024-02-29T23:59:59.000Z');
  assert.equal(parseSnapshotStamp('20230229_235959'), undefined);
});

test('WAL keys: 20 decimal digits of the frame count; metadata.json', () => {
  assert.equal(walKey(42), 'wal/00000000000000000042.wal.zst');
  assert.equal(walKey(42n), crateWalKey(42));
  assert.deepEqual(parseZlayerKey('wal/00000000000000000042.wal.zst'), { type: 'wal', sequence: 42n });
  assert.deepEqual(parseZlayerKey('wal/18446744073709551615.wal.zst'), { type: 'wal', sequence: 18446744073709551615n });
  assert.equal(parseZlayerKey('wal/18446744073709551616.wal.zst'), undefined, 'more than a u64');
  assert.equal(parseZlayerKey('wal/42.wal.zst'), undefined, 'the crate always pads to 20 digits');
  assert.equal(parseZlayerKey('wal/0000000000000000004a.wal.zst'), undefined);
  assert.equal(parseZlayerKey('wal/00000000000000000042.wal'), undefined);
  assert.deepEqual(parseZlayerKey('metadata.json'), { type: 'metadata' });
  assert.equal(parseZlayerKey('x/metadata.json'), undefined);
});

test('metadata.json: the crate\'s latest_snapshot is a full key with the prefix', () => {
  assert.equal(snapshotKeyIn('sqlite-replication/snapshots/20260301_123456.sqlite.zst'), 'snapshots/20260301_123456.sqlite.zst');
  assert.equal(snapshotKeyIn('snapshots/20260301_123456.sqlite.zst'), 'snapshots/20260301_123456.sqlite.zst');
  assert.equal(snapshotKeyIn('a/b/snapshots/20260301_123456.sqlite.zst'), 'snapshots/20260301_123456.sqlite.zst');
  assert.equal(snapshotKeyIn('appsnapshots/20260301_123456.sqlite.zst'), undefined);
  assert.equal(snapshotKeyIn('a/snapshots/nope.sqlite.zst'), undefined);

  const parsed = parseMetadata(crateMetadata({ prefix: 'p/', latestSnapshotKey: 'snapshots/20260301_123456.sqlite.zst', snapshotCount: 3 }));
  assert.equal(parsed.state, 'ok');
  assert.equal(parsed.state === 'ok' && parsed.metadata.latestSnapshot, 'p/snapshots/20260301_123456.sqlite.zst');
  assert.equal(parsed.state === 'ok' && parsed.metadata.snapshotCount, 3);
  assert.equal(parsed.state === 'ok' && parsed.metadata.dbIdentifier, undefined);
  assert.deepEqual(parseMetadata('{"latest_snapshot": null, "snapshot_count": 0}'), {
    state: 'ok',
    metadata: {
      latestSnapshot: undefined,
      latestSnapshotTime: undefined,
      latestWalSequence: undefined,
      snapshotCount: 0,
      dbIdentifier: undefined,
      lastModified: undefined,
    },
  });
  assert.equal(parseMetadata('not json').state, 'invalid');
  assert.equal(parseMetadata('[1]').state, 'invalid');
  assert.match(JSON.stringify(parseMetadata('{"latest_snapshot": 5}')), /latest_snapshot.*not a string/);
});

test('change counter: a WAL must neither roll page 1 back nor skip commits after the snapshot', () => {
  const page1 = (counter: number) => {
    const page = new Uint8Array(512);
    new DataView(page.buffer).setUint32(24, counter);
    return page;
  };
  const tracker = new Page1Tracker();
  tracker.frame(3, page1(0), 0);
  assert.equal(tracker.versions, undefined);
  tracker.frame(1, page1(10), 0);
  tracker.frame(1, page1(10), 4); // committed: 10..10
  tracker.frame(2, page1(0), 4); // a commit without page 1
  tracker.frame(1, page1(11), 0);
  tracker.frame(5, page1(0), 5); // committed: 10..11
  tracker.frame(1, page1(12), 0); // never committed
  assert.deepEqual(tracker.versions, { first: 10, last: 11 });

  assert.equal(changeCounterProblem(9, { first: 10, last: 11 }), undefined, 'snapshot just before the WAL');
  assert.equal(changeCounterProblem(10, { first: 10, last: 11 }), undefined, 'snapshot checkpointed part of it');
  assert.equal(changeCounterProblem(11, { first: 10, last: 11 }), undefined, 'snapshot checkpointed all of it');
  assert.equal(changeCounterProblem(12, undefined), undefined, 'no page-1 write: no evidence');
  assert.match(changeCounterProblem(12, { first: 10, last: 11 }) ?? '', /roll the database header back from change counter 12 \(snapshot\) to 11/);
  assert.match(changeCounterProblem(8, { first: 10, last: 11 }) ?? '', /first page-1 write has change counter 10 but the snapshot is at 8/);
  assert.equal(changeCounterProblem(0xffffffff, { first: 0, last: 1 }), undefined, 'the counter wraps');
});

// --- candidate selection ---------------------------------------------------

const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);
const at = (seconds: number) => new Date(T0 + seconds * 1000);

function obj(key: string, uploaded: number, size = 1000): ObjectInfo {
  return { key, size, lastModified: at(uploaded) };
}

const snapKey = (seconds: number) => crateSnapshotKey(at(seconds));
const ok = (key: string | null, raw?: string): MetadataState => ({
  state: 'ok',
  metadata: {
    latestSnapshot: raw ?? (key === null ? undefined : `sqlite-replication/${key}`),
    latestSnapshotTime: undefined,
    latestWalSequence: undefined,
    snapshotCount: 1,
    dbIdentifier: undefined,
    lastModified: undefined,
  },
});

function chain(plan: RestorePlan | null): RestorePlan[] {
  assert.ok(plan, 'expected a plan');
  return [plan, ...(plan.fallbacks ?? [])];
}

function describe(plan: RestorePlan): string {
  const wal = plan.steps.find((s): s is WalStep => s.kind === 'wal');
  return `${plan.steps[0]?.object.key} + ${wal ? wal.object.key : 'none'}`;
}

test('newest snapshot by name; WAL copies written after it, newest first; then the snapshot alone', () => {
  const objects = [
    obj(snapKey(0), 1),
    obj(snapKey(100), 101), // newest by name
    obj(crateWalKey(10), 50), // before the snapshot
    obj(crateWalKey(30), 100), // before
    obj(crateWalKey(20), 110),
    obj(crateWalKey(40), 120),
    obj(crateWalKey(35), 120), // same second as 40: the larger frame count first
    obj('wal/readme.txt', 130),
    obj('snapshots/latest.sqlite.zst', 130),
  ];
  const plans = chain(planZlayer(objects, ok(snapKey(100))));
  assert.deepEqual(plans.map(describe), [
    `${snapKey(100)} + ${crateWalKey(40)}`,
    `${snapKey(100)} + ${crateWalKey(35)}`,
    `${snapKey(100)} + ${crateWalKey(20)}`,
    `${snapKey(100)} + none`,
  ]);
  const [first, , , alone] = plans as [RestorePlan, RestorePlan, RestorePlan, RestorePlan];
  assert.equal(first.layout, 'zlayer');
  assert.deepEqual(first.source, {
    snapshot: snapKey(100),
    snapshotTime: '2026-03-01T12:01:40.000Z',
    wal: crateWalKey(40),
    walSequence: 40,
    walUploaded: at(120).toISOString(),
  });
  assert.equal(first.minVerify, 'full', 'a WAL candidate is only accepted by integrity_check');
  const step = first.steps[1] as WalStep;
  assert.equal(step.compression, 'zstd');
  assert.equal(first.applier, alone.applier, 'every candidate is applied by the zlayer applier (lenient WAL, change counter)');
  assert.equal(first.steps[0]?.kind, 'snapshot');
  assert.equal(first.description, `snapshot ${snapKey(100)} with WAL copy ${crateWalKey(40)}`);
  assert.deepEqual(first.warnings, [
    '2 objects under snapshots/ or wal/ do not follow the zlayer-storage naming and were ignored',
    // The last WAL copy came 19 s after the snapshot: no final snapshot, so no flush().
    `the newest upload is WAL copy ${crateWalKey(40)} at ${at(120).toISOString()}, 19 s after the newest snapshot: the replicator stopped without flush() (or is still running), and commits made after that upload, if any, are not in the bucket`,
  ]);
  assert.equal(alone.source.wal, 'none');
  assert.equal(alone.minVerify, undefined);
  assert.equal(alone.fallbacks, undefined);
  assert.match(alone.warnings.at(-1) ?? '', /restored snapshot snapshots\/20260301_120140\.sqlite\.zst alone: the 3 newest WAL copies written after it could not be applied; changes made after/);
});

test('at most a few WAL copies are tried; same-second copies cannot be ordered and are not used', () => {
  const objects = [obj(snapKey(0), 10), ...Array.from({ length: 6 }, (_, i) => obj(crateWalKey(i + 1), 11 + i)), obj(crateWalKey(99), 10)];
  const plans = chain(planZlayer(objects, ok(snapKey(0))));
  assert.equal(plans.length, MAX_WAL_CANDIDATES + 1);
  assert.deepEqual(
    plans.map((p) => p.source.wal),
    [crateWalKey(6), crateWalKey(5), crateWalKey(4), 'none'],
  );
  assert.match(plans[0]?.warnings[0] ?? '', /1 WAL copy was uploaded in the same second as snapshot .* cannot be ordered after it; not used/);
  assert.match(plans.at(-1)?.warnings.at(-1) ?? '', /the 3 newest WAL copies written after it could not be applied \(3 older ones were not tried\)/);
});

test('a snapshot newer than every WAL copy is restored alone, with a warning', () => {
  const plans = chain(planZlayer([obj(snapKey(50), 50), obj(crateWalKey(1), 20), obj(crateWalKey(2), 30)], ok(snapKey(50))));
  assert.equal(plans.length, 1);
  const [plan] = plans as [RestorePlan];
  assert.deepEqual(plan.steps.map((s) => s.kind), ['snapshot']);
  assert.equal(plan.steps[0]?.kind === 'snapshot' && plan.steps[0].compression, 'zstd');
  assert.deepEqual(plan.warnings, [
    `no WAL copy was written after snapshot ${snapKey(50)} (2 older ones predate it): restored the snapshot alone; transactions that were still only in the -wal file when it was taken are not in it`,
  ]);
  const single = chain(planZlayer([obj(snapKey(50), 50)], ok(snapKey(50))));
  assert.match(single[0]?.warnings[0] ?? '', /^no WAL copy was written after snapshot \S+: restored the snapshot alone/);
});

test('metadata.json cross-check: missing or unusable is a warning, a lagging one too; a newer missing snapshot is refused', () => {
  const objects = [obj(snapKey(0), 1), obj(snapKey(60), 61), obj(crateWalKey(3), 70)];
  const warningsWith = (metadata: MetadataState) => chain(planZlayer(objects, metadata)).map((p) => p.warnings);

  for (const plan of warningsWith({ state: 'missing' })) {
    assert.equal(plan[0], `metadata.json is missing: the newest snapshot could not be cross-checked; restoring the newest one listed, ${snapKey(60)}`);
  }
  assert.match(warningsWith({ state: 'invalid', reason: 'not JSON' })[0]?.[0] ?? '', /^metadata\.json could not be used \(not JSON\)/);
  assert.match(warningsWith(ok(null))[0]?.[0] ?? '', /^metadata\.json names no latest snapshot/);
  assert.deepEqual(warningsWith(ok(snapKey(60)))[0], [
    `the newest upload is WAL copy ${crateWalKey(3)} at ${at(70).toISOString()}, 9 s after the newest snapshot: the replicator stopped without flush() (or is still running), and commits made after that upload, if any, are not in the bucket`,
  ], 'agreeing metadata: no cross-check warning');
  assert.match(warningsWith(ok(snapKey(0)))[0]?.[0] ?? '', /names snapshots\/20260301_120000\.sqlite\.zst as the latest snapshot; the newer snapshots\/20260301_120100\.sqlite\.zst is restored/);
  assert.match(warningsWith(ok(snapKey(30)))[0]?.[0] ?? '', /as the latest snapshot \(no longer in the replica\); the newer/);
  assert.match(warningsWith(ok(null, 'garbage'))[0]?.[0] ?? '', /names "garbage" as the latest snapshot, which is not a snapshot key/);

  assert.throws(
    () => planZlayer(objects, ok(snapKey(3600))),
    (err: unknown) =>
      err instanceof CorruptBackupError &&
      /metadata\.json names snapshots\/20260301_130000\.sqlite\.zst as the latest snapshot, but it is not in the replica \(the newest listed is snapshots\/20260301_120100\.sqlite\.zst\); refusing to restore older data/.test(err.message),
  );
});

test('an empty replica has no plan; WAL copies or metadata without a snapshot are refused', () => {
  assert.equal(planZlayer([], { state: 'missing' }), null);
  // Something under the layout's prefixes is never "no backup" (a first boot).
  assert.throws(() => planZlayer([obj('wal/notes.txt', 1)], { state: 'missing' }), /no zlayer backup: wal\/notes\.txt/);
  assert.throws(() => planZlayer([obj('metadata.json.bak', 1)], { state: 'missing' }), /no zlayer backup: metadata\.json\.bak/);
  assert.throws(() => planZlayer([obj(crateWalKey(5), 1)], { state: 'missing' }), /holds 1 WAL copy but no snapshot/);
  assert.throws(() => planZlayer([], ok(null)), /holds metadata\.json but no snapshot/);
});

test('a snapshot uploaded later but named older is reported (two writers, or a clock)', () => {
  const plans = chain(planZlayer([obj(snapKey(100), 100), obj(snapKey(50), 200)], ok(snapKey(100))));
  assert.equal(plans[0]?.source.snapshot, snapKey(100));
  assert.match(plans[0]?.warnings.join('\n') ?? '', /snapshots\/20260301_120050\.sqlite\.zst was uploaded after snapshots\/20260301_120140\.sqlite\.zst but is named older/);
});

test('list: snapshots and WAL copies with where each stands', () => {
  const listing = listZlayer([obj(snapKey(0), 1), obj(snapKey(60), 61), obj(crateWalKey(3), 70), obj(crateWalKey(2), 61), obj(crateWalKey(1), 10)], { state: 'missing' });
  assert.equal(listing.layout, 'zlayer');
  assert.deepEqual(listing.tables.map((t) => t.rows.length), [2, 3]);
  assert.deepEqual(
    listing.tables[1]?.rows.map((r) => [r[0], r[4]]),
    [
      [crateWalKey(3), 'after newest snapshot'],
      [crateWalKey(2), 'same second'],
      [crateWalKey(1), 'before'],
    ],
  );
  assert.ok(listing.notes.includes('metadata.json is missing'));
  assert.match(listing.notes.join('\n'), /a restore takes snapshot snapshots\/20260301_120100\.sqlite\.zst with the newest WAL copy written after it that passes the checks \(up to 1 of 1 tried\)/);
});
