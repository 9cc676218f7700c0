// One timed run of each thing the benchmark compares: our restore (the CLI as
// a child process, with the image's node flags and environment), `litestream restore` (v0.3.13
// or v0.5.x, as a child process), and the disk floor. Wall time is measured
// from spawn to exit, so process start counts for every tool alike.
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeLitestreamConfig } from '../test/support/litestream.js';
import { litestreamV5Bin, writeLitestreamV5Config } from '../test/support/litestream-v5.js';
import { s3Env, type S3Endpoint } from '../test/support/minio.js';
import { cliPath, litestreamBin, repoRoot } from '../test/support/paths.js';
import { startProcess } from '../test/support/process.js';
import { cliEnv, readMarker, type Marker } from '../test/support/run-cli.js';
import { CLI_ENV, CLI_NODE_FLAGS } from './node-flags.js';

const probePath = path.join(repoRoot, 'bench', 'rss-probe.cjs');

/** The 1-minute load average now: other work on the machine skews every figure. */
export const load1 = (): number => os.loadavg()[0] ?? 0;

export interface Replica {
  s3: S3Endpoint;
  bucket: string;
  prefix: string;
}

export interface OursRun {
  ms: number;
  /** User + system CPU time of the CLI, all threads, and of the SQLite check's child process (exact, from the process itself). */
  cpuMs: number;
  rssMiB: number;
  load: number;
  marker: Marker;
  dbPath: string;
}

/**
 * A command that runs the one after it (e.g. inside a cgroup: bench/cgroup.ts),
 * by exec, so the measured process keeps its pid.
 */
export type Launcher = readonly string[];

/** `command args`, or the launcher running them. */
function launched(launcher: Launcher | undefined, command: string, args: readonly string[]): [string, string[]] {
  return launcher?.length ? [launcher[0] as string, [...launcher.slice(1), command, ...args]] : [command, [...args]];
}

/** Runs `node [flags] dist/src/cli.js` with a clean environment (PATH plus `env`), like test/support/run-cli.ts. */
function spawnCli(env: Record<string, string>, nodeArgs: string[], launcher?: Launcher): Promise<{ code: number | null; signal: string | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(...launched(launcher, process.execPath, [...nodeArgs, cliPath]), {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', AWS_EC2_METADATA_DISABLED: 'true', ...CLI_ENV, ...env },
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

export async function runOurs(replica: Replica, dir: string, concurrency: number | undefined, nodeArgs: string[] = [], launcher?: Launcher): Promise<OursRun> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const dbPath = path.join(dir, 'app.db');
  const markerPath = path.join(dir, 'marker.json');
  const rssFile = path.join(dir, 'rss.json');
  const env = cliEnv({
    replicaUrl: `s3://${replica.bucket}/${replica.prefix}`,
    dbPath,
    terminationLog: path.join(dir, 'termination-log'),
    s3: s3Env(replica.s3),
    extra: {
      SQLITE_RESTORE_VERIFY: 'quick',
      ...(concurrency === undefined ? {} : { SQLITE_RESTORE_CONCURRENCY: String(concurrency) }),
      SQLITE_RESTORE_MARKER_PATH: markerPath,
      NODE_OPTIONS: `--require ${probePath}`,
      BENCH_RSS_FILE: rssFile,
    },
  });
  const load = load1();
  const t = performance.now();
  const r = await spawnCli(env, [...CLI_NODE_FLAGS, ...nodeArgs], launcher);
  const ms = performance.now() - t;
  if (r.code !== 0) throw new Error(`our restore failed: exit code ${r.code}, signal ${r.signal}\n${r.output}`);
  const probe = JSON.parse(await readFile(rssFile, 'utf8')) as { vmHWMKiB: number; cpuUserMs: number; cpuSystemMs: number; cpuChildrenMs: number };
  return { ms, cpuMs: probe.cpuUserMs + probe.cpuSystemMs + probe.cpuChildrenMs, rssMiB: probe.vmHWMKiB / 1024, load, marker: await readMarker(markerPath), dbPath };
}

/** `node <the image's flags> -e 0`: what starting any Node.js process costs here, for the small database. */
export async function runNodeStart(): Promise<{ ms: number; load: number }> {
  const load = load1();
  const t = performance.now();
  const r = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI_NODE_FLAGS, '-e', '0'], { stdio: 'ignore', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...CLI_ENV } });
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (r !== 0) throw new Error(`node -e 0 exited with ${r}`);
  return { ms: performance.now() - t, load };
}

export interface LitestreamRun {
  ms: number;
  /** Polled: the last reading before exit (see pollProcess). */
  cpuMs: number | undefined;
  rssMiB: number | undefined;
  load: number;
  dbPath: string;
}

/**
 * Peak RSS and CPU time of another process, polled from /proc every 50 ms.
 * VmHWM and utime+stime only grow, so the last reading is close to the final
 * value for runs of seconds; runs shorter than the interval read nothing.
 */
function pollProcess(pid: number): { stop(): { rssMiB: number | undefined; cpuMs: number | undefined } } {
  let rssMiB: number | undefined;
  let cpuMs: number | undefined;
  const ticksPerSecond = 100; // USER_HZ on Linux
  const read = async (): Promise<void> => {
    try {
      const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
      if (m) rssMiB = Number(m[1]) / 1024;
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpuMs = ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
    } catch {
      // exited
    }
  };
  const timer = setInterval(() => void read(), 50);
  return {
    stop() {
      clearInterval(timer);
      return { rssMiB, cpuMs };
    },
  };
}

export const LITESTREAM_V3 = '0.3.13';

/** `litestream restore -o <file> -config <yml> <source path>` with v0.3.13 or a v0.5.x release. */
export async function runLitestream(version: string, replica: Replica, sourceDbPath: string, dir: string, launcher?: Launcher): Promise<LitestreamRun> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const dbPath = path.join(dir, 'app.db');
  const configFile = path.join(dir, 'litestream.yml');
  const target = { type: 's3' as const, s3: replica.s3, bucket: replica.bucket, path: replica.prefix };
  const v3 = version === LITESTREAM_V3;
  const config = v3
    ? await writeLitestreamConfig(configFile, { dbPath: sourceDbPath, replicas: [target] })
    : await writeLitestreamV5Config(configFile, { version, dbPath: sourceDbPath, replica: target });
  const load = load1();
  const t = performance.now();
  const proc = startProcess(`litestream-${version}-restore`, ...launched(launcher, v3 ? litestreamBin : litestreamV5Bin(version), ['restore', '-o', dbPath, '-config', config, sourceDbPath]), {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
  });
  const poll = pollProcess(proc.pid);
  const status = await proc.exited;
  const ms = performance.now() - t;
  const { rssMiB, cpuMs } = poll.stop();
  if (status.code !== 0) throw new Error(`litestream ${version} restore failed (${JSON.stringify(status)}):\n${proc.output()}`);
  return { ms, rssMiB, cpuMs, load, dbPath };
}

/**
 * Writing the database's size to a new file on this disk and fsyncing it: a
 * floor no restore can beat here. On these VMs most of it is the cost of
 * touching fresh page-cache memory, and it is the noisiest figure.
 */
export async function diskFloor(bytes: number, dir: string): Promise<{ ms: number; load: number }> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'disk-floor.tmp');
  const chunk = Buffer.alloc(4 << 20, 0x5a);
  const load = load1();
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
  return { ms, load };
}
