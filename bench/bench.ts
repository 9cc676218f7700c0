// npm run bench: restore speed and memory of sqlite-s3-restore against real
// Litestream v0.3.13 backups in MinIO, each figure next to its target.
//
// Parameters (environment variables, all optional):
//   BENCH_DB_MIB=1024           size of the big database (MiB)
//   BENCH_SMALL_DB_MIB=256      a second, smaller database, to show RSS does not grow with size (0: skip)
//   BENCH_MIN_SEGMENTS=1000     each backup holds at least this many WAL segments ...
//   BENCH_MIN_INDEXES=10        ... in at least this many WAL indexes
//   BENCH_CHECKPOINT_PAGES=1000 Litestream min-checkpoint-page-count while building (a new WAL index past it)
//   BENCH_SYNC_INTERVAL=100ms   Litestream monitor + replica sync interval while building
//   BENCH_CONCURRENCY=8         SQLITE_RESTORE_CONCURRENCY for our restore, and the raw download's parallelism
//   BENCH_RUNS=2                timed runs of our restore and of the raw download, interleaved; the best of each counts
//   BENCH_PLAN_SEGMENTS=10000   tiny WAL segment objects in the planning benchmark
//   BENCH_PLAN_RUNS=3           planning runs; the median counts
//   BENCH_VERIFY_LITESTREAM=1   also compare Litestream's restored database with the source (0: skip)
//   BENCH_PROFILE=0             1: one extra run of our restore on the big database under `node --cpu-prof`,
//                               summarised (top functions and modules); profiles stay in .tmp/bench-profile/
//
// Backups are built once per parameter set by the real Litestream and cached
// in <cache>/bench/<key>/ (MinIO data directory + meta.json with the source's
// logical digest); delete that directory to rebuild. Nothing here fails the
// process on a MISS: the exit code is non-zero only when something broke
// (a restore failed, or restored the wrong data).
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { litestreamV3 } from '../src/layout/litestream-v3/index.js';
import { fileSha256, logicalDigest, type DbDigest } from '../test/support/digest.js';
import { writeLitestreamConfig } from '../test/support/litestream.js';
import { s3Env } from '../test/support/minio.js';
import { cliPath, litestreamBin, repoRoot, tmpRoot } from '../test/support/paths.js';
import { startProcess } from '../test/support/process.js';
import { cliEnv, readMarker, type Marker } from '../test/support/run-cli.js';
import { ensureBackup, type BackupParams, type CachedBackup } from './build-backup.js';
import { startMinioAt, type DirMinio } from './minio-dir.js';
import { ensurePlanFixture, productStore, timePlanning, type PlanTiming } from './plan-bench.js';
import { formatSummary, summariseFiles } from './profile-summary.js';
import { CLI_NODE_FLAGS } from './node-flags.js';
import { rawDownload, type RawObject } from './raw-download.js';

// --- targets -----------------------------------------------------------------
const TARGET_RAW_RATIO = 1.25; // our restore <= 1.25x the raw download
const TARGET_LITESTREAM_SPEEDUP = 3; // our restore >= 3x faster than Litestream v0.3.13
const TARGET_RSS_MIB = 160; // peak RSS of our restore (set for the 1 GiB database; checked at every size)
const TARGET_RSS_GROWTH = 1.2; // peak RSS(big) <= 1.2x peak RSS(small)
const TARGET_PLAN_MS = 2_000; // planning BENCH_PLAN_SEGMENTS segments

// --- parameters --------------------------------------------------------------
function intParam(name: string, def: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  return v;
}
const bigMiB = intParam('BENCH_DB_MIB', 1024, 1);
const smallMiB = intParam('BENCH_SMALL_DB_MIB', 256, 0);
const minSegments = intParam('BENCH_MIN_SEGMENTS', 1000, 1);
const minIndexes = intParam('BENCH_MIN_INDEXES', 10, 1);
const checkpointPages = intParam('BENCH_CHECKPOINT_PAGES', 1000, 1);
const syncInterval = process.env.BENCH_SYNC_INTERVAL || '100ms';
const concurrency = intParam('BENCH_CONCURRENCY', 8, 1);
const runs = intParam('BENCH_RUNS', 2, 1);
const planSegments = intParam('BENCH_PLAN_SEGMENTS', 10_000, 1);
const planRuns = intParam('BENCH_PLAN_RUNS', 3, 1);
const verifyLitestream = process.env.BENCH_VERIFY_LITESTREAM !== '0';
const profile = process.env.BENCH_PROFILE === '1';
if (!/^\d+(ms|s)$/.test(syncInterval)) throw new Error('BENCH_SYNC_INTERVAL must look like 100ms or 1s');

// The bench process's own S3 clients: no Node-version notice on stderr (the CLI is left as it is).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const probePath = path.join(repoRoot, 'bench', 'rss-probe.cjs');
const runDir = path.join(tmpRoot, `bench-run-${process.pid}`);
const started = performance.now();

// --- output ------------------------------------------------------------------
const clock = (): string => `${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s`;
const say = (msg: string): void => {
  process.stdout.write(`[bench ${clock()}] ${msg}\n`);
};
const sec = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const mibOf = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;
/** Other work on the machine skews every figure: shown next to the measurements. */
const load = (): string => `load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;

interface Figure {
  size: string;
  name: string;
  value: string;
  target: string;
  pass: boolean | undefined; // undefined: informational
}
const figures: Figure[] = [];
function figure(f: Figure): void {
  figures.push(f);
  const verdict = f.pass === undefined ? '' : f.pass ? 'PASS' : 'MISS';
  say(`${f.size.padEnd(9)} ${f.name.padEnd(42)} ${f.value.padEnd(12)} ${f.target.padEnd(16)} ${verdict}`);
}

// --- measurements ------------------------------------------------------------
interface OursRun {
  ms: number;
  /** User + system CPU time of the CLI, all threads. */
  cpuMs: number;
  rssMiB: number;
  marker: Marker;
  dbPath: string;
}

/** Runs `node [nodeArgs] dist/src/cli.js` with a clean environment (PATH plus `env`), like test/support/run-cli.ts. */
function spawnCli(env: Record<string, string>, nodeArgs: string[]): Promise<{ code: number | null; signal: string | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, cliPath], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', AWS_EC2_METADATA_DISABLED: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), 60 * 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

async function runOurs(minio: DirMinio, b: CachedBackup, dir: string, nodeArgs: string[] = []): Promise<OursRun> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const dbPath = path.join(dir, 'app.db');
  const markerPath = path.join(dir, 'marker.json');
  const rssFile = path.join(dir, 'rss.json');
  const env = cliEnv({
    replicaUrl: `s3://${b.meta.bucket}/${b.meta.prefix}`,
    dbPath,
    terminationLog: path.join(dir, 'termination-log'),
    s3: s3Env(minio),
    extra: {
      SQLITE_RESTORE_VERIFY: 'quick',
      SQLITE_RESTORE_CONCURRENCY: String(concurrency),
      SQLITE_RESTORE_MARKER_PATH: markerPath,
      NODE_OPTIONS: `--require ${probePath}`,
      BENCH_RSS_FILE: rssFile,
    },
  });
  const t = performance.now();
  const r = await spawnCli(env, [...CLI_NODE_FLAGS, ...nodeArgs]);
  const ms = performance.now() - t;
  if (r.code !== 0) throw new Error(`our restore failed: exit code ${r.code}, signal ${r.signal}\n${r.output}`);
  const probe = JSON.parse(await readFile(rssFile, 'utf8')) as { vmHWMKiB: number; cpuUserMs: number; cpuSystemMs: number };
  return { ms, cpuMs: probe.cpuUserMs + probe.cpuSystemMs, rssMiB: probe.vmHWMKiB / 1024, marker: await readMarker(markerPath), dbPath };
}

interface LitestreamRun {
  ms: number;
  peakRssMiB: number | undefined;
  cpuMs: number | undefined;
  dbPath: string;
}

/**
 * Peak RSS and CPU time of another process, polled from /proc every 100 ms
 * (VmHWM and utime+stime only grow, so the last reading is close to the final value).
 */
function pollProcess(pid: number): { stop(): { peakRssMiB: number | undefined; cpuMs: number | undefined } } {
  let peakRssMiB: number | undefined;
  let cpuMs: number | undefined;
  const ticksPerSecond = 100; // USER_HZ on Linux
  const read = async (): Promise<void> => {
    try {
      const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
      if (m) peakRssMiB = Number(m[1]) / 1024;
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpuMs = ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
    } catch {
      // exited
    }
  };
  const timer = setInterval(() => void read(), 100);
  return {
    stop() {
      clearInterval(timer);
      return { peakRssMiB, cpuMs };
    },
  };
}

async function runLitestream(minio: DirMinio, b: CachedBackup, dir: string): Promise<LitestreamRun> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const dbPath = path.join(dir, 'app.db');
  const config = await writeLitestreamConfig(path.join(dir, 'litestream.yml'), {
    dbPath: b.meta.sourceDbPath,
    replicas: [{ type: 's3', s3: minio, bucket: b.meta.bucket, path: b.meta.prefix }],
  });
  const t = performance.now();
  const proc = startProcess('litestream-restore', litestreamBin, ['restore', '-o', dbPath, '-config', config, b.meta.sourceDbPath], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
  });
  const poll = pollProcess(proc.pid);
  const status = await proc.exited;
  const ms = performance.now() - t;
  const { peakRssMiB, cpuMs } = poll.stop();
  if (status.code !== 0) throw new Error(`litestream restore failed (${JSON.stringify(status)}):\n${proc.output()}`);
  return { ms, peakRssMiB, cpuMs, dbPath };
}

/** Writing the database's size to this disk and fsyncing it: a floor no restore can beat, shown for context. */
async function diskFloorMs(bytes: number, dir: string): Promise<number> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'disk-floor.tmp');
  const chunk = Buffer.alloc(4 << 20, 0x5a);
  const t = performance.now();
  const fh = await open(file, 'w');
  try {
    for (let done = 0; done < bytes; done += chunk.length) await fh.write(chunk, 0, Math.min(chunk.length, bytes - done));
    await fh.sync();
  } finally {
    await fh.close();
  }
  const ms = performance.now() - t;
  await rm(file, { force: true });
  return ms;
}

function sameDigest(got: DbDigest, want: DbDigest): boolean {
  return got.sha256 === want.sha256 && got.pageSize === want.pageSize && JSON.stringify(got.tables) === JSON.stringify(want.tables);
}

interface SizeResult {
  mib: number;
  ours: OursRun[];
  oursBest: OursRun;
  rawMs: number[];
  rawBest: number;
  rawCpuBest: number;
  floorMs: number;
  litestream: LitestreamRun;
}

async function measureSize(b: CachedBackup): Promise<SizeResult> {
  const label = `[${b.meta.params.dbMiB} MiB]`;
  const dir = path.join(runDir, `db${b.meta.params.dbMiB}m`);
  say(`${label} starting MinIO on ${path.relative(repoRoot, b.dataDir)}`);
  const minio = await startMinioAt(b.dataDir, b.meta.credentials);
  try {
    // The objects our restore will read, as the product itself plans them.
    const plan = await litestreamV3.plan(productStore(minio, b.meta.bucket, b.meta.prefix, concurrency), AbortSignal.timeout(120_000));
    if (!plan) throw new Error(`${label} no backup found in the cached MinIO data; delete ${b.dir} to rebuild it`);
    if (plan.steps.length !== 1 + b.meta.replica.walSegments) {
      throw new Error(
        `${label} plan has ${plan.steps.length} objects, the cache recorded 1 + ${b.meta.replica.walSegments}; delete ${b.dir} to rebuild it`,
      );
    }
    const objects: RawObject[] = plan.steps.map((s) => ({ key: `${b.meta.prefix}/${s.object.key}`, size: s.object.size }));
    const planBytes = objects.reduce((n, o) => n + o.size, 0);
    say(
      `${label} replica: snapshot ${mibOf(b.meta.replica.snapshotBytes)}, ${b.meta.replica.walSegments} WAL segments in ` +
        `${b.meta.replica.walIndexes} indexes (${mibOf(b.meta.replica.walBytes)}); ${objects.length} objects, ${mibOf(planBytes)} to download; ` +
        `source ${mibOf(b.meta.sourceBytes)}`,
    );

    const warm = await rawDownload(minio, b.meta.bucket, objects, concurrency);
    say(`${label} warm-up raw download (not counted): ${sec(warm.ms)}; ${load()}`);

    const floorMs = await diskFloorMs(b.meta.sourceBytes, dir);
    say(`${label} disk floor: writing ${mibOf(b.meta.sourceBytes)} to a file and fsyncing it takes ${sec(floorMs)} here`);

    const ours: OursRun[] = [];
    const rawMs: number[] = [];
    const rawCpuMs: number[] = [];
    let expectedSha: string | undefined;
    for (let r = 1; r <= runs; r++) {
      const raw = await rawDownload(minio, b.meta.bucket, objects, concurrency);
      rawMs.push(raw.ms);
      rawCpuMs.push(raw.cpuMs);
      say(
        `${label} run ${r}/${runs}: raw download ${sec(raw.ms)} wall, ${sec(raw.cpuMs)} CPU (${raw.requests} GETs, ${mibOf(raw.bytes)}, ` +
          `${(raw.bytes / 1048576 / (raw.ms / 1000)).toFixed(0)} MiB/s)`,
      );
      const o = await runOurs(minio, b, path.join(dir, `ours-${r}`));
      ours.push(o);
      const d = o.marker.durationsMs;
      say(
        `${label} run ${r}/${runs}: our restore ${sec(o.ms)} wall, ${sec(o.cpuMs)} CPU, peak RSS ${o.rssMiB.toFixed(1)} MiB ` +
          `(marker: plan ${d.plan} ms, download+apply ${d.download} ms, verify ${d.verify} ms, publish ${d.publish} ms, total ${d.total} ms)`,
      );
      // Correctness: the first restore is compared row by row with the source, the others byte by byte with the first.
      const sha = await fileSha256(o.dbPath);
      if (sha !== o.marker.sha256) throw new Error(`${label} marker sha256 ${o.marker.sha256} differs from the file's ${sha}`);
      if (expectedSha === undefined) {
        const t = performance.now();
        const got = logicalDigest(o.dbPath);
        if (!sameDigest(got, b.meta.digest)) {
          throw new Error(`${label} our restored database differs from the source: ${JSON.stringify(got)} vs ${JSON.stringify(b.meta.digest)}`);
        }
        say(`${label} our restored database equals the source (logical digest, ${JSON.stringify(got.tables)}; checked in ${sec(performance.now() - t)})`);
        expectedSha = sha;
      } else if (sha !== expectedSha) {
        throw new Error(`${label} run ${r} restored a different file than run 1`);
      }
      await rm(path.dirname(o.dbPath), { recursive: true, force: true });
    }

    const ls = await runLitestream(minio, b, path.join(dir, 'litestream'));
    say(
      `${label} litestream v0.3.13 restore ${sec(ls.ms)} wall, ~${ls.cpuMs === undefined ? '?' : sec(ls.cpuMs)} CPU, ` +
        `peak RSS ~${ls.peakRssMiB?.toFixed(1) ?? '?'} MiB (polled); ${load()}`,
    );
    if (verifyLitestream) {
      const same = sameDigest(logicalDigest(ls.dbPath), b.meta.digest);
      say(`${label} litestream's restored database ${same ? 'equals' : 'DIFFERS FROM'} the source`);
    }
    await rm(path.dirname(ls.dbPath), { recursive: true, force: true });

    const oursBest = ours.reduce((a, c) => (c.ms < a.ms ? c : a));
    return { mib: b.meta.params.dbMiB, ours, oursBest, rawMs, rawBest: Math.min(...rawMs), rawCpuBest: Math.min(...rawCpuMs), floorMs, litestream: ls };
  } finally {
    await minio.stop();
  }
}

async function profileOurs(b: CachedBackup): Promise<void> {
  const profDir = path.join(tmpRoot, 'bench-profile');
  await rm(profDir, { recursive: true, force: true });
  await mkdir(profDir, { recursive: true });
  const minio = await startMinioAt(b.dataDir, b.meta.credentials);
  try {
    const o = await runOurs(minio, b, path.join(runDir, 'profile'), ['--cpu-prof', `--cpu-prof-dir=${profDir}`]);
    const d = o.marker.durationsMs;
    say(
      `profile run (${b.meta.params.dbMiB} MiB, under --cpu-prof): ${sec(o.ms)} wall ` +
        `(plan ${d.plan} ms, download+apply ${d.download} ms, verify ${d.verify} ms, publish ${d.publish} ms)`,
    );
    await rm(path.dirname(o.dbPath), { recursive: true, force: true });
  } finally {
    await minio.stop();
  }
  for (const s of await summariseFiles(profDir, 20)) process.stdout.write(formatSummary(s) + '\n');
  say(`profiles kept in ${path.relative(repoRoot, profDir)} (open in Chrome DevTools, or: node dist/bench/profile-summary.js ${path.relative(repoRoot, profDir)})`);
}

// --- main --------------------------------------------------------------------
async function main(): Promise<void> {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    // Exiting runs test/support/process.ts's exit hook, which kills MinIO/Litestream by PID.
    process.once(sig, () => process.exit(sig === 'SIGINT' ? 130 : 143));
  }
  say(
    `sqlite-s3-restore benchmark: ${os.cpus().length} CPUs, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, node ${process.version}; ` +
      `sizes ${smallMiB > 0 && smallMiB !== bigMiB ? `${smallMiB} + ` : ''}${bigMiB} MiB, >= ${minSegments} segments in >= ${minIndexes} indexes, ` +
      `concurrency ${concurrency}, ${runs} run(s); ${load()}`,
  );
  const sizes = smallMiB > 0 && smallMiB !== bigMiB ? [smallMiB, bigMiB].sort((x, y) => x - y) : [bigMiB];

  // 1. Backups (cached).
  const tBuild = performance.now();
  const backups: CachedBackup[] = [];
  for (const dbMiB of sizes) {
    const params: BackupParams = { dbMiB, minSegments, minIndexes, checkpointPages, syncInterval };
    const b = await ensureBackup(params, (m) => say(`[${dbMiB} MiB] ${m}`));
    say(
      `[${dbMiB} MiB] backup ${b.built ? `built in ${sec(b.meta.buildMs.total)} ${JSON.stringify(b.meta.buildMs)}` : 'cached'}: ${b.meta.key}`,
    );
    backups.push(b);
  }
  const fixture = await ensurePlanFixture(planSegments, (m) => say(`[plan] ${m}`));
  say(`[plan] fixture ${fixture.built ? 'built' : 'cached'}: ${fixture.meta.segments} segments in ${fixture.meta.indexes} indexes`);
  const buildMs = performance.now() - tBuild;

  // 2. Restores.
  const tMeasure = performance.now();
  const results: SizeResult[] = [];
  for (const b of backups) results.push(await measureSize(b));

  // 3. Planning.
  const planMinio = await startMinioAt(fixture.dataDir, fixture.meta.credentials);
  let planning: PlanTiming;
  try {
    planning = await timePlanning(planMinio, fixture, planRuns);
  } finally {
    await planMinio.stop();
  }
  const measureMs = performance.now() - tMeasure;

  // 4. Figures.
  process.stdout.write('\n');
  say(`${'size'.padEnd(9)} ${'figure'.padEnd(42)} ${'value'.padEnd(12)} ${'target'.padEnd(16)} result`);
  for (const r of results) {
    const size = `${r.mib} MiB`;
    const best = r.oursBest;
    figure({ size, name: `our restore (best of ${r.ours.length})`, value: sec(best.ms), target: '', pass: undefined });
    figure({ size, name: `raw parallel download (best of ${r.rawMs.length})`, value: sec(r.rawBest), target: '', pass: undefined });
    figure({ size, name: 'litestream v0.3.13 restore', value: sec(r.litestream.ms), target: '', pass: undefined });
    figure({ size, name: 'disk floor (write + fsync db size)', value: sec(r.floorMs), target: '', pass: undefined });
    // CPU seconds are far less sensitive to other load on the machine than wall time.
    const cpuBest = Math.min(...r.ours.map((o) => o.cpuMs));
    figure({ size, name: 'CPU time: our restore (best)', value: sec(cpuBest), target: '', pass: undefined });
    figure({ size, name: 'CPU time: raw download (best)', value: sec(r.rawCpuBest), target: '', pass: undefined });
    figure({ size, name: 'CPU time: litestream (polled)', value: r.litestream.cpuMs === undefined ? '?' : sec(r.litestream.cpuMs), target: '', pass: undefined });
    const ratio = best.ms / r.rawBest;
    figure({ size, name: 'our restore / raw download', value: `${ratio.toFixed(2)}x`, target: `<= ${TARGET_RAW_RATIO}x`, pass: ratio <= TARGET_RAW_RATIO });
    const speedup = r.litestream.ms / best.ms;
    figure({ size, name: 'speed-up over litestream', value: `${speedup.toFixed(2)}x`, target: `>= ${TARGET_LITESTREAM_SPEEDUP}x`, pass: speedup >= TARGET_LITESTREAM_SPEEDUP });
    const rss = Math.max(...r.ours.map((o) => o.rssMiB));
    figure({ size, name: 'our peak RSS (max over runs)', value: `${rss.toFixed(1)} MiB`, target: `<= ${TARGET_RSS_MIB} MiB`, pass: rss <= TARGET_RSS_MIB });
  }
  if (results.length === 2) {
    const [small, big] = results as [SizeResult, SizeResult];
    const rssSmall = Math.max(...small.ours.map((o) => o.rssMiB));
    const rssBig = Math.max(...big.ours.map((o) => o.rssMiB));
    const growth = rssBig / rssSmall;
    figure({
      size: `${small.mib}->${big.mib}`,
      name: `peak RSS growth (${rssSmall.toFixed(0)} -> ${rssBig.toFixed(0)} MiB)`,
      value: `${growth.toFixed(2)}x`,
      target: `<= ${TARGET_RSS_GROWTH}x`,
      pass: growth <= TARGET_RSS_GROWTH,
    });
  }
  figure({
    size: 'plan',
    name: `planning ${planSegments} segments (median of ${planning.runsMs.length})`,
    value: sec(planning.medianMs),
    target: `< ${TARGET_PLAN_MS / 1000} s`,
    pass: planning.medianMs < TARGET_PLAN_MS,
  });
  say(`planning runs: ${planning.runsMs.map((ms) => sec(ms)).join(', ')} (${planning.steps} objects planned)`);

  // 5. Summary table.
  process.stdout.write('\nSummary\n');
  const head = ['size', 'figure', 'value', 'target', 'result'];
  const rows = figures.filter((f) => f.pass !== undefined).map((f) => [f.size, f.name, f.value, f.target, f.pass ? 'PASS' : 'MISS']);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  process.stdout.write(`${line(head)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n${rows.map(line).join('\n')}\n`);
  const misses = rows.filter((r) => r[4] === 'MISS').length;
  process.stdout.write(
    `\n${rows.length - misses} PASS, ${misses} MISS. Durations: backups ${sec(buildMs)} ` +
      `(${backups.some((b) => b.built) || fixture.built ? 'built this run' : 'cached'}), measurements ${sec(measureMs)}, ` +
      `total ${sec(performance.now() - started)}; ${load()}.\n`,
  );

  if (profile) {
    process.stdout.write('\n');
    await profileOurs(backups.at(-1)!);
  }
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
} finally {
  await rm(runDir, { recursive: true, force: true });
}
// The S3 clients' keep-alive sockets may hold the event loop open.
process.exit();
