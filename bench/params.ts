// The benchmark's parameters, read from environment variables (all optional;
// bench/README.md documents each). Pure: takes the environment, returns the
// parameters or throws naming the variable at fault.
import type { BackupParams } from './build-backup.js';

export const PROFILES = ['loopback', 's3like'] as const;
export type Profile = (typeof PROFILES)[number];

export const SHAPES = ['small-segments', 'large-tx', 'small-db'] as const;
export type Shape = (typeof SHAPES)[number];

export interface LinkParams {
  /** Latency added to every downstream chunk of each connection (ms). */
  latencyMs: number;
  jitterMs: number;
  /** Bandwidth of each connection, downstream (KB/s, Toxiproxy's unit). */
  rateKBps: number;
}

export interface BenchParams {
  quick: boolean;
  profiles: Profile[];
  shapes: Shape[];
  smallSegments: { dbMiB: number; baseMiB: number; minSegments: number; minIndexes: number };
  largeTx: { dbMiB: number; commits: number; commitMB: number };
  smallDb: { dbMiB: number; segments: number; runs: number };
  checkpointPages: number;
  syncInterval: string;
  /** SQLITE_RESTORE_CONCURRENCY for our restore and the raw download; undefined: the CLI's default. */
  concurrency: number | undefined;
  runs: number;
  link: LinkParams;
  litestreamV5: string;
  planSegments: number;
  planRuns: number;
  verifyLitestream: boolean;
  profile: boolean;
  /** Write the Markdown tables here too. */
  markdownFile: string | undefined;
}

type Env = Record<string, string | undefined>;

function intParam(env: Env, name: string, def: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  return v;
}

function listParam<T extends string>(env: Env, name: string, allowed: readonly T[]): T[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return [...allowed];
  const picked = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const p of picked) {
    if (!(allowed as readonly string[]).includes(p)) throw new Error(`${name}: unknown "${p}" (known: ${allowed.join(', ')})`);
  }
  // In the canonical order, each once.
  return allowed.filter((a) => picked.includes(a));
}

export function parseParams(env: Env): BenchParams {
  const quick = env.BENCH_QUICK === '1';
  // Quick mode: small sizes and one run, for development; every variable still overrides it.
  const q = <T>(full: T, quickValue: T): T => (quick ? quickValue : full);
  const syncInterval = env.BENCH_SYNC_INTERVAL || '100ms';
  if (!/^\d+(ms|s)$/.test(syncInterval)) throw new Error('BENCH_SYNC_INTERVAL must look like 100ms or 1s');
  const concurrencyRaw = env.BENCH_CONCURRENCY;
  const concurrency = concurrencyRaw === undefined || concurrencyRaw === '' ? undefined : intParam(env, 'BENCH_CONCURRENCY', 8, 1);
  const v5 = env.BENCH_LITESTREAM_V5 || '0.5.18';
  if (!/^0\.5\.\d+$/.test(v5)) throw new Error(`BENCH_LITESTREAM_V5 must be a 0.5.x version such as 0.5.18, got "${v5}"`);
  const dbMiB = intParam(env, 'BENCH_DB_MIB', q(1024, 64), 1);
  const params: BenchParams = {
    quick,
    profiles: listParam(env, 'BENCH_PROFILES', PROFILES),
    shapes: listParam(env, 'BENCH_SHAPES', SHAPES),
    smallSegments: {
      dbMiB,
      baseMiB: intParam(env, 'BENCH_BASE_DB_MIB', q(256, 16), 0),
      minSegments: intParam(env, 'BENCH_MIN_SEGMENTS', q(1000, 100), 1),
      minIndexes: intParam(env, 'BENCH_MIN_INDEXES', q(10, 3), 1),
    },
    largeTx: {
      dbMiB: intParam(env, 'BENCH_LARGE_TX_DB_MIB', q(128, 32), 1),
      commits: intParam(env, 'BENCH_LARGE_TX_COMMITS', q(4, 2), 1),
      commitMB: intParam(env, 'BENCH_LARGE_TX_MB', q(60, 16), 1),
    },
    smallDb: {
      dbMiB: intParam(env, 'BENCH_SMALL_DB_MIB', 10, 1),
      segments: intParam(env, 'BENCH_SMALL_DB_SEGMENTS', 50, 1),
      runs: intParam(env, 'BENCH_SMALL_DB_RUNS', q(5, 2), 1),
    },
    checkpointPages: intParam(env, 'BENCH_CHECKPOINT_PAGES', 1000, 1),
    syncInterval,
    concurrency,
    runs: intParam(env, 'BENCH_RUNS', q(3, 1), 1),
    link: {
      latencyMs: intParam(env, 'BENCH_LINK_LATENCY_MS', 25, 0),
      jitterMs: intParam(env, 'BENCH_LINK_JITTER_MS', 5, 0),
      rateKBps: intParam(env, 'BENCH_LINK_RATE_KBPS', 81_920, 1),
    },
    litestreamV5: v5,
    planSegments: intParam(env, 'BENCH_PLAN_SEGMENTS', q(10_000, 1_000), 0),
    planRuns: intParam(env, 'BENCH_PLAN_RUNS', q(3, 1), 1),
    verifyLitestream: env.BENCH_VERIFY_LITESTREAM !== '0',
    profile: env.BENCH_PROFILE === '1',
    markdownFile: env.BENCH_MARKDOWN || undefined,
  };
  if (params.smallSegments.baseMiB >= params.smallSegments.dbMiB) params.smallSegments.baseMiB = 0;
  return params;
}

/** The database sizes (MiB) measured for a shape, smallest first. */
export function shapeSizes(p: BenchParams, shape: Shape): number[] {
  switch (shape) {
    case 'small-segments':
      return p.smallSegments.baseMiB > 0 ? [p.smallSegments.baseMiB, p.smallSegments.dbMiB] : [p.smallSegments.dbMiB];
    case 'large-tx':
      return [p.largeTx.dbMiB];
    case 'small-db':
      return [p.smallDb.dbMiB];
  }
}

/** The cached backup a shape and size are measured on (the key of its cache directory follows from it). */
export function backupParams(p: BenchParams, shape: Shape, mib: number): BackupParams {
  const common = { dbMiB: mib, checkpointPages: p.checkpointPages, syncInterval: p.syncInterval };
  switch (shape) {
    case 'small-segments':
      return { ...common, workload: { kind: 'small', minSegments: p.smallSegments.minSegments, minIndexes: p.smallSegments.minIndexes } };
    case 'large-tx':
      return { ...common, workload: { kind: 'large', commits: p.largeTx.commits, commitMB: p.largeTx.commitMB } };
    case 'small-db':
      return { ...common, workload: { kind: 'small', minSegments: p.smallDb.segments, minIndexes: 1 } };
  }
}
