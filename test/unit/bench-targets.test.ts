// The benchmark's pure parts: its parameters, the evaluation of issue 12's
// targets from measurements, and the Markdown it writes for README.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseParams, shapeSizes } from '../../bench/params.js';
import { markdownReport, table } from '../../bench/report.js';
import { evaluateTargets, type CaseResult, type Sample, type ToolId } from '../../bench/targets.js';

test('bench parameters: full defaults, quick mode, overrides and bad values', () => {
  const full = parseParams({});
  assert.deepEqual(full.profiles, ['loopback', 's3like']);
  assert.deepEqual(full.shapes, ['small-segments', 'large-tx', 'small-db']);
  assert.deepEqual(shapeSizes(full, 'small-segments'), [256, 1024]);
  assert.deepEqual(full.largeTx, { dbMiB: 128, commits: 4, commitMB: 60 });
  assert.deepEqual(full.smallDb, { dbMiB: 10, segments: 50, runs: 5 });
  assert.deepEqual(full.link, { latencyMs: 25, jitterMs: 5, rateKBps: 81_920 });
  assert.equal(full.concurrency, undefined, "the CLI's own default unless BENCH_CONCURRENCY is set");
  assert.equal(full.runs, 3);
  assert.equal(full.litestreamV5, '0.5.18');

  const quick = parseParams({ BENCH_QUICK: '1', BENCH_SHAPES: 'small-db, small-segments', BENCH_PROFILES: 's3like', BENCH_CONCURRENCY: '32' });
  assert.equal(quick.runs, 1);
  assert.deepEqual(quick.shapes, ['small-segments', 'small-db'], 'canonical order');
  assert.deepEqual(quick.profiles, ['s3like']);
  assert.deepEqual(shapeSizes(quick, 'small-segments'), [16, 64]);
  assert.equal(quick.concurrency, 32);
  assert.equal(parseParams({ BENCH_QUICK: '1', BENCH_RUNS: '3' }).runs, 3, 'variables override quick mode');
  assert.deepEqual(shapeSizes(parseParams({ BENCH_BASE_DB_MIB: '0' }), 'small-segments'), [1024]);

  assert.throws(() => parseParams({ BENCH_SHAPES: 'huge' }), /BENCH_SHAPES: unknown "huge"/);
  assert.throws(() => parseParams({ BENCH_RUNS: '0' }), /BENCH_RUNS must be an integer >= 1/);
  assert.throws(() => parseParams({ BENCH_LITESTREAM_V5: '0.3.13' }), /BENCH_LITESTREAM_V5/);
});

const s = (ms: number, extra: Partial<Sample> = {}): Sample => ({ ms, load: 1.5, ...extra });

function caseOf(partial: Partial<CaseResult> & Pick<CaseResult, 'shape' | 'mib' | 'profile'>, samples: Partial<Record<ToolId, Sample[]>>, floorMs = 1_000): CaseResult {
  return { sourceBytes: partial.mib * 1048576, floor: [s(floorMs)], samples, ...partial };
}

test('bench targets: every issue 12 target from one set of cases, best of the runs, PASS and MISS', () => {
  const cases: CaseResult[] = [
    caseOf({ shape: 'small-segments', mib: 256, profile: 's3like' }, { 'ours-v3': [s(3_000, { rssMiB: 120 })], 'ours-v5': [s(3_000, { rssMiB: 100 })] }),
    caseOf(
      { shape: 'small-segments', mib: 1024, profile: 's3like' },
      {
        'ours-v3': [s(6_000, { rssMiB: 130, cpuMs: 9_000 }), s(5_000, { rssMiB: 140, cpuMs: 10_000 })],
        'raw-v3': [s(4_000), s(4_500)],
        'litestream-0.3': [s(16_000, { cpuMs: 8_000 })],
        'ours-v5': [s(7_000, { rssMiB: 170 })],
        'litestream-0.5': [s(13_000)],
      },
      2_000,
    ),
    caseOf({ shape: 'large-tx', mib: 128, profile: 'loopback' }, { 'ours-v3': [s(1_300)], 'litestream-0.3': [s(450)] }),
    caseOf({ shape: 'small-db', mib: 10, profile: 's3like' }, { 'ours-v3': [s(900)], 'litestream-0.3': [s(1_000)] }),
  ];
  const rows = evaluateTargets(cases, { segments: 10_000, medianMs: 1_200 });
  const find = (scope: string, figure: string) => {
    const r = rows.find((x) => x.scope === scope && x.figure.startsWith(figure));
    assert.ok(r, `row ${scope} / ${figure} in ${JSON.stringify(rows.map((x) => [x.scope, x.figure]))}`);
    return r;
  };
  const v3 = find('s3like, 1 GiB small-segments', 'speed-up over litestream 0.3.13');
  assert.equal(v3.pass, true, '16 s / 5 s (the best run) = 3.2x');
  assert.match(v3.value, /^3\.20x/);
  const v5 = find('s3like, 1 GiB small-segments', 'speed-up over litestream 0.5');
  assert.equal(v5.pass, false, '13 / 7 = 1.86x < 2x');
  const link = find('s3like, 1 GiB small-segments', 'ours / max(raw download, disk floor)');
  assert.match(link.figure, /raw download is larger/);
  assert.match(link.value, /^1\.25x/, '5 s / max(4 s, 2 s)');
  assert.equal(link.pass, true);
  assert.equal(find('loopback, 128 MiB large-tx', 'our time / litestream 0.3.13').pass, false);
  assert.equal(find('s3like, 10 MiB small-db', 'total time / litestream 0.3.13').pass, true);
  const notMeasured = find('s3like, 10 MiB small-db', 'total time / litestream 0.5');
  assert.equal(notMeasured.pass, undefined);
  assert.equal(notMeasured.value, 'not measured');
  const cpu = find('s3like, 1 GiB small-segments', 'CPU s per GiB');
  assert.equal(cpu.pass, false, 'best CPU 9 s against 8 s');
  assert.match(cpu.value, /9\.00 vs 8\.00 s\/GiB/);
  assert.equal(find('1 GiB small-segments, every link', 'our peak RSS, max over runs (v0.3').pass, true, '140 MiB');
  assert.equal(find('1 GiB small-segments, every link', 'our peak RSS, max over runs (v0.5').pass, false, '170 MiB');
  const growth = find('256 MiB -> 1 GiB small-segments', 'peak RSS growth (v0.3');
  assert.match(growth.value, /^1\.17x/);
  assert.equal(growth.pass, true);
  assert.equal(find('256 MiB -> 1 GiB small-segments', 'peak RSS growth (v0.5').pass, false, '170 / 100');
  assert.equal(find('planning', 'planning 10000 segments').pass, true);
  assert.ok(!rows.some((r) => r.scope.includes('small-db') && r.figure.startsWith('CPU')), 'no CPU per GiB for the small database');
});

test('bench targets: a ratio that rounds onto its goal shows a third decimal', () => {
  const rows = evaluateTargets([caseOf({ shape: 'small-db', mib: 10, profile: 's3like' }, { 'ours-v3': [s(1_155)], 'litestream-0.3': [s(1_150)] })]);
  const r = rows.find((x) => x.figure === 'total time / litestream 0.3.13');
  assert.match(r?.value ?? '', /^1\.004x/, 'not 1.00x');
  assert.equal(r?.pass, false);
});

test('bench targets: the disk floor bounds our time when it is slower than the download', () => {
  const rows = evaluateTargets([
    caseOf({ shape: 'small-segments', mib: 1024, profile: 's3like' }, { 'ours-v3': [s(5_000)], 'raw-v3': [s(3_000)] }, 4_500),
  ]);
  const link = rows.find((r) => r.figure.startsWith('ours / max'));
  assert.match(link?.figure ?? '', /disk floor is larger/);
  assert.match(link?.value ?? '', /^1\.11x/);
});

test('bench report: aligned Markdown tables with the machine and its load', () => {
  assert.equal(table(['a', 'bb'], [['xxx', 'y']]), '| a   | bb |\n|-----|----|\n| xxx | y  |');
  const md = markdownReport({
    machine: { cpu: 'Test CPU', cores: 2, memGiB: 23.5, kernel: 'Linux 6', node: 'v20' },
    loadStart: '1.00 1.00 1.00',
    loadEnd: '2.00 2.00 2.00',
    date: '2026-01-01',
    runs: 2,
    smallDbRuns: 5,
    concurrency: '8',
    linkDescription: 'latency 25 ms',
    cases: [caseOf({ shape: 'small-db', mib: 10, profile: 'loopback' }, { 'ours-v3': [s(900)], 'litestream-0.3': [s(1_000)] })],
    targets: evaluateTargets([caseOf({ shape: 'small-db', mib: 10, profile: 'loopback' }, { 'ours-v3': [s(900)], 'litestream-0.3': [s(1_000)] })]),
    v5Version: '0.5.18',
  });
  assert.match(md, /Test CPU, 2 cores, 23\.5 GiB RAM/);
  assert.match(md, /1\.00 1\.00 1\.00 at the start, 2\.00 2\.00 2\.00 at the end/);
  assert.match(md, /\| loopback \| small-db +\| 10 MiB +\| 0\.90 s +\| 1\.00 s/);
  assert.match(md, /\| - \/ - MiB +\|/, 'no RSS measured in this case');
  assert.match(md, /1 PASS, 0 MISS/);
});
