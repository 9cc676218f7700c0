// npm run bench: restore speed, CPU and memory of sqlite-s3-restore against
// the real Litestream v0.3.13 and v0.5.x, over a loopback and an S3-like link,
// for three backup shapes; every target of issue 12 printed as PASS or MISS.
// Parameters: bench/params.ts (environment variables, documented in
// bench/README.md). Nothing here fails the process on a MISS: the exit code is
// non-zero only when something broke (a restore failed, or restored the wrong
// data).
import { rmSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../src/config.js';
import { litestreamV3 } from '../src/layout/litestream-v3/index.js';
import { litestreamV5 } from '../src/layout/ltx/index.js';
import type { LtxStep, RestorePlan } from '../src/layout/layout.js';
import { fileSha256, logicalDigest, type DbDigest } from '../test/support/digest.js';
import { repoRoot, tmpRoot } from '../test/support/paths.js';
import { startToxiproxy, type Toxiproxy } from '../test/support/toxiproxy.js';
import { ensureBackup, sameDigest, type CachedBackup } from './build-backup.js';
import { describeLink, openLink } from './link.js';
import { startMinioAt, type DirMinio } from './minio-dir.js';
import { backupParams, parseParams, shapeSizes, type Profile, type Shape } from './params.js';
import { ensurePlanFixture, productStore, timePlanning, type PlanTiming } from './plan-bench.js';
import { formatSummary, summariseFiles } from './profile-summary.js';
import { rawDownload, type RawObject } from './raw-download.js';
import { caseTable, describeMachine, loadAverage, machine, markdownReport, summaryTable, targetsTable } from './report.js';
import { diskFloor, LITESTREAM_V3, load1, runLitestream, runNodeStart, runOurs, type Replica } from './runners.js';
import { evaluateTargets, secs, sizeLabel, type CaseResult, type Sample, type ToolId } from './targets.js';

const params = parseParams(process.env);

// The bench process's own S3 clients: no Node-version notice on stderr (the CLI is left as it is).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const runDir = path.join(tmpRoot, `bench-run-${process.pid}`);
// removed at exit, also after SIGINT/SIGTERM (process.exit skips finally blocks)
process.once('exit', () => rmSync(runDir, { recursive: true, force: true }));
const started = performance.now();

// --- output ------------------------------------------------------------------
const clock = (): string => `${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s`;
const say = (msg: string): void => {
  process.stdout.write(`[bench ${clock()}] ${msg}\n`);
};
const mibOf = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;
const loadNow = (): string => `load ${loadAverage()}`;

/** The concurrency the CLI uses when SQLITE_RESTORE_CONCURRENCY is not set: read from its own configuration code. */
function cliDefaultConcurrency(): number {
  return loadConfig({ SQLITE_RESTORE_REPLICA_URL: 's3://bucket/prefix', SQLITE_RESTORE_DB_PATH: '/tmp/bench-default.db' }).concurrency;
}
const concurrency = params.concurrency ?? cliDefaultConcurrency();
const concurrencyLabel = `${concurrency} (${params.concurrency === undefined ? "the CLI's default" : 'BENCH_CONCURRENCY'})`;

// --- backups -----------------------------------------------------------------
interface Job {
  shape: Shape;
  mib: number;
  backup: CachedBackup;
}

// --- measurements ------------------------------------------------------------
/** The first restore of each (backup, tool) is compared row by row with its source; our later ones byte by byte with that one. */
class Checker {
  private readonly firstSha = new Map<string, string>();
  failures = 0;

  async ours(label: string, key: string, dbPath: string, markerSha: string | undefined, expected: DbDigest): Promise<void> {
    const sha = await fileSha256(dbPath);
    if (sha !== markerSha) throw new Error(`${label}: marker sha256 ${markerSha} differs from the file's ${sha}`);
    const first = this.firstSha.get(key);
    if (first === undefined) {
      const t = performance.now();
      const got = logicalDigest(dbPath);
      if (!sameDigest(got, expected)) throw new Error(`${label}: our restored database differs from the source: ${JSON.stringify(got)} vs ${JSON.stringify(expected)}`);
      say(`${label}: our restored database equals the source (logical digest ${JSON.stringify(got.tables)}; checked in ${secs(performance.now() - t)})`);
      this.firstSha.set(key, sha);
    } else if (sha !== first) {
      throw new Error(`${label}: restored a different file than the first restore of this backup`);
    }
  }

  /** Litestream's result is checked once per backup; a difference is reported, not fatal (it is not our restore). */
  litestream(label: string, key: string, dbPath: string, expected: DbDigest): void {
    if (!params.verifyLitestream || this.firstSha.has(key)) return;
    this.firstSha.set(key, 'checked');
    const same = sameDigest(logicalDigest(dbPath), expected);
    if (!same) this.failures++;
    say(`${label}: litestream's restored database ${same ? 'equals' : 'DIFFERS FROM'} the source (logical digest)`);
  }
}
const checker = new Checker();

function planObjects(plan: RestorePlan | null, prefix: string, what: string): RawObject[] {
  if (!plan) throw new Error(`${what}: no backup found in the cached MinIO data; delete its cache directory to rebuild it`);
  return plan.steps.map((s) => ({ key: `${prefix}/${s.object.key}`, size: s.object.size }));
}

function describeLtxPlan(plan: RestorePlan): string {
  const levels = new Map<number, { n: number; bytes: number }>();
  for (const s of plan.steps as LtxStep[]) {
    const l = levels.get(s.level) ?? { n: 0, bytes: 0 };
    l.n++;
    l.bytes += s.object.size;
    levels.set(s.level, l);
  }
  return [...levels].sort((a, b) => b[0] - a[0]).map(([level, v]) => `L${level}: ${v.n} (${mibOf(v.bytes)})`).join(', ');
}

const sumBytes = (objects: readonly RawObject[]): number => objects.reduce((n, o) => n + o.size, 0);

async function measureBackup(job: Job, toxiproxy: Toxiproxy | undefined): Promise<CaseResult[]> {
  const { v3, v5 } = job.backup;
  const label = `[${job.shape} ${sizeLabel(job.mib)}]`;
  const minio: DirMinio = await startMinioAt(job.backup.dataDir, v3.credentials);
  const results: CaseResult[] = [];
  try {
    // The objects our restore reads, as the product itself plans them (on the direct link: planning is not timed here).
    const signal = AbortSignal.timeout(300_000);
    const plan3 = await litestreamV3.plan(productStore(minio, v3.bucket, v3.prefix, concurrency), signal);
    const plan5 = await litestreamV5.plan(productStore(minio, v5.bucket, v5.prefix, concurrency), signal);
    const objects3 = planObjects(plan3, v3.prefix, `${label} v0.3 backup`);
    const objects5 = planObjects(plan5, v5.prefix, `${label} v0.5 backup`);
    if (objects3.length !== 1 + v3.replica.walSegments) {
      throw new Error(`${label} plan has ${objects3.length} objects, the cache recorded 1 + ${v3.replica.walSegments}; delete ${job.backup.dir} to rebuild it`);
    }
    say(
      `${label} source ${mibOf(v3.sourceBytes)}; v0.3.13 backup: snapshot ${mibOf(v3.replica.snapshotBytes)} + ${v3.replica.walSegments} WAL segments ` +
        `in ${v3.replica.walIndexes} indexes (${mibOf(v3.replica.walBytes)}), ${v3.workload.transactions} transactions; ` +
        `our plan ${objects3.length} objects, ${mibOf(sumBytes(objects3))}`,
    );
    say(`${label} v${v5.version} backup: our plan ${objects5.length} LTX files, ${mibOf(sumBytes(objects5))} (${describeLtxPlan(plan5!)}); stored: ${JSON.stringify(v5.levels)}`);

    const warm = performance.now();
    await rawDownload(minio, v3.bucket, objects3, concurrency);
    await rawDownload(minio, v5.bucket, objects5, concurrency);
    say(`${label} warm-up raw downloads of both backups (not counted): ${secs(performance.now() - warm)}; ${loadNow()}`);

    for (const profile of params.profiles) {
      results.push(await measureCase(job, profile, minio, toxiproxy, objects3, objects5));
    }
    if (params.profile) await profileOurs(job, minio, toxiproxy);
  } finally {
    await minio.stop();
  }
  return results;
}

async function measureCase(
  job: Job,
  profile: Profile,
  minio: DirMinio,
  toxiproxy: Toxiproxy | undefined,
  objects3: RawObject[],
  objects5: RawObject[],
): Promise<CaseResult> {
  const { v3, v5 } = job.backup;
  const label = `[${profile} ${job.shape} ${sizeLabel(job.mib)}]`;
  const dir = path.join(runDir, `${job.shape}-${job.mib}m-${profile}`);
  const samples: Partial<Record<ToolId, Sample[]>> = {};
  const add = (tool: ToolId, s: Sample): void => {
    (samples[tool] ??= []).push(s);
  };
  const floor: Sample[] = [];
  const link = await openLink(profile, minio, toxiproxy, params.link, `minio-${job.shape}-${job.mib}-${profile}`);
  const rep3: Replica = { s3: link.s3, bucket: v3.bucket, prefix: v3.prefix };
  const rep5: Replica = { s3: link.s3, bucket: v5.bucket, prefix: v5.prefix };
  const runs = job.shape === 'small-db' ? params.smallDb.runs : params.runs;
  try {
    for (let r = 1; r <= runs; r++) {
      const run = `${label} run ${r}/${runs}`;
      const f = await diskFloor(v3.sourceBytes, dir);
      floor.push(f);
      say(`${run}: disk floor ${secs(f.ms)} (writing ${mibOf(v3.sourceBytes)} and fsyncing it); ${loadNow()}`);
      if (job.shape === 'small-db') {
        const n = await runNodeStart();
        add('node-start', n);
        say(`${run}: node start alone (node <flags> -e 0) ${secs(n.ms)}`);
      }

      for (const [backup, objects, rep, raw, ours, ls, version, expected, source] of [
        ['v0.3', objects3, rep3, 'raw-v3', 'ours-v3', 'litestream-0.3', LITESTREAM_V3, v3.digest, v3.sourceDbPath],
        ['v0.5', objects5, rep5, 'raw-v5', 'ours-v5', 'litestream-0.5', v5.version, v5.digest, v5.sourceDbPath],
      ] as const) {
        const load = load1();
        const d = await rawDownload(link.s3, rep.bucket, objects, concurrency);
        add(raw, { ms: d.ms, cpuMs: d.cpuMs, load, note: `${d.requests} GETs, ${mibOf(d.bytes)}` });
        say(
          `${run}: raw download (${backup} backup) ${secs(d.ms)} wall, ${secs(d.cpuMs)} CPU (${d.requests} GETs, ${mibOf(d.bytes)}, ` +
            `${(d.bytes / 1048576 / (d.ms / 1000)).toFixed(0)} MiB/s)`,
        );

        const o = await runOurs(rep, path.join(dir, `ours-${backup}-${r}`), params.concurrency);
        const m = o.marker.durationsMs;
        const outside = o.ms - (m.total ?? 0);
        add(ours, {
          ms: o.ms,
          cpuMs: o.cpuMs,
          rssMiB: o.rssMiB,
          load: o.load,
          note: `plan ${m.plan}, download+apply ${m.download}, verify ${m.verify}, publish ${m.publish}, start/exit ${outside.toFixed(0)} ms`,
        });
        say(
          `${run}: our restore (${backup} backup) ${secs(o.ms)} wall, ${secs(o.cpuMs)} CPU (${((o.cpuMs / o.ms) * 100).toFixed(0)}% of wall), ` +
            `peak RSS ${o.rssMiB.toFixed(1)} MiB; marker: plan ${m.plan} ms, download+apply ${m.download} ms, verify ${m.verify} ms, ` +
            `publish ${m.publish} ms, total ${m.total} ms (process start and exit: ${outside.toFixed(0)} ms); load ${o.load.toFixed(2)}`,
        );
        await checker.ours(`${label} ${backup}`, `${job.backup.key}/ours-${backup}`, o.dbPath, o.marker.sha256, expected);
        await rm(path.dirname(o.dbPath), { recursive: true, force: true });

        const l = await runLitestream(version, rep, source, path.join(dir, `litestream-${backup}-${r}`));
        add(ls, { ms: l.ms, cpuMs: l.cpuMs, rssMiB: l.rssMiB, load: l.load });
        say(
          `${run}: litestream ${version} restore ${secs(l.ms)} wall, ~${l.cpuMs === undefined ? '?' : secs(l.cpuMs)} CPU, ` +
            `peak RSS ~${l.rssMiB?.toFixed(1) ?? '?'} MiB (polled); load ${l.load.toFixed(2)}`,
        );
        checker.litestream(`${label} ${backup}`, `${job.backup.key}/litestream-${backup}`, l.dbPath, expected);
        await rm(path.dirname(l.dbPath), { recursive: true, force: true });
      }
    }
  } finally {
    await link.close();
    await rm(dir, { recursive: true, force: true });
  }
  return { shape: job.shape, mib: job.mib, profile, sourceBytes: v3.sourceBytes, samples, floor };
}

/** BENCH_PROFILE=1: one more restore of the v0.3 backup per link under `node --cpu-prof`, summarised. */
async function profileOurs(job: Job, minio: DirMinio, toxiproxy: Toxiproxy | undefined): Promise<void> {
  const { v3 } = job.backup;
  for (const profile of params.profiles) {
    const profDir = path.join(tmpRoot, 'bench-profile', `${job.shape}-${job.mib}m-${profile}`);
    await rm(profDir, { recursive: true, force: true });
    await mkdir(profDir, { recursive: true });
    const link = await openLink(profile, minio, toxiproxy, params.link, `minio-prof-${job.shape}-${job.mib}-${profile}`);
    try {
      const o = await runOurs({ s3: link.s3, bucket: v3.bucket, prefix: v3.prefix }, path.join(runDir, 'profile'), params.concurrency, [
        '--cpu-prof',
        `--cpu-prof-dir=${profDir}`,
      ]);
      const d = o.marker.durationsMs;
      say(
        `profile run (${profile} ${job.shape} ${sizeLabel(job.mib)}, under --cpu-prof): ${secs(o.ms)} wall, ${secs(o.cpuMs)} CPU ` +
          `(plan ${d.plan} ms, download+apply ${d.download} ms, verify ${d.verify} ms, publish ${d.publish} ms)`,
      );
      await rm(path.dirname(o.dbPath), { recursive: true, force: true });
    } finally {
      await link.close();
    }
    for (const s of await summariseFiles(profDir, 20)) process.stdout.write(formatSummary(s) + '\n');
    say(`profiles kept in ${path.relative(repoRoot, profDir)} (node dist/bench/profile-summary.js ${path.relative(repoRoot, profDir)})`);
  }
}

// --- main --------------------------------------------------------------------
async function main(): Promise<void> {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    // Exiting runs test/support/process.ts's exit hook, which kills MinIO/Litestream/Toxiproxy by PID.
    process.once(sig, () => process.exit(sig === 'SIGINT' ? 130 : 143));
  }
  const host = machine();
  const loadStart = loadAverage();
  say(`sqlite-s3-restore benchmark${params.quick ? ' (BENCH_QUICK=1)' : ''}: ${describeMachine(host)}; load average ${loadStart}`);
  say(
    `profiles ${params.profiles.join(', ')}; shapes ${params.shapes.join(', ')}; ${params.runs} run(s) (small-db ${params.smallDb.runs}); ` +
      `our restore: node flags of the image, concurrency ${concurrencyLabel}; litestream 0.3.13 and ${params.litestreamV5}`,
  );
  if (params.profiles.includes('s3like')) say(`S3-like link: ${describeLink('s3like', params.link)}`);

  // 1. Backups (cached).
  const tBuild = performance.now();
  const jobs: Job[] = [];
  const buildLines: string[] = [];
  for (const shape of params.shapes) {
    for (const mib of shapeSizes(params, shape)) {
      const t = performance.now();
      const backup = await ensureBackup(backupParams(params, shape, mib), params.litestreamV5, (m) => say(`[build ${shape} ${sizeLabel(mib)}] ${m}`));
      const what =
        backup.built.v3 === undefined && backup.built.v5 === undefined
          ? 'cached'
          : `built in ${secs(performance.now() - t)} (` +
            [
              backup.built.v3 === undefined ? undefined : `v0.3.13 ${secs(backup.built.v3)} ${JSON.stringify(backup.v3.buildMs)}`,
              backup.built.v5 === undefined ? undefined : `v${params.litestreamV5} ${secs(backup.built.v5)} ${JSON.stringify(backup.v5.buildMs)}`,
            ]
              .filter(Boolean)
              .join('; ') +
            ')';
      buildLines.push(`${shape} ${sizeLabel(mib)}: ${what}`);
      say(`[build ${shape} ${sizeLabel(mib)}] backups ${what}: ${backup.key}`);
      jobs.push({ shape, mib, backup });
    }
  }
  const fixture = params.planSegments > 0 ? await ensurePlanFixture(params.planSegments, (m) => say(`[plan] ${m}`)) : undefined;
  const buildMs = performance.now() - tBuild;

  // 2. Restores.
  const tMeasure = performance.now();
  const cases: CaseResult[] = [];
  const phaseLines: string[] = [];
  const toxiproxy = params.profiles.includes('s3like') ? await startToxiproxy() : undefined;
  try {
    for (const job of jobs) {
      const t = performance.now();
      cases.push(...(await measureBackup(job, toxiproxy)));
      phaseLines.push(`${job.shape} ${sizeLabel(job.mib)}: ${secs(performance.now() - t)}`);
    }
  } finally {
    await toxiproxy?.stop();
  }
  const measureMs = performance.now() - tMeasure;

  // 3. Planning.
  let planning: PlanTiming | undefined;
  const tPlan = performance.now();
  if (fixture) {
    const planMinio = await startMinioAt(fixture.dataDir, fixture.meta.credentials);
    try {
      planning = await timePlanning(planMinio, fixture, params.planRuns);
    } finally {
      await planMinio.stop();
    }
    say(`planning ${params.planSegments} segments: ${planning.runsMs.map((ms) => secs(ms)).join(', ')} (${planning.steps} objects planned)`);
  }
  const planMs = performance.now() - tPlan;

  // 4. Tables.
  const targets = evaluateTargets(cases, planning ? { segments: params.planSegments, medianMs: planning.medianMs } : undefined);
  const out = (s: string): void => {
    process.stdout.write(s + '\n');
  };
  out('');
  for (const c of cases) {
    out(`${c.profile}, ${c.shape}, ${sizeLabel(c.mib)} (${mibOf(c.sourceBytes)} restored):`);
    out(caseTable(c));
    out('');
  }
  out('Summary (best of the runs):');
  out(summaryTable(cases, params.litestreamV5));
  out('');
  out('Targets of issue 12:');
  out(targetsTable(targets));
  const pass = targets.filter((t) => t.pass === true).length;
  const miss = targets.filter((t) => t.pass === false).length;
  const loadEnd = loadAverage();
  out(
    `\n${pass} PASS, ${miss} MISS. Concurrency ${concurrencyLabel}. Durations: backups ${secs(buildMs)} ` +
      `[${buildLines.join('; ')}${fixture ? `; planning fixture ${fixture.built ? 'built' : 'cached'}` : ''}], ` +
      `restores ${secs(measureMs)} [${phaseLines.join('; ')}], planning ${secs(planMs)}, total ${secs(performance.now() - started)}; ` +
      `load average ${loadEnd}.`,
  );
  if (checker.failures > 0) out(`${checker.failures} Litestream restore(s) differed from their source (see above).`);

  if (params.markdownFile) {
    const md = markdownReport({
      machine: host,
      loadStart,
      loadEnd,
      date: new Date().toISOString().slice(0, 10),
      runs: params.runs,
      smallDbRuns: params.smallDb.runs,
      concurrency: String(concurrency),
      linkDescription: describeLink('s3like', params.link).replace(/^s3like \(|\)$/g, ''),
      cases,
      targets,
      v5Version: params.litestreamV5,
    });
    const file = path.resolve(params.markdownFile);
    await writeFile(file, md);
    say(`Markdown tables written to ${file}`);
  }
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
}
// The S3 clients' keep-alive sockets may hold the event loop open.
process.exit();
