// Builds (once) and caches the benchmark's backups: for one parameter set, a
// Litestream v0.3.13 replica and a Litestream v0.5 replica of the same
// workload, side by side in one MinIO data directory.
//
//   v0.3.13 (meta.json)
//   1. a source database is prefilled to the target size (workloads.ts,
//      seeded), with no Litestream running, so the generation starts with one
//      big snapshot;
//   2. the real Litestream v0.3.13 replicates it to MinIO (short sync interval,
//      min-checkpoint-page-count so WAL indexes roll over, no snapshot interval);
//   3. the workload runs: small transactions until the replica holds enough WAL
//      segments and indexes (checked by listing), or a few large commits;
//   4. Litestream is stopped with SIGTERM (its final sync) and the source's
//      logical digest is taken.
//   v0.5 (meta-v<version>.json), into the same data directory under its own prefix
//   1. the same prefill (same seed: the same database) in a second file;
//   2. the real Litestream v0.5 replicates it with its default compaction
//      levels (30s, 5m, 1h) and snapshot interval (24h), the same sync interval;
//   3. the same number of workload steps at the same pace (same seed: the same
//      transactions), after its first snapshot;
//   4. SIGTERM, digest; the result must equal the v0.3 source logically
//      (Litestream's own _litestream_* tables aside), or the build fails.
//
// A later run finds the meta files and skips all of this. A v0.5 build that
// fails half way leaves objects under a prefix nothing refers to; the next
// build uses a new one.
import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { parseLtxKey, SNAPSHOT_LEVEL } from '../src/layout/ltx/keys.js';
import { logicalDigest, type DbDigest } from '../test/support/digest.js';
import { startReplication, type Replication } from '../test/support/litestream.js';
import { startReplicationV5 } from '../test/support/litestream-v5.js';
import { createBucket, s3Client } from '../test/support/minio.js';
import { cacheRoot, tmpRoot } from '../test/support/paths.js';
import { sleep } from '../test/support/process.js';
import { S3Store as ReplicaReader, newestGeneration, readLayout, walIndexes } from '../test/support/replica.js';
import { openSource, type Db } from '../test/support/workload.js';
import { startMinioAt, type MinioCredentials } from './minio-dir.js';
import { largeTransactions, prefillTo, smallTransactions, type Workload, type WorkloadStats } from './workloads.js';

/** Bumped whenever the way a backup is built changes, so old caches are not reused. */
const BUILD_FORMAT = 2;

export const benchCacheRoot = path.join(cacheRoot, 'bench');

/** Litestream's own bookkeeping tables: their contents differ between the two sources. */
export const LITESTREAM_TABLES = ['_litestream_seq', '_litestream_lock'] as const;

/** Pause between small transactions: a few per 100 ms sync, so each WAL segment holds a handful. */
const SMALL_STEP_PAUSE_MS = 20;
/** Pause after a large commit, so Litestream ships it before the next one. */
const LARGE_STEP_PAUSE_MS = 3_000;
/** Litestream v0.5's default compaction levels 1..3 and snapshot interval, as a user has them. */
const V5_LEVELS = ['30s', '5m', '1h'];
const V5_SNAPSHOT_INTERVAL = '24h';

export type WorkloadSpec =
  /** Small transactions until the v0.3 replica holds this many WAL segments in this many WAL indexes. */
  | { kind: 'small'; minSegments: number; minIndexes: number }
  /** `commits` commits, each rewriting about `commitMB` MB of rows. */
  | { kind: 'large'; commits: number; commitMB: number };

export interface BackupParams {
  /** Size the source database is prefilled to, in MiB. */
  dbMiB: number;
  workload: WorkloadSpec;
  /** Litestream v0.3's min-checkpoint-page-count: a new WAL index past this many WAL pages. */
  checkpointPages: number;
  /** Litestream's monitor and replica sync interval (Go duration), both versions. */
  syncInterval: string;
}

interface SourceInfo {
  /** Where the source database was: litestream.yml for `litestream restore` must name it. */
  sourceDbPath: string;
  digest: DbDigest;
  sourceBytes: number;
}

export interface V3Meta extends SourceInfo {
  format: number;
  key: string;
  params: BackupParams;
  credentials: MinioCredentials;
  bucket: string;
  /** Replica path inside the bucket. */
  prefix: string;
  /** The source's digest without Litestream's tables: what the v0.5 source must equal. */
  appDigest: DbDigest;
  replica: { generation: string; snapshots: number; snapshotBytes: number; walSegments: number; walIndexes: number; walBytes: number };
  workload: WorkloadStats;
  buildMs: { prefill: number; snapshot: number; workload: number; flush: number; digest: number; total: number };
  builtAt: string;
}

export interface V5Meta extends SourceInfo {
  format: number;
  version: string;
  bucket: string;
  prefix: string;
  /** LTX files per level: count and bytes. */
  levels: Record<string, { files: number; bytes: number }>;
  workload: WorkloadStats;
  buildMs: { prefill: number; snapshot: number; workload: number; flush: number; digest: number; total: number };
  builtAt: string;
}

export interface CachedBackup {
  key: string;
  dir: string;
  dataDir: string;
  v3: V3Meta;
  v5: V5Meta;
  /** What this run built (nothing when both were cached). */
  built: { v3?: number; v5?: number };
}

export function backupKey(p: BackupParams): string {
  const w = p.workload.kind === 'small' ? `seg${p.workload.minSegments}-idx${p.workload.minIndexes}` : `tx${p.workload.commits}x${p.workload.commitMB}mb`;
  return `backup-db${p.dbMiB}m-${w}-ckpt${p.checkpointPages}-sync${p.syncInterval}-v${BUILD_FORMAT}`;
}

const exists = (file: string): Promise<boolean> =>
  access(file).then(
    () => true,
    () => false,
  );

async function readMeta<T extends { format: number }>(file: string): Promise<T | undefined> {
  if (!(await exists(file))) return undefined;
  const meta = JSON.parse(await readFile(file, 'utf8')) as T;
  return meta.format === BUILD_FORMAT ? meta : undefined;
}

/** The cached backups for these parameters, building what is missing first. */
export async function ensureBackup(params: BackupParams, v5Version: string, log: (msg: string) => void): Promise<CachedBackup> {
  const key = backupKey(params);
  const dir = path.join(benchCacheRoot, key);
  const dataDir = path.join(dir, 'minio');
  const built: CachedBackup['built'] = {};
  let v3 = await readMeta<V3Meta>(path.join(dir, 'meta.json'));
  if (!v3) {
    await rm(dir, { recursive: true, force: true });
    const partial = `${dir}.partial`;
    await rm(partial, { recursive: true, force: true });
    await mkdir(partial, { recursive: true });
    v3 = await buildV3(params, key, path.join(partial, 'minio'), log);
    await writeFile(path.join(partial, 'meta.json'), JSON.stringify(v3, null, 2) + '\n');
    await rename(partial, dir);
    built.v3 = v3.buildMs.total;
  }
  const v5File = path.join(dir, `meta-v${v5Version}.json`);
  let v5 = await readMeta<V5Meta>(v5File);
  if (!v5) {
    v5 = await buildV5(v3, v5Version, dataDir, log);
    await writeFile(v5File, JSON.stringify(v5, null, 2) + '\n');
    built.v5 = v5.buildMs.total;
  }
  return { key, dir, dataDir, v3, v5, built };
}

// ---------------------------------------------------------------------------

const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;

function fileSize(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return Number(db.pragma('page_count', { simple: true })) * Number(db.pragma('page_size', { simple: true }));
  } finally {
    db.close();
  }
}

function failIfExited(exited: Promise<unknown>, who: string): Promise<never> {
  const died = exited.then((status) => {
    throw new Error(`${who} exited while replicating: ${JSON.stringify(status)}`);
  });
  died.catch(() => undefined);
  return died;
}

async function until(what: string, check: () => Promise<boolean>, died: Promise<never>, timeoutMs = 15 * 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await Promise.race([check(), died])) return;
    await Promise.race([sleep(1_000), died]);
  }
  throw new Error(`${what}: not within ${timeoutMs / 60_000} minutes`);
}

function workloadFor(spec: WorkloadSpec, db: Db, maxId: number): Workload {
  return spec.kind === 'small' ? smallTransactions(db, maxId) : largeTransactions(db, maxId, spec.commitMB * 1e6);
}

const stepPause = (spec: WorkloadSpec): number => (spec.kind === 'small' ? SMALL_STEP_PAUSE_MS : LARGE_STEP_PAUSE_MS);

interface Run {
  prefill: number;
  snapshot: number;
  workload: number;
  flush: number;
  stats: WorkloadStats;
}

/**
 * Prefill, replicate, wait for the first snapshot, run the workload (until
 * `done` says so, checked every 2 s, or `steps` steps), stop with a final sync.
 */
async function replicateWorkload(
  dbPath: string,
  params: BackupParams,
  start: () => Promise<Replication>,
  hasSnapshot: () => Promise<boolean>,
  stop: { steps: number } | { done: (stats: WorkloadStats) => Promise<boolean> },
  who: string,
  log: (msg: string) => void,
): Promise<Run> {
  const tPrefill = Date.now();
  const maxId = prefillTo(dbPath, params.dbMiB, log);
  const prefill = Date.now() - tPrefill;
  const db = openSource(dbPath);
  try {
    const repl = await start();
    try {
      const died = failIfExited(repl.process.exited, who);
      const tSnap = Date.now();
      await until(`${who}: first snapshot`, hasSnapshot, died);
      const snapshot = Date.now() - tSnap;
      log(`${who}: first snapshot uploaded after ${Math.round(snapshot / 1000)} s`);
      const work = workloadFor(params.workload, db, maxId);
      const pause = stepPause(params.workload);
      const tWork = Date.now();
      let lastCheck = Date.now();
      let lastLog = Date.now();
      for (;;) {
        if ('steps' in stop && work.stats.transactions >= stop.steps) break;
        work.step();
        await Promise.race([sleep(pause), died]);
        const now = Date.now();
        if (now - lastLog >= 15_000) {
          lastLog = now;
          log(`${who}: workload ${work.stats.transactions}${'steps' in stop ? `/${stop.steps}` : ''} transactions (${Math.round((now - tWork) / 1000)} s)`);
        }
        if ('done' in stop && now - lastCheck >= 2_000) {
          lastCheck = now;
          if (await Promise.race([stop.done(work.stats), died])) break;
        }
        if (now - tWork > 45 * 60_000) throw new Error(`${who}: workload still running after 45 minutes`);
      }
      const workload = Date.now() - tWork;
      const tFlush = Date.now();
      await repl.stopAndFlush();
      return { prefill, snapshot, workload, flush: Date.now() - tFlush, stats: work.stats };
    } catch (err) {
      await repl.kill();
      throw err;
    }
  } finally {
    db.close();
  }
}

async function buildV3(params: BackupParams, key: string, dataDir: string, log: (msg: string) => void): Promise<V3Meta> {
  const t0 = Date.now();
  const work = path.join(tmpRoot, `bench-build-${key}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const dbPath = path.join(work, 'source.db');
  const credentials: MinioCredentials = { accessKey: 'benchadmin', secretKey: randomBytes(12).toString('hex'), region: 'us-east-1' };
  const bucket = 'bench';
  const prefix = `v0.3/db${params.dbMiB}m`;

  log(`building the Litestream v0.3.13 backup ${key} (first run only; cached in ${benchCacheRoot})`);
  const minio = await startMinioAt(dataDir, credentials);
  const client = s3Client(minio);
  try {
    await createBucket(minio, bucket);
    const reader = new ReplicaReader(client, bucket, prefix);
    const counts = async () => {
      const g = (await readLayout(reader)).generations.at(-1);
      return g ? { snapshots: g.snapshots.length, segments: g.wal.length, indexes: walIndexes(g).length } : { snapshots: 0, segments: 0, indexes: 0 };
    };
    const spec = params.workload;
    let lastLog = 0;
    const run = await replicateWorkload(
      dbPath,
      params,
      () =>
        startReplication({
          dbPath,
          replicas: [{ type: 's3', s3: minio, bucket, path: prefix }],
          interval: params.syncInterval,
          minCheckpointPageCount: params.checkpointPages,
        }),
      async () => (await counts()).snapshots > 0,
      spec.kind === 'small'
        ? {
            done: async (stats) => {
              const c = await counts();
              if (Date.now() - lastLog >= 15_000) {
                lastLog = Date.now();
                log(`v0.3 replica: ${c.segments}/${spec.minSegments} segments, ${c.indexes}/${spec.minIndexes} indexes after ${stats.transactions} transactions`);
              }
              return c.segments >= spec.minSegments && c.indexes >= spec.minIndexes;
            },
          }
        : { steps: spec.commits },
      'litestream v0.3.13',
      log,
    );

    const layout = await readLayout(reader);
    const gen = newestGeneration(layout);
    if (layout.generations.length !== 1) throw new Error(`expected one generation, found ${layout.generations.length}`);
    if (gen.snapshots.length !== 1) throw new Error(`expected one snapshot, found ${gen.snapshots.length}`);
    const replica = {
      generation: gen.id,
      snapshots: gen.snapshots.length,
      snapshotBytes: gen.snapshots.reduce((n, s) => n + s.size, 0),
      walSegments: gen.wal.length,
      walIndexes: walIndexes(gen).length,
      walBytes: gen.wal.reduce((n, s) => n + s.size, 0),
    };
    if (spec.kind === 'small' && (replica.walSegments < spec.minSegments || replica.walIndexes < spec.minIndexes)) {
      throw new Error(`replica too small after the final sync: ${JSON.stringify(replica)}`);
    }
    const tDigest = Date.now();
    const digest = logicalDigest(dbPath);
    const appDigest = logicalDigest(dbPath, { skipTables: LITESTREAM_TABLES });
    const digestMs = Date.now() - tDigest;
    const sourceBytes = fileSize(dbPath);
    log(
      `v0.3.13 backup built: source ${mib(sourceBytes)}, snapshot ${mib(replica.snapshotBytes)} (lz4), ` +
        `${replica.walSegments} WAL segments in ${replica.walIndexes} indexes (${mib(replica.walBytes)} lz4), ` +
        `${run.stats.transactions} transactions, ${Math.round((Date.now() - t0) / 1000)} s`,
    );
    return {
      format: BUILD_FORMAT,
      key,
      params,
      credentials,
      bucket,
      prefix,
      sourceDbPath: dbPath,
      digest,
      appDigest,
      sourceBytes,
      replica,
      workload: run.stats,
      buildMs: { prefill: run.prefill, snapshot: run.snapshot, workload: run.workload, flush: run.flush, digest: digestMs, total: Date.now() - t0 },
      builtAt: new Date().toISOString(),
    };
  } finally {
    client.destroy();
    await minio.stop();
    await rm(work, { recursive: true, force: true });
  }
}

export function sameDigest(a: DbDigest, b: DbDigest): boolean {
  return a.sha256 === b.sha256 && a.pageSize === b.pageSize && JSON.stringify(a.tables) === JSON.stringify(b.tables);
}

async function buildV5(v3: V3Meta, version: string, dataDir: string, log: (msg: string) => void): Promise<V5Meta> {
  const t0 = Date.now();
  const work = path.join(tmpRoot, `bench-build-${v3.key}-v${version}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const dbPath = path.join(work, 'source.db');
  const bucket = v3.bucket;
  const prefix = `v${version}/db${v3.params.dbMiB}m-${randomBytes(4).toString('hex')}`;

  log(`building the Litestream v${version} backup of the same workload (${v3.workload.transactions} transactions; first run only)`);
  const minio = await startMinioAt(dataDir, v3.credentials);
  const client = s3Client(minio);
  try {
    const reader = new ReplicaReader(client, bucket, prefix);
    const ltxFiles = async () => (await reader.list()).flatMap((o) => {
      const k = parseLtxKey(o.key);
      return k ? [{ ...k, size: o.size }] : [];
    });
    const run = await replicateWorkload(
      dbPath,
      v3.params,
      () =>
        startReplicationV5({
          version,
          dbPath,
          replica: { type: 's3', s3: minio, bucket, path: prefix },
          interval: v3.params.syncInterval,
          levels: V5_LEVELS,
          snapshotInterval: V5_SNAPSHOT_INTERVAL,
        }),
      async () => (await ltxFiles()).some((f) => f.level === SNAPSHOT_LEVEL),
      { steps: v3.workload.transactions },
      `litestream v${version}`,
      log,
    );
    const tDigest = Date.now();
    const digest = logicalDigest(dbPath);
    const appDigest = logicalDigest(dbPath, { skipTables: LITESTREAM_TABLES });
    const digestMs = Date.now() - tDigest;
    if (!sameDigest(appDigest, v3.appDigest)) {
      throw new Error(
        `the v${version} source differs from the v0.3.13 one after the same workload: ${JSON.stringify(appDigest)} vs ${JSON.stringify(v3.appDigest)}`,
      );
    }
    const levels: V5Meta['levels'] = {};
    for (const f of await ltxFiles()) {
      const l = (levels[`L${f.level}`] ??= { files: 0, bytes: 0 });
      l.files++;
      l.bytes += f.size;
    }
    const sourceBytes = fileSize(dbPath);
    log(
      `v${version} backup built: source ${mib(sourceBytes)} (same rows as the v0.3.13 source), LTX files ` +
        `${Object.entries(levels).map(([l, v]) => `${l}: ${v.files} (${mib(v.bytes)})`).join(', ')}; ${Math.round((Date.now() - t0) / 1000)} s`,
    );
    return {
      format: BUILD_FORMAT,
      version,
      bucket,
      prefix,
      sourceDbPath: dbPath,
      digest,
      sourceBytes,
      levels,
      workload: run.stats,
      buildMs: { prefill: run.prefill, snapshot: run.snapshot, workload: run.workload, flush: run.flush, digest: digestMs, total: Date.now() - t0 },
      builtAt: new Date().toISOString(),
    };
  } finally {
    client.destroy();
    await minio.stop();
    await rm(work, { recursive: true, force: true });
  }
}
