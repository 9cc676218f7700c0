// Planning a Litestream v0.5 restore from a listing: key parsing, the newest
// snapshot, the greedy walk over levels, gaps, and what is ignored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CorruptBackupError } from '../../src/errors.js';
import type { LtxStep, RestorePlan } from '../../src/layout/layout.js';
import { ltxKey, parseLtxKey } from '../../src/layout/ltx/keys.js';
import { LAYOUT_NAME, planLtx } from '../../src/layout/ltx/plan.js';
import type { ObjectInfo } from '../../src/store/store.js';

const hex16 = (n: number) => n.toString(16).padStart(16, '0');

function obj(key: string, size = 100): ObjectInfo {
  return { key, size, lastModified: new Date(Date.UTC(2026, 0, 1)), etag: `"${key.length}"` };
}

/** An S3-style key: <level as 4 hex>/<min>-<max>.ltx */
const s3 = (level: number, min: number, max: number) => obj(`${level.toString(16).padStart(4, '0')}/${hex16(min)}-${hex16(max)}.ltx`);
const file = (level: number, min: number, max: number) => obj(`ltx/${level}/${hex16(min)}-${hex16(max)}.ltx`);

function steps(plan: RestorePlan | null): string[] {
  assert.ok(plan, 'expected a plan');
  return plan.steps.map((s) => {
    const step = s as LtxStep;
    assert.equal(step.kind, 'ltx');
    return `L${step.level}:${step.minTxid}-${step.maxTxid}`;
  });
}

function expectCorrupt(objects: ObjectInfo[], pattern: RegExp): void {
  assert.throws(
    () => planLtx(objects),
    (err: unknown) => {
      assert.ok(err instanceof CorruptBackupError, `expected CorruptBackupError, got ${String(err)}`);
      assert.equal(err.exitCode, 65);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

test('keys: both namings, levels 0-9, 16 lowercase hex digits, min <= max', () => {
  assert.deepEqual(parseLtxKey('0009/0000000000000001-00000000000000ff.ltx'), { style: 's3', level: 9, minTxid: 1n, maxTxid: 255n });
  assert.deepEqual(parseLtxKey('ltx/0/000000000000000a-000000000000000a.ltx'), { style: 'file', level: 0, minTxid: 10n, maxTxid: 10n });
  assert.deepEqual(parseLtxKey('0000/fffffffffffffff0-ffffffffffffffff.ltx'), {
    style: 's3', level: 0, minTxid: 0xfffffffffffffff0n, maxTxid: 0xffffffffffffffffn,
  });
  for (const bad of [
    '000a/0000000000000001-0000000000000001.ltx', // level 10
    'ltx/10/0000000000000001-0000000000000001.ltx',
    'ltx/01/0000000000000001-0000000000000001.ltx',
    '0000/0000000000000002-0000000000000001.ltx', // min > max
    '0000/0000000000000000-0000000000000001.ltx', // TXID 0
    '0000/000000000000000A-000000000000000A.ltx', // upper case
    '0000/000000000000000a-000000000000000a.ltx.tmp',
    '000/000000000000000a-000000000000000a.ltx',
    'x/0000/000000000000000a-000000000000000a.ltx',
    'generations/0123456789abcdef/wal/00000001_00000000.wal.lz4',
  ]) {
    assert.equal(parseLtxKey(bad), undefined, bad);
  }
  assert.equal(ltxKey('s3', 9, 1n, 0x2an), '0009/0000000000000001-000000000000002a.ltx');
  assert.equal(ltxKey('file', 1, 3n, 4n), 'ltx/1/0000000000000003-0000000000000004.ltx');
});

test('no LTX file: no plan; foreign objects alone are refused, never "no backup" (a first boot)', () => {
  assert.equal(planLtx([]).plan, null);
  assert.throws(
    () => planLtx([obj('README.txt'), obj('0000/junk')]),
    (err: unknown) => err instanceof CorruptBackupError && /no litestream-v0\.5 backup: README\.txt .*0000\/junk/.test(err.message),
  );
});

test('a snapshot alone', () => {
  const { plan } = planLtx([s3(9, 1, 40)]);
  assert.deepEqual(steps(plan), ['L9:1-40']);
  assert.equal(plan?.layout, LAYOUT_NAME);
  assert.deepEqual(plan?.source, {
    snapshot: '0009/0000000000000001-0000000000000028.ltx',
    snapshotTxid: '0000000000000028',
    txid: '0000000000000028',
    files: 1,
  });
  assert.deepEqual(plan?.warnings, []);
});

test('the newest snapshot, then the files reaching furthest, highest level first on a tie', () => {
  const objects = [
    s3(9, 1, 10),
    s3(9, 1, 20),
    // L2 reaches furthest from 21; L1 and L0 cover the same ground in smaller pieces.
    s3(2, 21, 40),
    s3(1, 21, 30), s3(1, 31, 40),
    ...Array.from({ length: 25 }, (_, i) => s3(0, 21 + i, 21 + i)),
    // Tie on 41-45: the higher level wins.
    s3(1, 41, 45),
    s3(3, 41, 45),
  ];
  const { plan } = planLtx(objects.reverse());
  assert.deepEqual(steps(plan), ['L9:1-20', 'L2:21-40', 'L3:41-45']);
  assert.equal(plan?.source.txid, hex16(45));
  assert.equal(plan?.source.files, 3);
});

test('files that start inside the range already restored are used (they hold the newest pages)', () => {
  // L1 11-30 overlaps the snapshot (1-20) and reaches further than L0 21-25.
  const { plan } = planLtx([s3(9, 1, 20), s3(1, 11, 30), s3(0, 21, 21), s3(0, 31, 31)]);
  assert.deepEqual(steps(plan), ['L9:1-20', 'L1:11-30', 'L0:31-31']);
});

test('files entirely older than the snapshot are skipped', () => {
  const { plan } = planLtx([s3(0, 1, 1), s3(0, 2, 2), s3(1, 1, 5), s3(9, 1, 5), s3(0, 6, 6)]);
  assert.deepEqual(steps(plan), ['L9:1-5', 'L0:6-6']);
});

test('a gap is an error naming the missing TXIDs and the files on both sides', () => {
  expectCorrupt(
    [s3(9, 1, 10), s3(0, 11, 11), s3(0, 14, 14), s3(0, 15, 15)],
    /^missing TXIDs 000000000000000c\.\.000000000000000d: the LTX files restorable from 0009\/0000000000000001-000000000000000a\.ltx end at TXID 000000000000000b, but 0000\/000000000000000e-000000000000000e\.ltx starts at 000000000000000e$/,
  );
  // A gap right after the snapshot, in another level.
  expectCorrupt([s3(9, 1, 10), s3(2, 12, 20)], /missing TXIDs 000000000000000b\.\.000000000000000b/);
});

test('without a level-9 snapshot a file starting at TXID 1 is the base', () => {
  const { plan } = planLtx([s3(0, 1, 1), s3(0, 2, 2), s3(1, 1, 2), s3(0, 3, 3)]);
  assert.deepEqual(steps(plan), ['L1:1-2', 'L0:3-3']);
  expectCorrupt([s3(0, 5, 5), s3(0, 6, 6)], /no snapshot: the replica has no level-9 snapshot and its oldest LTX file 0000\/0000000000000005-0000000000000005\.ltx starts at TXID 5/);
});

test('level-9 files not starting at TXID 1 are ignored with a warning; foreign keys are counted', () => {
  const { plan, ignored } = planLtx([s3(9, 1, 10), s3(9, 5, 12), s3(0, 11, 11), obj('0000/notes.txt')]);
  assert.deepEqual(steps(plan), ['L9:1-10', 'L0:11-11']);
  assert.equal(ignored, 1);
  assert.equal(plan?.warnings.length, 2);
  assert.match(plan?.warnings[0] ?? '', /1 object\(s\) do not follow the Litestream v0\.5 LTX naming/);
  assert.match(plan?.warnings[1] ?? '', /1 level-9 file\(s\) do not start at TXID 1 .*0009\/0000000000000005-000000000000000c\.ltx/);
});

test('file-replica naming plans the same way', () => {
  const { plan } = planLtx([file(9, 1, 3), file(1, 4, 8), file(0, 4, 4), file(0, 9, 9)]);
  assert.deepEqual(steps(plan), ['L9:1-3', 'L1:4-8', 'L0:9-9']);
  assert.equal(plan?.source.snapshot, 'ltx/9/0000000000000001-0000000000000003.ltx');
});

test('both namings in one replica are refused', () => {
  expectCorrupt([s3(9, 1, 3), file(0, 4, 4)], /both under ltx\/<level>\/ .* and under <level as 4 hex digits>\//);
});

test('TXIDs beyond 2^53 are exact', () => {
  const big = 2n ** 60n;
  const key = (level: number, min: bigint, max: bigint) => obj(ltxKey('s3', level, min, max));
  const { plan } = planLtx([key(9, 1n, big), key(0, big + 1n, big + 1n), key(0, big + 2n, big + 2n)]);
  assert.deepEqual(steps(plan), [`L9:1-${big}`, `L0:${big + 1n}-${big + 1n}`, `L0:${big + 2n}-${big + 2n}`]);
});
