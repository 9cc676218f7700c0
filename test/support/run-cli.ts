// Runs the CLI under test (`node dist/src/cli.js`) as a real child process with a
// clean environment: PATH plus exactly the variables a test passes (nothing
// AWS_* leaks in from the parent).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { cliPath, repoRoot } from './paths.js';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Parsed JSON lines of stdout (pino). */
  logs: Record<string, unknown>[];
  /** Non-empty stdout lines that are not JSON objects (should be none). */
  nonJsonLines: string[];
  durationMs: number;
}

export interface RunOptions {
  /** SIGKILL the CLI after this long and fail (default 5 min). */
  timeoutMs?: number;
  /** Called right after spawn, e.g. to send a signal at the right moment. */
  onSpawn?: (child: ChildProcess) => void;
}

export async function runRestore(env: Record<string, string>, opts: RunOptions = {}): Promise<RunResult> {
  return runCli([], env, opts);
}

/** Runs the CLI with arguments (e.g. `['list', '--json']`); `logs` parses stdout only. */
export async function runCli(args: string[], env: Record<string, string>, opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const started = Date.now();
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd: repoRoot,
    // No instance-metadata lookups from tests, whatever credentials a test leaves out.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', AWS_EC2_METADATA_DISABLED: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    // 'close' waits for stdio to end, so the output is complete.
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  opts.onSpawn?.(child);
  const { code, signal } = await exit.finally(() => clearTimeout(timer));
  const stdout = Buffer.concat(out).toString('utf8');
  const stderr = Buffer.concat(err).toString('utf8');
  if (timedOut) throw new Error(`CLI did not finish within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`);
  const logs: Record<string, unknown>[] = [];
  const nonJsonLines: string[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    try {
      const v: unknown = JSON.parse(line);
      if (v && typeof v === 'object' && !Array.isArray(v)) logs.push(v as Record<string, unknown>);
      else nonJsonLines.push(line);
    } catch {
      nonJsonLines.push(line);
    }
  }
  return { code, signal, stdout, stderr, logs, nonJsonLines, durationMs: Date.now() - started };
}

/** Output of a run, for assertion messages. */
export function explain(r: RunResult): string {
  const cut = (s: string): string => (s.length > 6000 ? `…${s.slice(-6000)}` : s);
  return `exit code ${r.code} signal ${r.signal} after ${r.durationMs} ms\n--- stdout ---\n${cut(r.stdout)}\n--- stderr ---\n${cut(r.stderr)}`;
}

export interface Marker {
  schemaVersion: number;
  outcome: 'restored' | 'skipped' | 'first-boot';
  database: string;
  replica: string;
  source?: {
    layout: string;
    generation: string;
    snapshotIndex: number;
    position: { index: number; offset: number };
  };
  backupTime?: string;
  bytes?: { downloaded: number; database: number };
  durationsMs: Record<string, number>;
  sha256?: string;
  warnings?: string[];
  /** restored only. */
  verify?: string;
  /** skipped only. */
  checks?: string[];
  restoredBy?: Record<string, unknown> & { time: string; sha256?: string; replica: string };
  tool: { name: string; version: string };
  time: string;
}

export async function readMarker(file: string): Promise<Marker> {
  return JSON.parse(await readFile(file, 'utf8')) as Marker;
}

/** The CLI environment most tests use: replica, target, marker and termination log, plus S3 access if given. */
export function cliEnv(opts: {
  replicaUrl: string;
  dbPath: string;
  terminationLog: string;
  s3?: Record<string, string>;
  extra?: Record<string, string>;
}): Record<string, string> {
  return {
    SQLITE_RESTORE_REPLICA_URL: opts.replicaUrl,
    SQLITE_RESTORE_DB_PATH: opts.dbPath,
    SQLITE_RESTORE_TERMINATION_LOG: opts.terminationLog,
    ...opts.s3,
    ...opts.extra,
  };
}

export interface RestoreIntoResult {
  r: RunResult;
  target: string;
  markerPath: string;
  terminationLog: string;
}

/** Restores `replicaUrl` into `<dir>/app.db`, with the marker and the termination log beside it. */
export async function restoreInto(
  dir: string,
  replicaUrl: string,
  opts: { s3?: Record<string, string>; extra?: Record<string, string> } = {},
): Promise<RestoreIntoResult> {
  const target = path.join(dir, 'app.db');
  const markerPath = path.join(dir, 'marker.json');
  const terminationLog = path.join(dir, 'termination-log');
  await mkdir(dir, { recursive: true });
  const r = await runRestore(
    cliEnv({
      replicaUrl,
      dbPath: target,
      terminationLog,
      ...(opts.s3 ? { s3: opts.s3 } : {}),
      extra: { SQLITE_RESTORE_MARKER_PATH: markerPath, ...opts.extra },
    }),
  );
  return { r, target, markerPath, terminationLog };
}

/** The termination message, which must be exactly one non-empty line. */
export async function readTerminationLog(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const message = text.replace(/\n$/, '');
  if (!message || message.includes('\n')) {
    throw new Error(`termination log ${file} should hold one non-empty line, got ${JSON.stringify(text)}`);
  }
  return message;
}
