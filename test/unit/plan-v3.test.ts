import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planV3, LAYOUT_NAME } from '../../src/layout/litestream-v3/plan.js';
import { parseV3Key, snapshotKey, walKey } from '../../src/layout/litestream-v3/keys.js';
import { CorruptBackupError } from '../../src/errors.js';
import type { ObjectInfo } from '../../src/store/store.js';
import type { PlanStep, RestorePlan, WalStep } from '../../src/layout/layout.js';

const GEN_A = '0123456789abcdef';
const GEN_B = 'fedcba9876543210';

const hex8 = (n: number) => n.toString(16).padStart(8, '0');

function obj(key: string, seconds: number, size = 100): ObjectInfo {
  return { key, size, lastModified: new Date(Date.UTC(2024, 0, 1) + seconds * 1000), etag: `"${key.length}-${seconds}"` };
}

const snap = (gen: string, index: number, t: number) => obj(`generations/${gen}/snapshots/${hex8(index)}.snapshot.lz4`, t);
const wal = (gen: string, index: number, offset: number | string, t: number) =>
  obj(`generations/${gen}/wal/${hex8(index)}_${typeof offset === 'string' ? offset : hex8(offset)}.wal.lz4`, t);

function walSteps(plan: RestorePlan): Array<[number, number]> {
  return plan.steps.filter((s): s is WalStep => s.kind === 'wal').map((s) => [s.walIndex, s.offset]);
}

function expectCorrupt(objects: ObjectInfo[], pattern: RegExp | string): void {
  assert.throws(
    () => planV3(objects),
    (err: unknown) => {
      assert.ok(err instanceof CorruptBackupError, `expected CorruptBackupError, got ${String(err)}`);
      assert.equal(err.exitCode, 65);
      if (typeof pattern === 'string') assert.ok(err.message.includes(pattern), `"${err.message}" should include "${pattern}"`);
      else assert.match(err.message, pattern);
      return true;
    },
  );
}

function shuffle<T>(items: T[], seed = 7): T[] {
  const out = [...items];
  let x = seed;
  for (let i = out.length - 1; i > 0; i -= 1) {
    x = (x * 1103515245 + 12345) >>> 0;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

// ---------------------------------------------------------------------------
// keys.ts

test('parseV3Key parses snapshot and WAL keys', () => {
  assert.deepEqual(parseV3Key(`generations/${GEN_A}/snapshots/0000001f.snapshot.lz4`), {
    type: 'snapshot',
    generation: GEN_A,
    index: 31,
  });
  assert.deepEqual(parseV3Key(`generations/${GEN_A}/wal/00000002_00001000.wal.lz4`), {
    type: 'wal',
    generation: GEN_A,
    index: 2,
    offset: 4096,
  });
  assert.deepEqual(parseV3Key(`generations/${GEN_A}/wal/00000002_0000000100000000.wal.lz4`), {
    type: 'wal',
    generation: GEN_A,
    index: 2,
    offset: 0x100000000,
  });
});

test('parseV3Key rejects foreign and hostile keys', () => {
  for (const key of [
    'generations/../../etc/passwd',
    `generations/${GEN_A}/../../../etc/passwd`,
    'generations/abc/snapshots/x.snapshot.lz4',
    `generations/${GEN_A.toUpperCase()}/snapshots/00000001.snapshot.lz4`,
    `generations/${GEN_A}/snapshots/0000000A.snapshot.lz4`,
    `generations/${GEN_A}/wal/0000000A_00000000.wal.lz4`,
    `generations/${GEN_A}/wal/00000001_0000000A.wal.lz4`,
    `generations/${GEN_A}/wal/00000001_00000000.wal.lz4.tmp`,
    `generations/${GEN_A}/snapshots/00000001.snapshot.lz4.tmp`,
    `generations/${GEN_A}/wal/00000001_00000000.wal`,
    `generations/${GEN_A}/wal/00000001_000000000.wal.lz4`, // 9 hex digits
    `generations/${GEN_A}/wal/00000001_ffffffffffffffff.wal.lz4`, // beyond a safe integer
    `/generations/${GEN_A}/snapshots/00000001.snapshot.lz4`,
    `generations/${GEN_A}/snapshots/00000001.snapshot.lz4/`,
    `generations/${GEN_A}/snapshots/sub/00000001.snapshot.lz4`,
    `generations/${GEN_A}0/snapshots/00000001.snapshot.lz4`,
    `x/generations/${GEN_A}/snapshots/00000001.snapshot.lz4`,
    `generations/${GEN_A}/snapshots/00000001.snapshot.lz4\n`,
    `generations/${GEN_A}/wal/00000001-00000000.wal.lz4`,
    `generations/${GEN_A}/generation`,
    '',
  ]) {
    assert.equal(parseV3Key(key), undefined, JSON.stringify(key));
  }
});

test('snapshotKey and walKey format 8-hex indexes and offsets, 16 hex beyond 4 GiB', () => {
  assert.equal(snapshotKey(GEN_A, 0x2a), `generations/${GEN_A}/snapshots/0000002a.snapshot.lz4`);
  assert.equal(walKey(GEN_A, 1, 0), `generations/${GEN_A}/wal/00000001_00000000.wal.lz4`);
  assert.equal(walKey(GEN_A, 0xabc, 0x1000), `generations/${GEN_A}/wal/00000abc_00001000.wal.lz4`);
  assert.equal(walKey(GEN_A, 1, 0xffffffff), `generations/${GEN_A}/wal/00000001_ffffffff.wal.lz4`);
  assert.equal(walKey(GEN_A, 1, 0x100000000), `generations/${GEN_A}/wal/00000001_0000000100000000.wal.lz4`);
  // Round trip.
  for (const [i, o] of [[0, 0], [5, 4152], [0xffffffff, 0x123456789]] as const) {
    assert.deepEqual(parseV3Key(walKey(GEN_B, i, o)), { type: 'wal', generation: GEN_B, index: i, offset: o });
  }
});

// ---------------------------------------------------------------------------
// planV3

test('no objects: plan is null', () => {
  assert.deepEqual(planV3([]), { plan: null, ignored: 0 });
});

test('only foreign objects: refused naming them, never "no backup" (a first boot)', () => {
  expectCorrupt([obj('generations/readme.txt', 1), obj('generations/../../etc/passwd', 2)], /no litestream-v0\.3 backup: generations\/readme\.txt .*etc\/passwd/);
  assert.equal(planV3([]).plan, null);
});

test('a snapshot alone makes a one-step plan', () => {
  const { plan, ignored } = planV3([snap(GEN_A, 3, 10)]);
  assert.ok(plan);
  assert.equal(ignored, 0);
  assert.equal(plan.layout, LAYOUT_NAME);
  assert.equal(plan.steps.length, 1);
  const step = plan.steps[0] as PlanStep;
  assert.equal(step.kind, 'snapshot');
  assert.equal(step.compression, 'lz4');
  assert.equal(step.object.key, snapshotKey(GEN_A, 3));
  assert.deepEqual(plan.source, { generation: GEN_A, snapshotIndex: 3, snapshot: snapshotKey(GEN_A, 3) });
});

test('chooses the generation with the newest lastModified over any of its objects', () => {
  const objects = [
    snap(GEN_A, 0, 100),
    wal(GEN_A, 0, 0, 100),
    wal(GEN_A, 0, 4096, 300), // A was updated last, by a WAL segment
    snap(GEN_B, 0, 200), // B has the newest snapshot
    wal(GEN_B, 0, 0, 200),
  ];
  for (const order of [objects, [...objects].reverse(), shuffle(objects)]) {
    const { plan } = planV3(order);
    assert.equal(plan?.source.generation, GEN_A);
    assert.deepEqual(walSteps(plan as RestorePlan), [
      [0, 0],
      [0, 4096],
    ]);
  }
  const { plan } = planV3([...objects, wal(GEN_B, 0, 8192, 301)]);
  assert.equal(plan?.source.generation, GEN_B);
});

test('chooses the newest snapshot of the generation and WAL steps from its index on, in (index, offset) order', () => {
  const objects = [
    snap(GEN_A, 1, 10),
    snap(GEN_A, 3, 30),
    snap(GEN_A, 2, 20),
    wal(GEN_A, 0, 0, 1),
    wal(GEN_A, 1, 0, 11),
    wal(GEN_A, 1, 0x2000, 12),
    wal(GEN_A, 2, 0, 21),
    wal(GEN_A, 3, 0, 31),
    wal(GEN_A, 3, 0x1000, 32),
    wal(GEN_A, 3, 0x10000, 33), // numeric, not string, order: 0x10000 after 0x2000
    wal(GEN_A, 3, 0x2000, 34),
    wal(GEN_A, 4, 0, 41),
    wal(GEN_A, 5, 0, 51),
    wal(GEN_A, 5, 0x1000, 52),
  ];
  for (const order of [objects, shuffle(objects, 1), shuffle(objects, 99)]) {
    const { plan } = planV3(order);
    assert.ok(plan);
    assert.equal(plan.source.snapshotIndex, 3);
    assert.equal(plan.steps[0]?.kind, 'snapshot');
    assert.equal(plan.steps[0]?.object.key, snapshotKey(GEN_A, 3));
    assert.deepEqual(walSteps(plan), [
      [3, 0],
      [3, 0x1000],
      [3, 0x2000],
      [3, 0x10000],
      [4, 0],
      [5, 0],
      [5, 0x1000],
    ]);
    // Each step carries its own object.
    for (const step of plan.steps.slice(1) as WalStep[]) {
      assert.equal(step.object.key, walKey(GEN_A, step.walIndex, step.offset));
      assert.equal(step.compression, 'lz4');
    }
  }
});

test('snapshot index 10 (hex a) sorts after 9', () => {
  const { plan } = planV3([snap(GEN_A, 9, 1), snap(GEN_A, 10, 2), wal(GEN_A, 9, 0, 1), wal(GEN_A, 10, 0, 2)]);
  assert.equal(plan?.source.snapshotIndex, 10);
  assert.deepEqual(walSteps(plan as RestorePlan), [[10, 0]]);
});

test('a missing WAL index between the snapshot and later ones is an error naming the missing key', () => {
  const objects = [snap(GEN_A, 2, 1), wal(GEN_A, 2, 0, 1), wal(GEN_A, 2, 0x1000, 2), wal(GEN_A, 4, 0, 3), wal(GEN_A, 5, 0, 4)];
  expectCorrupt(objects, `generations/${GEN_A}/wal/00000003_00000000.wal.lz4`);
  expectCorrupt(shuffle(objects), `generations/${GEN_A}/wal/00000003_00000000.wal.lz4`);
});

test('a missing WAL index at the snapshot index itself is an error naming that key', () => {
  expectCorrupt([snap(GEN_A, 2, 1), wal(GEN_A, 3, 0, 2)], `generations/${GEN_A}/wal/00000002_00000000.wal.lz4`);
});

test('a missing index is reported in hex', () => {
  expectCorrupt(
    [snap(GEN_A, 9, 1), wal(GEN_A, 9, 0, 1), wal(GEN_A, 11, 0, 2)],
    `generations/${GEN_A}/wal/0000000a_00000000.wal.lz4`,
  );
});

test('a WAL index whose first segment is not at offset 0 is an error naming the offset-0 key', () => {
  expectCorrupt(
    [snap(GEN_A, 1, 1), wal(GEN_A, 1, 0, 1), wal(GEN_A, 2, 0x1000, 2), wal(GEN_A, 2, 0x2000, 3)],
    `generations/${GEN_A}/wal/00000002_00000000.wal.lz4`,
  );
  // Also for the snapshot's own index.
  expectCorrupt([snap(GEN_A, 1, 1), wal(GEN_A, 1, 0x1000, 1)], `generations/${GEN_A}/wal/00000001_00000000.wal.lz4`);
});

test('WAL indexes older than the snapshot are ignored, even with gaps', () => {
  const { plan } = planV3([
    wal(GEN_A, 0, 0x1000, 1), // no offset 0: would be an error if it were used
    wal(GEN_A, 2, 0, 2),
    snap(GEN_A, 5, 3),
    wal(GEN_A, 5, 0, 4),
  ]);
  assert.deepEqual(walSteps(plan as RestorePlan), [[5, 0]]);
});

test('a tie on lastModified between two generations is ambiguous', () => {
  const objects = [snap(GEN_A, 1, 50), wal(GEN_A, 1, 0, 100), snap(GEN_B, 1, 100)];
  expectCorrupt(objects, /ambiguous/);
  expectCorrupt([...objects].reverse(), /ambiguous/);
  // A tie between older generations does not matter.
  const { plan } = planV3([...objects, snap('00000000000000aa', 1, 200)]);
  assert.equal(plan?.source.generation, '00000000000000aa');
});

test('the newest generation without a snapshot is an error, never a fallback to an older one', () => {
  expectCorrupt([snap(GEN_A, 1, 10), wal(GEN_A, 1, 0, 11), wal(GEN_B, 0, 0, 20)], /snapshot/);
  expectCorrupt([wal(GEN_B, 0, 0, 20)], GEN_B);
});

test('hostile and foreign keys are ignored and counted', () => {
  const good = [snap(GEN_A, 1, 10), wal(GEN_A, 1, 0, 11)];
  const hostile = [
    obj('generations/../../etc/passwd', 1000),
    obj('generations/abc/snapshots/x.snapshot.lz4', 1000),
    obj(`generations/${GEN_B.toUpperCase()}/snapshots/00000001.snapshot.lz4`, 1000),
    obj(`generations/${GEN_A}/snapshots/0000000F.snapshot.lz4`, 1000),
    obj(`generations/${GEN_A}/wal/00000001_0000000A.wal.lz4`, 1000),
    obj(`generations/${GEN_A}/wal/00000001_00000000.wal.lz4.tmp`, 1000),
    obj(`generations/${GEN_A}/wal/00000002_00000000.wal.lz4.tmp`, 1000),
    obj(`generations/${GEN_B}/snapshots/../../../${GEN_A}/snapshots/00000009.snapshot.lz4`, 1000),
  ];
  const { plan, ignored } = planV3(shuffle([...good, ...hostile]));
  assert.equal(ignored, hostile.length);
  assert.ok(plan);
  assert.deepEqual(plan.warnings, [`${hostile.length} object(s) under generations/ do not follow the Litestream v0.3 naming and were ignored`]);
  // Their (newer) timestamps neither change the generation nor create ambiguity.
  assert.equal(plan.source.generation, GEN_A);
  assert.equal(plan.source.snapshotIndex, 1);
  assert.deepEqual(walSteps(plan), [[1, 0]]);
  assert.deepEqual(
    plan.steps.map((s) => s.object.key),
    good.map((o) => o.key),
  );
});

test('16-hex offsets are accepted and ordered numerically with 8-hex ones', () => {
  const { plan } = planV3([
    snap(GEN_A, 1, 1),
    wal(GEN_A, 1, '0000000100000000', 4),
    wal(GEN_A, 1, 0, 2),
    wal(GEN_A, 1, '0000000000002000', 3),
    wal(GEN_A, 1, 'ffffff00', 3),
  ]);
  assert.deepEqual(walSteps(plan as RestorePlan), [
    [1, 0],
    [1, 0x2000],
    [1, 0xffffff00],
    [1, 0x100000000],
  ]);
});

test('the same offset spelled with 8 and 16 hex digits is a duplicate', () => {
  expectCorrupt([snap(GEN_A, 1, 1), wal(GEN_A, 1, 0, 1), wal(GEN_A, 1, '00001000', 2), wal(GEN_A, 1, '0000000000001000', 3)], /two WAL segments/);
  expectCorrupt([snap(GEN_A, 1, 1), wal(GEN_A, 1, '00000000', 1), wal(GEN_A, 1, '0000000000000000', 2)], /two WAL segments/);
});

test('the plan names the chosen generation, whose keys its applier reports gaps with', () => {
  const { plan } = planV3([snap(GEN_B, 1, 1), wal(GEN_B, 1, 0, 2), snap(GEN_A, 1, 0)]);
  assert.ok(plan);
  assert.equal(plan.source.generation, GEN_B);
  assert.ok(plan.applier, 'a Litestream v0.3 applier');
});

test('the plan keeps the listed ObjectInfo (size, etag) for each step', () => {
  const s = { ...snap(GEN_A, 1, 1), size: 12345, etag: '"abc"' };
  const w = { ...wal(GEN_A, 1, 0, 2), size: 678, etag: '"def"' };
  const { plan } = planV3([w, s]);
  assert.deepEqual(plan?.steps.map((st) => st.object), [s, w]);
});
