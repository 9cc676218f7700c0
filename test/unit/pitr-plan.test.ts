// Point-in-time planning on hand-made listings: the target variables, and
// what each layout restores (or refuses) for a time, a generation + WAL
// index, or a TXID, exact and at-or-before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, parseTarget } from '../../src/config.js';
import { ConfigError, CorruptBackupError, RestoreError, TargetUnreachableError } from '../../src/errors.js';
import type { LtxStep, RestorePlan, WalStep } from '../../src/layout/layout.js';
import { litestreamV3 } from '../../src/layout/litestream-v3/index.js';
import { listV3, planV3 } from '../../src/layout/litestream-v3/plan.js';
import { litestreamV5 } from '../../src/layout/ltx/index.js';
import { listLtx, planLtx, planLtxAtTime, resolveLtxTime, type LtxFile } from '../../src/layout/ltx/plan.js';
import {
  checkTargetSupported,
  parseRfc3339,
  parseTxid,
  parseWalIndex,
  type RestoreTarget,
  type TargetMatch,
} from '../../src/layout/target.js';
import { renderTable } from '../../src/list.js';
import type { ObjectInfo } from '../../src/store/store.js';

const GEN_A = '0123456789abcdef';
const GEN_B = 'fedcba9876543210';
const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);
const hex8 = (n: number) => n.toString(16).padStart(8, '0');
const hex16 = (n: number) => n.toString(16).padStart(16, '0');

/** An object uploaded `seconds` after T0 (fractions allowed). */
function obj(key: string, seconds: number, size = 100): ObjectInfo {
  return { key, size, lastModified: new Date(T0 + seconds * 1000), etag: `"${key.length}"` };
}
const snap = (gen: string, index: number, t: number) => obj(`generations/${gen}/snapshots/${hex8(index)}.snapshot.lz4`, t);
const wal = (gen: string, index: number, offset: number, t: number) => obj(`generations/${gen}/wal/${hex8(index)}_${hex8(offset)}.wal.lz4`, t);
const at = (seconds: number) => T0 + seconds * 1000;

function time(seconds: number, match: TargetMatch = 'exact'): RestoreTarget {
  return { kind: 'time', time: at(seconds), match };
}
function gen(generation: string, index: number | undefined, match: TargetMatch = 'exact'): RestoreTarget {
  return { kind: 'generation', generation, index, match };
}
function txid(n: number, match: TargetMatch = 'exact'): RestoreTarget {
  return { kind: 'txid', txid: BigInt(n), match };
}

/** "snap:<index>" then "<index>/<offset>" per WAL step. */
function v3Steps(plan: RestorePlan | null): string[] {
  assert.ok(plan, 'expected a plan');
  return plan.steps.map((s) => (s.kind === 'snapshot' ? `snap:${s.object.key.split('/').pop()?.slice(0, 8)}` : `${(s as WalStep).walIndex}/${(s as WalStep).offset}`));
}

function rejects(fn: () => unknown, type: new (...args: never[]) => RestoreError, code: number, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    assert.equal((err as RestoreError).exitCode, code);
    assert.match((err as Error).message, pattern);
    return true;
  });
}

async function rejectsAsync(p: Promise<unknown>, type: new (...args: never[]) => RestoreError, code: number, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    assert.equal((err as RestoreError).exitCode, code);
    assert.match((err as Error).message, pattern);
    return true;
  });
}

// ---------------------------------------------------------------------------
// Target variables

const base = { SQLITE_RESTORE_REPLICA_URL: 's3://bucket/db', SQLITE_RESTORE_DB_PATH: '/data/app.db' };

test('target variables: one kind at a time, match only with a target, strict formats', () => {
  assert.equal(parseTarget({}), 'latest');
  assert.deepEqual(parseTarget({ SQLITE_RESTORE_TARGET_TIME: '2026-03-01T14:00:00.250+02:00' }), {
    kind: 'time',
    time: Date.UTC(2026, 2, 1, 12, 0, 0, 250),
    match: 'exact',
  });
  assert.deepEqual(parseTarget({ SQLITE_RESTORE_TARGET_GENERATION: GEN_A, SQLITE_RESTORE_TARGET_INDEX: '0000002a', SQLITE_RESTORE_TARGET_MATCH: 'at-or-before' }), {
    kind: 'generation',
    generation: GEN_A,
    index: 42,
    match: 'at-or-before',
  });
  assert.deepEqual(parseTarget({ SQLITE_RESTORE_TARGET_GENERATION: GEN_A }), { kind: 'generation', generation: GEN_A, index: undefined, match: 'exact' });
  assert.deepEqual(parseTarget({ SQLITE_RESTORE_TARGET_TXID: '1234' }), { kind: 'txid', txid: 1234n, match: 'exact' });
  // An empty variable is unset (a Helm chart may render it empty).
  assert.equal(parseTarget({ SQLITE_RESTORE_TARGET_TXID: '' }), 'latest');

  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ SQLITE_RESTORE_TARGET_TIME: '2026-03-01T12:00:00Z', SQLITE_RESTORE_TARGET_TXID: '5' }, /only one kind of restore target/],
    [{ SQLITE_RESTORE_TARGET_GENERATION: GEN_A, SQLITE_RESTORE_TARGET_TXID: '5' }, /only one kind/],
    [{ SQLITE_RESTORE_TARGET_INDEX: '1', SQLITE_RESTORE_TARGET_TIME: '2026-03-01T12:00:00Z' }, /only one kind/],
    [{ SQLITE_RESTORE_TARGET_INDEX: '1' }, /needs SQLITE_RESTORE_TARGET_GENERATION/],
    [{ SQLITE_RESTORE_TARGET_MATCH: 'at-or-before' }, /no target is/],
    [{ SQLITE_RESTORE_TARGET_TXID: '5', SQLITE_RESTORE_TARGET_MATCH: 'nearest' }, /exact or at-or-before/],
    [{ SQLITE_RESTORE_TARGET_TIME: '2026-03-01 12:00' }, /RFC 3339/],
    [{ SQLITE_RESTORE_TARGET_TIME: '2026-03-01T12:00:00' }, /RFC 3339/], // no zone
    [{ SQLITE_RESTORE_TARGET_TIME: '2026-02-30T12:00:00Z' }, /not a valid date/],
    [{ SQLITE_RESTORE_TARGET_TIME: 'yesterday' }, /RFC 3339/],
    [{ SQLITE_RESTORE_TARGET_GENERATION: 'ABCDEF0123456789' }, /16 lowercase hex/],
    [{ SQLITE_RESTORE_TARGET_GENERATION: GEN_A, SQLITE_RESTORE_TARGET_INDEX: 'xyz' }, /WAL index in hex/],
    [{ SQLITE_RESTORE_TARGET_TXID: '0' }, /TXID from 1/],
    [{ SQLITE_RESTORE_TARGET_TXID: '-3' }, /TXID/],
    [{ SQLITE_RESTORE_TARGET_TXID: '12ab' }, /TXID/],
  ];
  for (const [env, pattern] of bad) {
    assert.throws(
      () => loadConfig({ ...base, ...env }),
      (err: unknown) => err instanceof ConfigError && err.exitCode === 78 && pattern.test(err.message),
      JSON.stringify(env),
    );
  }
});

test('TXIDs: decimal, 0x hex, or 16 hex digits as in file names; WAL indexes are hex', () => {
  assert.equal(parseTxid('10', 'X'), 10n);
  assert.equal(parseTxid('0x10', 'X'), 16n);
  assert.equal(parseTxid('0000000000000010', 'X'), 16n);
  assert.equal(parseTxid('00000000000000ff', 'X'), 255n);
  assert.equal(parseTxid('18446744073709551615', 'X'), 0xffffffffffffffffn);
  assert.throws(() => parseTxid('18446744073709551616', 'X'), ConfigError);
  assert.equal(parseWalIndex('10', 'X'), 16);
  assert.equal(parseWalIndex('0000002A', 'X'), 42);
  assert.throws(() => parseWalIndex('123456789', 'X'), ConfigError);
  assert.equal(parseRfc3339('2026-03-01t12:00:00.123456789z', 'X'), Date.UTC(2026, 2, 1, 12, 0, 0, 123));
});

test('restore needs SQLITE_RESTORE_DB_PATH; list and verify do not, and verify picks its scratch directory', () => {
  const url = { SQLITE_RESTORE_REPLICA_URL: 'file:///backups/app' };
  assert.throws(() => loadConfig(url), ConfigError);
  assert.equal(loadConfig(url, 'list').replica.kind, 'file');
  assert.match(loadConfig(url, 'verify').verifyDir, /^\//);
  assert.equal(loadConfig({ ...url, SQLITE_RESTORE_DB_PATH: '/data/app.db' }, 'verify').verifyDir, '/data');
  assert.equal(loadConfig({ ...url, SQLITE_RESTORE_DB_PATH: '/data/app.db', SQLITE_RESTORE_VERIFY_DIR: '/scratch/' }, 'verify').verifyDir, '/scratch');
  assert.throws(() => loadConfig({ ...url, SQLITE_RESTORE_VERIFY_DIR: 'scratch' }, 'verify'), ConfigError);
});

test('a target kind the layout does not have is a configuration error (78)', () => {
  rejects(() => checkTargetSupported(litestreamV3, txid(5)), ConfigError, 78, /litestream-v0\.3 layout cannot restore to a target set by SQLITE_RESTORE_TARGET_TXID; it supports/);
  rejects(() => checkTargetSupported(litestreamV5, gen(GEN_A, 1)), ConfigError, 78, /litestream-v0\.5 layout cannot .* SQLITE_RESTORE_TARGET_GENERATION/);
  rejects(() => checkTargetSupported({ name: 'zlayer' }, time(0)), ConfigError, 78, /it only restores the newest backup/);
  checkTargetSupported(litestreamV3, time(0));
  checkTargetSupported(litestreamV5, time(0));
  checkTargetSupported({ name: 'zlayer' }, 'latest');
});

// ---------------------------------------------------------------------------
// Litestream v0.3: generation + WAL index

/** Generation A: snapshots at index 0 (t=0) and 3 (t=30); WAL indexes 0..5, two segments each, 10 s apart. */
function generationA(): ObjectInfo[] {
  const objects = [snap(GEN_A, 0, 0), snap(GEN_A, 3, 30)];
  for (let index = 0; index <= 5; index += 1) objects.push(wal(GEN_A, index, 0, index * 10 + 1), wal(GEN_A, index, 4096, index * 10 + 5));
  return objects;
}

test('v0.3 index: the newest snapshot at or before it, then its WAL through every segment of the index', () => {
  const objects = generationA();
  const plan = planV3(objects, gen(GEN_A, 2)).plan;
  assert.deepEqual(v3Steps(plan), ['snap:00000000', '0/0', '0/4096', '1/0', '1/4096', '2/0', '2/4096']);
  assert.deepEqual(plan?.target, { kind: 'generation', generation: GEN_A, index: '00000002', match: 'exact', reachedIndex: '00000002' });
  assert.deepEqual(v3Steps(planV3(objects, gen(GEN_A, 4)).plan), ['snap:00000003', '3/0', '3/4096', '4/0', '4/4096']);
  // The snapshot's own index.
  assert.deepEqual(v3Steps(planV3(objects, gen(GEN_A, 3)).plan), ['snap:00000003', '3/0', '3/4096']);
  // No index: that generation's newest state.
  assert.deepEqual(v3Steps(planV3(objects, gen(GEN_A, undefined)).plan).slice(0, 1), ['snap:00000003']);
  assert.equal(planV3(objects, gen(GEN_A, undefined)).plan?.steps.length, 7);
});

test('v0.3 index: an older generation is restorable by name though a newer one exists', () => {
  const objects = [...generationA(), snap(GEN_B, 0, 100), wal(GEN_B, 0, 0, 101)];
  assert.equal(planV3(objects).plan?.source.generation, GEN_B);
  const plan = planV3(objects, gen(GEN_A, 1)).plan;
  assert.equal(plan?.source.generation, GEN_A);
  assert.deepEqual(v3Steps(plan), ['snap:00000000', '0/0', '0/4096', '1/0', '1/4096']);
});

test('v0.3 index: past the end is 66 unless at-or-before; before every snapshot or an unknown generation is 66', () => {
  const objects = generationA().filter((o) => !o.key.includes('/00000000.snapshot'));
  rejects(() => planV3(objects, gen(GEN_A, 9)), TargetUnreachableError, 66, /WAL index 00000009 is not in the backup: generation 0123456789abcdef ends at WAL index 00000005; set SQLITE_RESTORE_TARGET_MATCH=at-or-before/);
  const plan = planV3(objects, gen(GEN_A, 9, 'at-or-before')).plan;
  assert.equal((plan?.steps.at(-1) as WalStep).walIndex, 5);
  assert.equal(plan?.target?.reachedIndex, '00000005');
  for (const match of ['exact', 'at-or-before'] as const) {
    rejects(() => planV3(objects, gen(GEN_A, 2, match)), TargetUnreachableError, 66, /no snapshot at or before WAL index 00000002: its oldest snapshot is at index 00000003/);
    rejects(() => planV3(objects, gen(GEN_B, 2, match)), TargetUnreachableError, 66, /generation fedcba9876543210 is not in the replica; it holds generation\(s\) 0123456789abcdef/);
  }
});

test('v0.3 index: a missing index below or at the target is 65, above it does not matter', () => {
  const objects = generationA().filter((o) => !o.key.includes('/wal/00000002_'));
  rejects(() => planV3(objects, gen(GEN_A, 2, 'at-or-before')), CorruptBackupError, 65, /missing WAL segment .*00000002_00000000\.wal\.lz4 \(WAL index 2 is absent\)/);
  rejects(() => planV3(objects, gen(GEN_A, 1 + 1)), CorruptBackupError, 65, /WAL index 2 is absent/);
  assert.equal(planV3(objects, gen(GEN_A, 1)).plan?.steps.length, 5);
  // Index 4 starts from snapshot 3: the hole at 2 is behind it.
  assert.equal(planV3(objects, gen(GEN_A, 4)).plan?.steps.length, 5);
  const noLate = generationA().filter((o) => !o.key.includes('/wal/00000005_00001000'));
  assert.equal(planV3(noLate, gen(GEN_A, 4)).plan?.steps.length, 5);
});

// ---------------------------------------------------------------------------
// Litestream v0.3: time

test('v0.3 time: the newest snapshot at or before it, then WAL segments up to the first uploaded later', () => {
  const objects = generationA();
  // t=22: index 2's first segment (21) is in, its second (25) is not.
  const plan = planV3(objects, time(22)).plan;
  assert.deepEqual(v3Steps(plan), ['snap:00000000', '0/0', '0/4096', '1/0', '1/4096', '2/0']);
  assert.deepEqual(plan?.target, {
    kind: 'time',
    time: new Date(at(22)).toISOString(),
    match: 'exact',
    generation: GEN_A,
    reachedTime: new Date(at(21)).toISOString(),
    reachedIndex: '00000002',
  });
  // After the second snapshot (t=30) the restore starts from it.
  assert.deepEqual(v3Steps(planV3(objects, time(42)).plan), ['snap:00000003', '3/0', '3/4096', '4/0']);
  // Exactly at the first snapshot.
  assert.deepEqual(v3Steps(planV3(objects, time(0)).plan), ['snap:00000000']);
});

test('v0.3 time: compared to the second, as S3 reports LastModified', () => {
  const objects = [snap(GEN_A, 0, 0), wal(GEN_A, 0, 0, 10.9), wal(GEN_A, 0, 4096, 11.2)];
  assert.deepEqual(v3Steps(planV3(objects, time(10.1)).plan), ['snap:00000000', '0/0']);
  assert.deepEqual(v3Steps(planV3(objects, time(11)).plan), ['snap:00000000', '0/0', '0/4096']);
  assert.deepEqual(v3Steps(planV3(objects, time(9.99)).plan), ['snap:00000000']);
});

test('v0.3 time: after the last object is 66 unless at-or-before; before every snapshot always 66', () => {
  const objects = generationA(); // last object at t=55
  assert.equal(planV3(objects, time(55.5)).plan?.steps.length, 7);
  rejects(() => planV3(objects, time(56)), TargetUnreachableError, 66, /2026-03-01T12:00:56\.000Z is after the last object of generation 0123456789abcdef \(uploaded 2026-03-01T12:00:55\.000Z\).*at-or-before/);
  const plan = planV3(objects, time(3600, 'at-or-before')).plan;
  assert.equal(plan?.steps.length, 7);
  assert.equal(plan?.target?.reachedTime, new Date(at(55)).toISOString());
  for (const match of ['exact', 'at-or-before'] as const) {
    rejects(() => planV3(objects, time(-1, match)), TargetUnreachableError, 66, /no snapshot at or before 2026-03-01T11:59:59\.000Z: the oldest one is .*00000000\.snapshot\.lz4 from 2026-03-01T12:00:00\.000Z/);
  }
});

test('v0.3 time: between two generations only at-or-before restores the older one; inside the newer, the newer', () => {
  const objects = [...generationA(), snap(GEN_B, 0, 100), wal(GEN_B, 0, 0, 110), wal(GEN_B, 1, 0, 120)];
  rejects(() => planV3(objects, time(80)), TargetUnreachableError, 66, /after the last object of generation 0123456789abcdef/);
  assert.equal(planV3(objects, time(80, 'at-or-before')).plan?.source.generation, GEN_A);
  const plan = planV3(objects, time(115)).plan;
  assert.equal(plan?.source.generation, GEN_B);
  assert.deepEqual(v3Steps(plan), ['snap:00000000', '0/0']);
  assert.equal(planV3(objects, time(20)).plan?.source.generation, GEN_A);
});

test('v0.3 time: a hole in the WAL up to the target is 65; two generations with objects of the same instant are ambiguous', () => {
  const holed = generationA().filter((o) => o.key !== wal(GEN_A, 1, 0, 0).key);
  rejects(() => planV3(holed, time(16)), CorruptBackupError, 65, /missing WAL segment generations\/0123456789abcdef\/wal\/00000001_00000000\.wal\.lz4$/);
  assert.equal(planV3(holed, time(8)).plan?.steps.length, 3);
  rejects(() => planV3([snap(GEN_A, 0, 0), snap(GEN_B, 0, 0)], time(5)), CorruptBackupError, 65, /ambiguous backup/);
});

test('v0.3 list: generations oldest first, snapshots and WAL indexes with counts, bytes and times', () => {
  const listing = listV3([...generationA(), snap(GEN_B, 0, 100), obj('generations/junk', 0)]);
  const gens = listing.details.generations as Array<Record<string, unknown>>;
  assert.deepEqual(gens.map((g) => [g.generation, g.newest]), [[GEN_A, false], [GEN_B, true]]);
  assert.deepEqual(gens[0]?.restorable, { from: new Date(at(0)).toISOString(), to: new Date(at(55)).toISOString() });
  assert.deepEqual((gens[0]?.wal as unknown[])[2], {
    index: '00000002',
    segments: 2,
    bytes: 200,
    firstTime: new Date(at(21)).toISOString(),
    lastTime: new Date(at(25)).toISOString(),
  });
  assert.equal(listing.tables.length, 2);
  assert.match(listing.tables[1]?.title ?? '', /^generation fedcba9876543210 \(newest\)/);
  assert.deepEqual(listing.notes, ['1 object(s) under generations/ do not follow the Litestream v0.3 naming and were ignored']);
});

// ---------------------------------------------------------------------------
// Litestream v0.5: TXID

const ltx = (level: number, min: number, max: number, size = 100) =>
  obj(`${level.toString(16).padStart(4, '0')}/${hex16(min)}-${hex16(max)}.ltx`, max, size);

function ltxSteps(plan: RestorePlan | null): string[] {
  assert.ok(plan, 'expected a plan');
  return plan.steps.map((s) => `L${(s as LtxStep).level}:${(s as LtxStep).minTxid}-${(s as LtxStep).maxTxid}`);
}

/** Snapshots at 10 and 30; L1 compactions 11-20 and 21-30; L0 files only from 25 on (older ones deleted). */
function ltxBackup(): ObjectInfo[] {
  const objects = [ltx(9, 1, 10), ltx(9, 1, 30), ltx(1, 11, 20), ltx(1, 21, 30), ltx(1, 31, 40)];
  for (let t = 25; t <= 45; t += 1) objects.push(ltx(0, t, t));
  return objects;
}

test('v0.5 TXID: files up to the one ending at it, from the newest snapshot at or before it', () => {
  const objects = ltxBackup();
  assert.deepEqual(ltxSteps(planLtx(objects, txid(20)).plan), ['L9:1-10', 'L1:11-20']);
  assert.deepEqual(ltxSteps(planLtx(objects, txid(30)).plan), ['L9:1-30']);
  assert.deepEqual(ltxSteps(planLtx(objects, txid(33)).plan), ['L9:1-30', 'L0:31-31', 'L0:32-32', 'L0:33-33']);
  assert.deepEqual(ltxSteps(planLtx(objects, txid(40)).plan), ['L9:1-30', 'L1:31-40']);
  const plan = planLtx(objects, txid(42)).plan;
  assert.deepEqual(ltxSteps(plan), ['L9:1-30', 'L1:31-40', 'L0:41-41', 'L0:42-42']);
  assert.equal(plan?.source.txid, hex16(42));
  assert.deepEqual(plan?.target, { kind: 'txid', txid: hex16(42), match: 'exact', reachedTxid: hex16(42) });
  // Latest is unchanged.
  assert.deepEqual(ltxSteps(planLtx(objects).plan), ['L9:1-30', 'L1:31-40', 'L0:41-41', 'L0:42-42', 'L0:43-43', 'L0:44-44', 'L0:45-45']);
});

test('v0.5 TXID: one compacted away is 66 unless at-or-before, which takes the newest end below it', () => {
  const objects = ltxBackup();
  // 21..24 exist only inside L1 21-30 (and the snapshot 1-30): 25..29 cannot be rebuilt.
  rejects(
    () => planLtx(objects, txid(27)),
    TargetUnreachableError,
    66,
    /^no LTX file ends at TXID 000000000000001b: it is inside 0001\/0000000000000015-000000000000001e\.ltx \(compacted\), so the nearest restorable TXIDs are 0000000000000014 and 000000000000001e; set SQLITE_RESTORE_TARGET_MATCH=at-or-before to restore TXID 0000000000000014$/,
  );
  const plan = planLtx(objects, txid(27, 'at-or-before')).plan;
  assert.deepEqual(ltxSteps(plan), ['L9:1-10', 'L1:11-20']);
  assert.equal(plan?.target?.reachedTxid, hex16(20));
});

test('v0.5 TXID: past the newest file is 66 unless at-or-before; before the oldest snapshot always 66', () => {
  const objects = ltxBackup();
  rejects(() => planLtx(objects, txid(50)), TargetUnreachableError, 66, /TXID 0000000000000032 is not in the backup: its newest LTX file ends at TXID 000000000000002d/);
  assert.equal(planLtx(objects, txid(50, 'at-or-before')).plan?.source.txid, hex16(45));
  for (const match of ['exact', 'at-or-before'] as const) {
    rejects(() => planLtx(objects, txid(5, match)), TargetUnreachableError, 66, /nothing at or before TXID 0000000000000005 can be restored: the oldest snapshot ends at TXID 000000000000000a/);
  }
  // Without a snapshot at or before, a file starting at TXID 1 is the base.
  assert.deepEqual(ltxSteps(planLtx([ltx(0, 1, 1), ltx(0, 2, 2), ltx(0, 3, 3), ltx(9, 1, 3)], txid(2)).plan), ['L0:1-1', 'L0:2-2']);
});

test('v0.5 TXID: a hole below the target is 65 even with at-or-before; one above it does not matter', () => {
  const holed = ltxBackup().filter((o) => !o.key.startsWith('0001/000000000000001f') && !o.key.startsWith('0000/0000000000000021'));
  for (const match of ['exact', 'at-or-before'] as const) {
    rejects(() => planLtx(holed, txid(35, match)), CorruptBackupError, 65, /^missing TXIDs 0000000000000021\.\.0000000000000021: /);
  }
  assert.equal(planLtx(holed, txid(32)).plan?.source.txid, hex16(32));
  // The whole backup (latest) has the hole.
  rejects(() => planLtx(holed), CorruptBackupError, 65, /missing TXIDs/);
});

// ---------------------------------------------------------------------------
// Litestream v0.5: time

/** Header times: a file ending at TXID n was captured at T0 + n s; snapshots were taken half a second later. */
function headerTimes(): { timestampOf: (f: LtxFile) => Promise<number>; reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    timestampOf: async (f) => {
      reads.push(f.object.key);
      return at(Number(f.maxTxid) + (f.level === 9 ? 0.5 : 0));
    },
  };
}

test('v0.5 time: the newest reachable file end stamped at or before it, exact when the next TXID has a later file of its own', async () => {
  const objects = ltxBackup();
  const { timestampOf, reads } = headerTimes();
  const r = await planLtxAtTime(objects, time(33.5) as never, timestampOf);
  assert.deepEqual(ltxSteps(r.plan), ['L9:1-30', 'L0:31-31', 'L0:32-32', 'L0:33-33']);
  assert.deepEqual(r.plan?.target, {
    kind: 'time',
    time: new Date(at(33.5)).toISOString(),
    match: 'exact',
    reachedTxid: hex16(33),
    reachedTime: new Date(at(33)).toISOString(),
  });
  // A binary search: a few headers, not all 26 files.
  assert.ok(reads.length <= 7, `read ${reads.length} headers: ${reads.join(' ')}`);
  // Exactly at a file's time.
  assert.equal((await resolveLtxTime(objects, time(40) as never, headerTimes().timestampOf))?.txid, 40n);
  // The oldest snapshot's own time.
  assert.equal((await resolveLtxTime(objects, time(10.5) as never, headerTimes().timestampOf))?.txid, 10n);
});

test('v0.5 time: when compaction hides the next TXIDs the state is unknown: 66 unless at-or-before', async () => {
  const objects = ltxBackup();
  // At 27.5 s the database was at TXID 27, which cannot be rebuilt (21..24 only inside L1 21-30).
  await rejectsAsync(
    resolveLtxTime(objects, time(27.5) as never, headerTimes().timestampOf),
    TargetUnreachableError,
    66,
    /^the state at 2026-03-01T12:00:27\.500Z is unknown: TXIDs 0000000000000015\.\.000000000000001e were compacted into .*; set SQLITE_RESTORE_TARGET_MATCH=at-or-before to restore TXID 0000000000000014 from 2026-03-01T12:00:20\.000Z$/,
  );
  assert.equal((await resolveLtxTime(objects, time(27.5, 'at-or-before') as never, headerTimes().timestampOf))?.txid, 20n);
});

test('v0.5 time: after the newest file 66 unless at-or-before; before the oldest restorable state always 66', async () => {
  const objects = ltxBackup();
  await rejectsAsync(
    resolveLtxTime(objects, time(46) as never, headerTimes().timestampOf),
    TargetUnreachableError,
    66,
    /is after the newest backed-up transaction \(TXID 000000000000002d from 2026-03-01T12:00:45\.000Z\)/,
  );
  assert.equal((await resolveLtxTime(objects, time(4000, 'at-or-before') as never, headerTimes().timestampOf))?.txid, 45n);
  for (const match of ['exact', 'at-or-before'] as const) {
    await rejectsAsync(
      resolveLtxTime(objects, time(10, match) as never, headerTimes().timestampOf),
      TargetUnreachableError,
      66,
      /nothing at or before 2026-03-01T12:00:10\.000Z can be restored: the oldest restorable state is TXID 000000000000000a from 2026-03-01T12:00:10\.500Z/,
    );
  }
});

test('v0.5 list: levels highest first, restorable range, header times where read', () => {
  const objects = ltxBackup();
  const times = new Map<string, number | string>([[ltx(9, 1, 10).key, at(10.5)], [ltx(0, 25, 25).key, 'bad header']]);
  const listing = listLtx(objects, times);
  const levels = listing.details.levels as Array<{ level: number; files: Array<Record<string, unknown>> }>;
  assert.deepEqual(levels.map((l) => [l.level, l.files.length]), [[9, 2], [1, 3], [0, 21]]);
  assert.deepEqual(levels[0]?.files[0], {
    key: ltx(9, 1, 10).key,
    minTxid: hex16(1),
    maxTxid: hex16(10),
    bytes: 100,
    timestamp: new Date(at(10.5)).toISOString(),
    uploaded: new Date(at(10)).toISOString(),
  });
  assert.deepEqual(listing.details.restorable, { fromTxid: hex16(10), toTxid: hex16(45) });
  assert.deepEqual(listing.notes, ['1 LTX header(s) could not be read, e.g. bad header']);
  const holed = listLtx(objects.filter((o) => !o.key.startsWith('0000/000000000000002b')));
  assert.match(holed.notes.join('\n'), /a restore fails: missing TXIDs 000000000000002b/);
});

test('tables: columns padded to the widest cell, counts right-aligned, zero-padded hex left', () => {
  assert.deepEqual(
    renderTable({ title: 'T', columns: ['INDEX', 'BYTES', 'NAME'], rows: [['00000001', '5', 'a'], ['0000000a', '12345', 'bb']] }),
    ['T', 'INDEX     BYTES  NAME', '00000001      5  a', '0000000a  12345  bb'],
  );
});
