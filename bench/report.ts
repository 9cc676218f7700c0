// The benchmark's tables: one row per measured case (each tool's best time,
// CPU, peak RSS, load) and one per target (PASS/MISS), as aligned Markdown
// pipe tables: readable on a terminal, pasteable into README.md (BENCH_MARKDOWN
// writes them to a file, with the machine they ran on). Pure apart from
// reading the machine's description.
import os from 'node:os';
import { best, maxRss, minCpu, secs, sizeLabel, TOOL_NAMES, TOOLS, type CaseResult, type Sample, type TargetRow, type ToolId } from './targets.js';

export interface Machine {
  cpu: string;
  cores: number;
  memGiB: number;
  kernel: string;
  node: string;
}

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.replace(/\s+/g, ' ').trim() ?? 'unknown CPU',
    cores: cpus.length,
    memGiB: os.totalmem() / 2 ** 30,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
  };
}

export const loadAverage = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' ');

export function describeMachine(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memGiB.toFixed(1)} GiB RAM, ${m.kernel}, node ${m.node}`;
}

/** An aligned Markdown pipe table. */
export function table(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${widths.map((w, i) => (cells[i] ?? '').padEnd(w)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

const verdict = (pass: boolean | undefined): string => (pass === undefined ? 'n/a' : pass ? 'PASS' : 'MISS');

export function targetsTable(rows: readonly TargetRow[]): string {
  return table(
    ['scope', 'target', 'measured', 'goal', 'result', 'load (1 min)'],
    rows.map((r) => [r.scope, r.figure, r.value, r.goal, verdict(r.pass), r.load]),
  );
}

const cell = (s: Sample | undefined): string => (s ? secs(s.ms) : '-');

/** Every tool of one case: best time, all runs, CPU, peak RSS, load at the best run. */
export function caseTable(c: CaseResult): string {
  const rows: string[][] = [];
  for (const tool of TOOLS) {
    const samples = c.samples[tool];
    if (!samples?.length) continue;
    const b = best(samples);
    const cpu = minCpu(samples);
    const rss = maxRss(samples);
    rows.push([
      TOOL_NAMES[tool],
      cell(b),
      samples.map((s) => (s.ms / 1000).toFixed(2)).join(', '),
      cpu === undefined ? '-' : secs(cpu),
      rss === undefined ? '-' : `${rss.toFixed(0)} MiB`,
      b ? b.load.toFixed(2) : '-',
      b?.note ?? '',
    ]);
  }
  const f = best(c.floor);
  if (f) rows.push(['disk floor (write + fsync db size)', cell(f), c.floor.map((s) => (s.ms / 1000).toFixed(2)).join(', '), '-', '-', f.load.toFixed(2), '']);
  return table(['tool', 'best', 'runs (s)', 'CPU (best)', 'peak RSS (max)', 'load at best', 'best run'], rows);
}

/** One row per case: the table for README's performance section. */
export function summaryTable(cases: readonly CaseResult[], v5Version: string): string {
  const t = (c: CaseResult, tool: ToolId): string => cell(best(c.samples[tool]));
  const rows = cases.map((c) => {
    const cpu = minCpu(c.samples['ours-v3']);
    const rss3 = maxRss(c.samples['ours-v3']);
    const rss5 = maxRss(c.samples['ours-v5']);
    const mib = (v: number | undefined): string => (v === undefined ? '-' : v.toFixed(0));
    const loads = TOOLS.flatMap((tool) => c.samples[tool] ?? []).map((s) => s.load);
    return [
      c.profile,
      c.shape,
      sizeLabel(c.mib),
      t(c, 'ours-v3'),
      t(c, 'litestream-0.3'),
      t(c, 'ours-v5'),
      t(c, 'litestream-0.5'),
      t(c, 'raw-v3'),
      cell(best(c.floor)),
      cpu === undefined ? '-' : secs(cpu),
      `${mib(rss3)} / ${mib(rss5)} MiB`,
      loads.length ? `${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}` : '-',
    ];
  });
  return table(
    [
      'link',
      'backup shape',
      'database',
      'ours (v0.3 backup)',
      'litestream 0.3.13',
      'ours (v0.5 backup)',
      `litestream ${v5Version}`,
      'raw download (v0.3)',
      'disk floor',
      'our CPU (v0.3)',
      'our peak RSS (v0.3 / v0.5)',
      'load',
    ],
    rows,
  );
}

export interface MarkdownInput {
  machine: Machine;
  loadStart: string;
  loadEnd: string;
  date: string;
  runs: number;
  smallDbRuns: number;
  concurrency: string;
  linkDescription: string;
  cases: readonly CaseResult[];
  targets: readonly TargetRow[];
  v5Version: string;
}

export function markdownReport(m: MarkdownInput): string {
  const pass = m.targets.filter((r) => r.pass === true).length;
  const miss = m.targets.filter((r) => r.pass === false).length;
  return [
    `Measured with \`npm run bench\` on ${m.date}: ${describeMachine(m.machine)}; load average (1, 5, 15 min) ${m.loadStart} at the start, ` +
      `${m.loadEnd} at the end. Best of ${m.runs} run(s) per tool (small database: ${m.smallDbRuns}), interleaved; our restore with the image's node flags and environment, concurrency ${m.concurrency}. ` +
      `S3-like link: ${m.linkDescription}.`,
    '',
    summaryTable(m.cases, m.v5Version),
    '',
    `Targets (issue 12): ${pass} PASS, ${miss} MISS.`,
    '',
    targetsTable(m.targets),
    '',
  ].join('\n');
}
