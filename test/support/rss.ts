// Peak memory of a CLI run, measured as the bench measures it: the CLI is
// started with the image's node flags and environment and bench/rss-probe.cjs preloaded,
// which records the kernel's high-water mark of its resident set (VmHWM, all
// threads) when the process exits.
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { CLI_ENV, CLI_NODE_FLAGS } from '../../bench/node-flags.js';
import { repoRoot } from './paths.js';
import { runCli, type RunOptions, type RunResult } from './run-cli.js';

export const rssProbe = path.join(repoRoot, 'bench', 'rss-probe.cjs');

export interface MeasuredRun {
  readonly r: RunResult;
  /** Peak resident set size in MiB (VmHWM). */
  readonly peakMiB: number;
}

export async function runMeasured(args: string[], env: Record<string, string>, probeFile: string, opts: RunOptions = {}): Promise<MeasuredRun> {
  await rm(probeFile, { force: true });
  const r = await runCli(
    args,
    { ...CLI_ENV, ...env, NODE_OPTIONS: [`--require ${rssProbe}`, ...CLI_NODE_FLAGS].join(' '), BENCH_RSS_FILE: probeFile },
    opts,
  );
  const probe = JSON.parse(await readFile(probeFile, 'utf8')) as { vmHWMKiB: number };
  return { r, peakMiB: probe.vmHWMKiB / 1024 };
}
