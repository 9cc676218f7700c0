// The targets of issue 12, evaluated from one run's measurements. Pure: takes
// the samples, returns one row per target with its value, the goal and PASS
// or MISS (undefined when a needed measurement is missing). Every ratio uses
// the best (fastest) run of each side; the load average printed next to it is
// the 1-minute load when those best runs started.
import type { Profile, Shape } from './params.js';

export const TOOLS = ['raw-v3', 'ours-v3', 'litestream-0.3', 'raw-v5', 'ours-v5', 'litestream-0.5', 'node-start'] as const;
export type ToolId = (typeof TOOLS)[number];

export interface Sample {
  ms: number;
  /** User + system CPU time (Litestream's is polled, see runners.ts). */
  cpuMs?: number | undefined;
  rssMiB?: number | undefined;
  /** 1-minute load average when the run started. */
  load: number;
  /** Where the time went, for the tables (e.g. our marker's phases). */
  note?: string | undefined;
}

export interface CaseResult {
  shape: Shape;
  /** The size the database was built to (MiB). */
  mib: number;
  profile: Profile;
  /** Size of the restored database (bytes), for CPU per GiB. */
  sourceBytes: number;
  samples: Partial<Record<ToolId, Sample[]>>;
  floor: Sample[];
}

export interface TargetRow {
  scope: string;
  figure: string;
  value: string;
  goal: string;
  pass: boolean | undefined;
  load: string;
}

export const TARGETS = {
  s3V3Speedup: 3, // S3-like, biggest small-segments database: Litestream 0.3.13 time / ours >= 3
  s3V5Speedup: 2, // ... Litestream 0.5.x time / ours (on its own backup) >= 2
  linkRatio: 1.3, // ... ours <= 1.3x max(raw download, disk floor)
  largeTx: 1, // loopback, large transactions: ours / Litestream 0.3.13 <= 1
  smallDb: 1, // small database, each link: ours / Litestream <= 1 (total process time)
  cpuPerGiB: 1, // ours CPU s/GiB <= Litestream 0.3.13's
  rssMiB: 160, // peak RSS at the biggest small-segments database
  rssGrowth: 1.2, // peak RSS(biggest) / peak RSS(base size): "flat"
  planMs: 2_000, // planning the planning fixture's segments (median)
} as const;

export function best(samples: readonly Sample[] | undefined): Sample | undefined {
  if (!samples || samples.length === 0) return undefined;
  return samples.reduce((a, c) => (c.ms < a.ms ? c : a));
}

export function minCpu(samples: readonly Sample[] | undefined): number | undefined {
  const cpus = (samples ?? []).map((s) => s.cpuMs).filter((c): c is number => c !== undefined);
  return cpus.length ? Math.min(...cpus) : undefined;
}

export function maxRss(samples: readonly Sample[] | undefined): number | undefined {
  const rss = (samples ?? []).map((s) => s.rssMiB).filter((r): r is number => r !== undefined);
  return rss.length ? Math.max(...rss) : undefined;
}

export const sizeLabel = (mib: number): string => (mib >= 1024 && mib % 1024 === 0 ? `${mib / 1024} GiB` : `${mib} MiB`);
export const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const x = (v: number): string => `${v.toFixed(2)}x`;
/** A ratio next to its goal: a third decimal when two would round it onto the goal (1.009x is not "1.00x, MISS"). */
export const ratioText = (v: number, goal: number): string => (Number(v.toFixed(2)) === goal ? `${v.toFixed(3)}x` : x(v));
const loadOf = (...s: Array<Sample | undefined>): string => s.map((v) => (v ? v.load.toFixed(2) : '?')).join(' / ');

export const TOOL_NAMES: Record<ToolId, string> = {
  'raw-v3': 'raw download (v0.3 backup)',
  'ours-v3': 'our restore (v0.3 backup)',
  'litestream-0.3': 'litestream 0.3.13 restore',
  'raw-v5': 'raw download (v0.5 backup)',
  'ours-v5': 'our restore (v0.5 backup)',
  'litestream-0.5': 'litestream 0.5 restore',
  'node-start': 'node start alone (node <flags> -e 0)',
};

function find(cases: readonly CaseResult[], shape: Shape, profile: Profile, mib?: number): CaseResult | undefined {
  const of = cases.filter((c) => c.shape === shape && c.profile === profile && (mib === undefined || c.mib === mib));
  return of.sort((a, b) => b.mib - a.mib)[0];
}

const scopeOf = (c: Pick<CaseResult, 'profile' | 'mib' | 'shape'>): string => `${c.profile}, ${sizeLabel(c.mib)} ${c.shape}`;

/** `slow / fast >= goal`: how many times faster `fast` is. */
function speedup(scope: string, figure: string, fast: Sample | undefined, slow: Sample | undefined, goal: number): TargetRow {
  if (!fast || !slow) return { scope, figure, value: 'not measured', goal: `>= ${goal}x`, pass: undefined, load: '' };
  const v = slow.ms / fast.ms;
  return { scope, figure, value: `${ratioText(v, goal)} (${secs(fast.ms)} vs ${secs(slow.ms)})`, goal: `>= ${goal}x`, pass: v >= goal, load: loadOf(fast, slow) };
}

/** `ours / theirs <= goal`. */
function atMost(scope: string, figure: string, ours: Sample | undefined, theirs: Sample | undefined, goal: number): TargetRow {
  if (!ours || !theirs) return { scope, figure, value: 'not measured', goal: `<= ${goal}x`, pass: undefined, load: '' };
  const v = ours.ms / theirs.ms;
  return { scope, figure, value: `${ratioText(v, goal)} (${secs(ours.ms)} vs ${secs(theirs.ms)})`, goal: `<= ${goal}x`, pass: v <= goal, load: loadOf(ours, theirs) };
}

export interface PlanningResult {
  segments: number;
  medianMs: number;
}

export function evaluateTargets(cases: readonly CaseResult[], planning?: PlanningResult): TargetRow[] {
  const rows: TargetRow[] = [];

  // S3-like link, biggest small-segments database.
  const s3 = find(cases, 'small-segments', 's3like');
  if (s3) {
    const scope = scopeOf(s3);
    const s = s3.samples;
    rows.push(speedup(scope, 'speed-up over litestream 0.3.13 (v0.3 backup)', best(s['ours-v3']), best(s['litestream-0.3']), TARGETS.s3V3Speedup));
    rows.push(speedup(scope, 'speed-up over litestream 0.5 (v0.5 backup)', best(s['ours-v5']), best(s['litestream-0.5']), TARGETS.s3V5Speedup));
    const ours = best(s['ours-v3']);
    const raw = best(s['raw-v3']);
    const floor = best(s3.floor);
    const goal = `<= ${TARGETS.linkRatio}x`;
    if (ours && raw && floor) {
      const bound = raw.ms >= floor.ms ? raw : floor;
      const v = ours.ms / bound.ms;
      rows.push({
        scope,
        figure: `ours / max(raw download, disk floor) (${bound === raw ? 'raw download' : 'disk floor'} is larger)`,
        value: `${ratioText(v, TARGETS.linkRatio)} (${secs(ours.ms)} vs ${secs(bound.ms)})`,
        goal,
        pass: v <= TARGETS.linkRatio,
        load: loadOf(ours, bound),
      });
    } else {
      rows.push({ scope, figure: 'ours / max(raw download, disk floor)', value: 'not measured', goal, pass: undefined, load: '' });
    }
  }

  // Large transactions on loopback.
  const large = find(cases, 'large-tx', 'loopback');
  if (large) {
    rows.push(atMost(scopeOf(large), 'our time / litestream 0.3.13 (no slower)', best(large.samples['ours-v3']), best(large.samples['litestream-0.3']), TARGETS.largeTx));
  }

  // Small database, every link measured: total process time.
  for (const c of cases.filter((k) => k.shape === 'small-db')) {
    rows.push(atMost(scopeOf(c), 'total time / litestream 0.3.13', best(c.samples['ours-v3']), best(c.samples['litestream-0.3']), TARGETS.smallDb));
    rows.push(atMost(scopeOf(c), 'total time / litestream 0.5 (v0.5 backup)', best(c.samples['ours-v5']), best(c.samples['litestream-0.5']), TARGETS.smallDb));
  }

  // CPU seconds per GiB restored, where a GiB is restored at all (not the small database: process start dominates it).
  for (const c of cases.filter((k) => k.shape !== 'small-db')) {
    const gib = c.sourceBytes / 2 ** 30;
    const ours = minCpu(c.samples['ours-v3']);
    const theirs = minCpu(c.samples['litestream-0.3']);
    const goal = `<= ${TARGETS.cpuPerGiB}x litestream`;
    if (ours === undefined || theirs === undefined) {
      rows.push({ scope: scopeOf(c), figure: 'CPU s per GiB: ours / litestream 0.3.13', value: 'not measured', goal, pass: undefined, load: '' });
      continue;
    }
    const v = ours / theirs;
    rows.push({
      scope: scopeOf(c),
      figure: 'CPU s per GiB: ours / litestream 0.3.13',
      value: `${ratioText(v, TARGETS.cpuPerGiB)} (${(ours / 1000 / gib).toFixed(2)} vs ${(theirs / 1000 / gib).toFixed(2)} s/GiB)`,
      goal,
      pass: v <= TARGETS.cpuPerGiB,
      load: '',
    });
  }

  // Peak RSS: at the biggest small-segments database (any link), and its growth from the base size.
  const sizes = [...new Set(cases.filter((c) => c.shape === 'small-segments').map((c) => c.mib))].sort((a, b) => a - b);
  const rssAt = (mib: number, tool: ToolId): number | undefined =>
    maxRss(cases.filter((c) => c.shape === 'small-segments' && c.mib === mib).flatMap((c) => c.samples[tool] ?? []));
  const big = sizes.at(-1);
  if (big !== undefined) {
    for (const [tool, backup] of [
      ['ours-v3', 'v0.3 backup'],
      ['ours-v5', 'v0.5 backup'],
    ] as const) {
      const rss = rssAt(big, tool);
      rows.push({
        scope: `${sizeLabel(big)} small-segments, every link`,
        figure: `our peak RSS, max over runs (${backup})`,
        value: rss === undefined ? 'not measured' : `${rss.toFixed(1)} MiB`,
        goal: `<= ${TARGETS.rssMiB} MiB`,
        pass: rss === undefined ? undefined : rss <= TARGETS.rssMiB,
        load: '',
      });
      const base = sizes[0];
      if (base !== undefined && base !== big) {
        const small = rssAt(base, tool);
        const growth = rss !== undefined && small !== undefined ? rss / small : undefined;
        rows.push({
          scope: `${sizeLabel(base)} -> ${sizeLabel(big)} small-segments`,
          figure: `peak RSS growth (${backup})`,
          value: growth === undefined ? 'not measured' : `${ratioText(growth, TARGETS.rssGrowth)} (${small!.toFixed(0)} -> ${rss!.toFixed(0)} MiB)`,
          goal: `<= ${TARGETS.rssGrowth}x`,
          pass: growth === undefined ? undefined : growth <= TARGETS.rssGrowth,
          load: '',
        });
      }
    }
  }

  if (planning) {
    rows.push({
      scope: 'planning',
      figure: `planning ${planning.segments} segments (median)`,
      value: secs(planning.medianMs),
      goal: `< ${TARGETS.planMs / 1000} s`,
      pass: planning.medianMs < TARGETS.planMs,
      load: '',
    });
  }
  return rows;
}
