// The project's own Kubernetes cluster for end-to-end tests: a single node on
// this host (test/support/cluster/cluster.sh starts etcd, containerd, the
// control plane and the kubelet; test/support/k8s-setup.sh builds and installs
// them), every listener on 127.0.0.1, all state in one directory under .tmp/.
// Pods that must reach servers on the host's 127.0.0.1 (MinIO) use
// hostNetwork.
//
//   const cluster = await LocalCluster.start();     // in before()
//   await cluster.importImage(PRODUCT_IMAGE);        // podman → containerd
//   await cluster.helmOk(['install', ...]);          // real helm, real kubectl
//   const pod = await cluster.api.pod(ns, name);     // API reads and waits
//   await cluster.stop();                            // in after()
//
// Teardown runs on every exit path: stop() from the test's after hook; on
// SIGINT/SIGTERM of the test process (then it exits 130/143); synchronously
// at process exit if stop() never ran (an uncaught exception); and, should the
// test process be killed outright, the guard process cluster.sh starts sees
// its owner gone and tears the cluster down itself.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CGROUP_ROOT, clusterLeftovers, hostChanges, hostState, type HostState } from './cluster-host.js';
import { LocalVolumeProvisioner } from './cluster-storage.js';
import { KubeApi } from './kube-api.js';
import { freePorts } from './minio.js';
import { binDir, cacheRoot, makeTempDir, repoRoot } from './paths.js';
import { imageSkipReason, imageStatus, saveImage } from './podman.js';

export const clusterScript = path.join(repoRoot, 'test', 'support', 'cluster', 'cluster.sh');
export const kubectlBin = path.join(binDir, 'kubectl');
export const helmBin = path.join(binDir, 'helm');
const k8sCache = path.join(cacheRoot, 'k8s');
const statusFile = path.join(k8sCache, 'status');

/** k8s-setup.sh's verdict: "ready", "unsupported: <reason>" or "missing". */
export function clusterStatus(): string {
  return existsSync(statusFile) ? readFileSync(statusFile, 'utf8').trim() : 'missing';
}

/** Why the cluster tests skip on this machine (false: they run). */
export function clusterSkipReason(): string | false {
  const image = imageSkipReason();
  if (image) return image;
  const status = clusterStatus();
  return status.startsWith('unsupported') ? `kubernetes: ${status}` : false;
}

/** Throws unless setup.sh prepared the cluster and the base images. */
export function assertClusterReady(): void {
  for (const [what, status] of [['kubernetes', clusterStatus()], ['images', imageStatus()]] as const) {
    if (status !== 'ready') throw new Error(`${what}: setup status "${status}": run bash test/support/setup.sh`);
  }
}

export interface CommandResult {
  command: string;
  code: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface CommandOptions {
  input?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
  /** In a process group of its own: a Ctrl-C of the test's terminal does not reach it. */
  detached?: boolean;
}

/** Runs a command to completion (SIGKILL after the timeout); never throws for a non-zero exit. */
export function runCommand(command: string, args: string[], opts: CommandOptions & { baseEnv?: Record<string, string> } = {}): Promise<CommandResult> {
  const started = Date.now();
  const child = spawn(command, args, {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...opts.baseEnv, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: opts.detached ?? false,
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  child.stdin.on('error', () => undefined); // EPIPE: the command exited without reading its input
  child.stdin.end(opts.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        command: [path.basename(command), ...args].join(' '),
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        durationMs: Date.now() - started,
      });
    });
  });
}

export function explainCommand(r: CommandResult): string {
  const cut = (s: string): string => (s.length > 8000 ? `…${s.slice(-8000)}` : s);
  return `${r.command}: exit code ${r.code} after ${r.durationMs} ms\n--- stdout ---\n${cut(r.stdout)}\n--- stderr ---\n${cut(r.stderr)}`;
}

function mustSucceed(r: CommandResult): string {
  if (r.code !== 0) throw new Error(explainCommand(r));
  return r.stdout;
}

// ---------------------------------------------------------------- teardown on every exit path

const live = new Set<LocalCluster>();

function onSignal(signal: NodeJS.Signals): void {
  const code = signal === 'SIGINT' ? 130 : 143;
  process.stderr.write(`# ${signal}: stopping the test cluster\n`);
  Promise.allSettled([...live].map((c) => c.stop()))
    .then((results) => {
      for (const r of results) if (r.status === 'rejected') process.stderr.write(`# ${String(r.reason)}\n`);
    })
    .finally(() => process.exit(code));
}

function onExit(): void {
  // stop() never ran (an exception ended the process): a synchronous teardown
  for (const c of live) c.stopSync();
}

function track(c: LocalCluster): void {
  if (live.size === 0) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('exit', onExit);
  }
  live.add(c);
}

function untrack(c: LocalCluster): void {
  live.delete(c);
  if (live.size === 0) {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
  }
}

// ---------------------------------------------------------------- memory

const DAEMONS = ['etcd', 'containerd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet'] as const;

export interface MemoryPeak {
  /** Peak RSS of each daemon, MiB. */
  daemons: Record<string, number>;
  /** Peak of the daemons' RSS summed at one instant, MiB. */
  daemonsTotal: number;
  /** Peak RSS of everything in the pods' cgroup (containers and shims' children), MiB. */
  pods: number;
}

async function rssMiB(pid: string): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return kb ? Number(kb) / 1024 : 0;
}

// ---------------------------------------------------------------- the cluster

export interface StartOptions {
  /** Seconds to wait for another test cluster on this host to finish (default 900). */
  lockWaitSeconds?: number;
  /** Ports to use instead of free ones (a test that takes one first, to see a daemon fail to bind). */
  ports?: Partial<Record<ClusterPort, number>>;
}

const CLUSTER_PORTS = ['ETCD_PORT', 'ETCD_PEER_PORT', 'APISERVER_PORT', 'KUBELET_PORT', 'KUBELET_HEALTHZ_PORT', 'KCM_PORT', 'SCHEDULER_PORT'] as const;
export type ClusterPort = (typeof CLUSTER_PORTS)[number];

export class LocalCluster {
  readonly kubeconfig: string;
  /** https://127.0.0.1:<port>, also the service-account token issuer (set once started). */
  server = '';
  /** How long start() took, ms. */
  startMs = 0;
  private kubeApi: KubeApi | undefined;
  /** cluster.sh up while it runs. */
  private upChild: ChildProcess | undefined;
  /** What the last teardown printed (what it stopped, removed, restored). */
  downLog = '';
  /** The host before the cluster changed anything (recorded under the host lock). */
  private hostBefore: HostState | undefined;
  private volumes: LocalVolumeProvisioner | undefined;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private sampler: NodeJS.Timeout | undefined;
  private readonly peak: MemoryPeak = { daemons: {}, daemonsTotal: 0, pods: 0 };

  /** `dir`: the cluster's directory: configuration, state, logs (logs/*.log). */
  private constructor(readonly dir: string) {
    this.kubeconfig = path.join(dir, 'admin.kubeconfig');
  }

  /** The API client (admin credentials). */
  get api(): KubeApi {
    if (!this.kubeApi) throw new Error('the cluster is not started');
    return this.kubeApi;
  }

  /** The cluster CA (PEM): the API server's certificate, hence the OIDC issuer's, is signed by it. */
  get caFile(): string {
    return path.join(this.dir, 'pki', 'ca.crt');
  }

  /** The public key (PEM, RSA) that verifies service-account tokens, as /openid/v1/jwks serves it. */
  get serviceAccountKeyFile(): string {
    return path.join(this.dir, 'pki', 'sa.pub');
  }

  /** The provisioner behind the default StorageClass. */
  get storage(): LocalVolumeProvisioner {
    if (!this.volumes) throw new Error('the cluster is not started');
    return this.volumes;
  }

  /** Starts a cluster (waits for the host lock if another one runs); ready for pods when it resolves. */
  static async start(opts: StartOptions = {}): Promise<LocalCluster> {
    assertClusterReady();
    const cluster = new LocalCluster(await clusterDir());
    // Tracked before `up`: an exit during start-up tears down what was started.
    track(cluster);
    try {
      await cluster.up(opts);
    } catch (err) {
      await cluster.stop().catch(() => undefined);
      throw err;
    }
    return cluster;
  }

  private async up(opts: StartOptions): Promise<void> {
    const free = await freePorts(CLUSTER_PORTS.length);
    const ports = Object.fromEntries(CLUSTER_PORTS.map((name, i) => [name, opts.ports?.[name] ?? (free[i] as number)])) as Record<ClusterPort, number>;
    const env = {
      KUBE_BIN: binDir,
      PAUSE_TAR: path.join(k8sCache, 'pause.tar'),
      LOCK_FILE: path.join(k8sCache, 'cluster.lock'),
      LOCK_WAIT: String(opts.lockWaitSeconds ?? 900),
      OWNER_PID: String(process.pid),
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    };
    const started = Date.now();
    const up = await this.runUp(env, ((opts.lockWaitSeconds ?? 900) + 600) * 1000);
    if (up.code !== 0 || !up.stdout.includes('cluster: ready') || !this.hostBefore) {
      throw new Error(`the test cluster did not start\n${explainCommand(up)}\n${await logTails(this.dir)}`);
    }
    this.startMs = Date.now() - started;
    this.server = `https://127.0.0.1:${ports.APISERVER_PORT}`;
    const pki = path.join(this.dir, 'pki');
    this.kubeApi = new KubeApi({
      server: this.server,
      ca: await readFile(this.caFile),
      cert: await readFile(path.join(pki, 'admin.crt')),
      key: await readFile(path.join(pki, 'admin.key')),
    });
    this.startSampling();
    this.volumes = new LocalVolumeProvisioner(this.kubeApi, path.join(this.dir, 'volumes'));
    await this.volumes.start();
  }

  /**
   * cluster.sh up, which holds on once it has the host lock: the host's state
   * is recorded then, before anything changes it and while no other test
   * cluster can, for stop() to compare with.
   */
  private runUp(env: Record<string, string>, timeoutMs: number): Promise<CommandResult> {
    const started = Date.now();
    const child = spawn('bash', [clusterScript, 'up', this.dir], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOLD_AFTER_LOCK: '1', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.upChild = child;
    // up may be gone when we answer (EPIPE): its exit status tells
    child.stdin.on('error', () => undefined);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let locked = false;
    child.stdout.on('data', (c: Buffer) => {
      out.push(c);
      if (!locked && Buffer.concat(out).includes('cluster: locked\n')) {
        locked = true;
        hostState().then(
          (state) => {
            this.hostBefore = state;
            child.stdin.end('go\n');
          },
          () => child.stdin.end(),
        );
      }
    });
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        this.upChild = undefined;
        resolve({
          command: `cluster.sh up ${this.dir}`,
          code,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          durationMs: Date.now() - started,
        });
      });
    });
  }

  /** Environment for kubectl, helm and scripts given KUBECTL/HELM (deploy/e2e/checks.sh). */
  env(): Record<string, string> {
    const helmHome = path.join(this.dir, 'helm');
    return {
      HOME: this.dir,
      KUBECONFIG: this.kubeconfig,
      HELM_CACHE_HOME: path.join(helmHome, 'cache'),
      HELM_CONFIG_HOME: path.join(helmHome, 'config'),
      HELM_DATA_HOME: path.join(helmHome, 'data'),
      KUBECTL: `${kubectlBin} --kubeconfig ${this.kubeconfig}`,
      HELM: `${helmBin} --kubeconfig ${this.kubeconfig}`,
    };
  }

  run(command: string, args: string[], opts: CommandOptions = {}): Promise<CommandResult> {
    return runCommand(command, args, { ...opts, baseEnv: this.env() });
  }

  kubectl(args: string[], opts: CommandOptions = {}): Promise<CommandResult> {
    return this.run(kubectlBin, ['--kubeconfig', this.kubeconfig, ...args], opts);
  }

  async kubectlOk(args: string[], opts: CommandOptions = {}): Promise<string> {
    return mustSucceed(await this.kubectl(args, opts));
  }

  /** `kubectl apply -f -` of the given objects. */
  async apply(...objects: unknown[]): Promise<void> {
    await this.kubectlOk(['apply', '-f', '-'], { input: objects.map((o) => JSON.stringify(o)).join('\n') });
  }

  helm(args: string[], opts: CommandOptions = {}): Promise<CommandResult> {
    return this.run(helmBin, ['--kubeconfig', this.kubeconfig, ...args], { timeoutMs: 300_000, ...opts });
  }

  async helmOk(args: string[], opts: CommandOptions = {}): Promise<string> {
    return mustSucceed(await this.helm(args, opts));
  }

  /** Copies a podman image into the cluster's containerd (namespace k8s.io, where the kubelet looks). */
  async importImage(image: string): Promise<{ durationMs: number }> {
    const started = Date.now();
    const dir = path.join(this.dir, 'images');
    await mkdir(dir, { recursive: true });
    const tar = path.join(dir, `${image.replace(/[^a-zA-Z0-9.-]+/g, '_')}.tar`);
    try {
      await saveImage(image, tar);
      mustSucceed(
        await runCommand('ctr', ['--address', path.join(this.dir, 'run', 'containerd.sock'), '--namespace', 'k8s.io', 'images', 'import', tar], {
          timeoutMs: 600_000,
        }),
      );
    } finally {
      await rm(tar, { force: true });
    }
    return { durationMs: Date.now() - started };
  }

  /** Container logs (all of them, or the previous run's). */
  async logs(namespace: string, pod: string, container: string, previous = false): Promise<string> {
    return this.kubectlOk(['logs', '--namespace', namespace, pod, '-c', container, ...(previous ? ['--previous'] : [])]);
  }

  /** The last lines of every daemon's log, for failure messages. */
  daemonLogs(): Promise<string> {
    return logTails(this.dir);
  }

  private startSampling(): void {
    const sample = async (): Promise<void> => {
      let total = 0;
      for (const name of DAEMONS) {
        const pid = await readFile(path.join(this.dir, 'run', `${name}.pid`), 'utf8').catch(() => '');
        const mib = pid ? await rssMiB(pid.trim()) : 0;
        this.peak.daemons[name] = Math.max(this.peak.daemons[name] ?? 0, mib);
        total += mib;
      }
      this.peak.daemonsTotal = Math.max(this.peak.daemonsTotal, total);
      // cgroup v1 memory controller (total_rss), else v2 (anon)
      const v1 = await readFile(`/sys/fs/cgroup/memory/${CGROUP_ROOT}/memory.stat`, 'utf8').catch(() => '');
      const stat = v1 || (await readFile(`/sys/fs/cgroup/${CGROUP_ROOT}/memory.stat`, 'utf8').catch(() => ''));
      const rss = /^(?:total_rss|anon) (\d+)$/m.exec(stat)?.[1];
      if (rss) this.peak.pods = Math.max(this.peak.pods, Number(rss) / 2 ** 20);
    };
    this.sampler = setInterval(() => void sample().catch(() => undefined), 1000);
  }

  /** Peak memory so far (sampled every second). */
  memoryPeak(): MemoryPeak {
    return structuredClone(this.peak);
  }

  /**
   * Stops every process of the cluster and undoes its host changes
   * (cluster.sh down), then removes its directory. Throws when down reports
   * something left behind (the directory is then kept for inspection).
   * Idempotent; SQLITE_S3_RESTORE_KEEP_CLUSTER=1 keeps the directory.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.sampler);
      // a start still running: up exits at its next step, and down does the rest
      const up = this.upChild;
      if (up && up.exitCode === null && up.signalCode === null) {
        const gone = new Promise((resolve) => up.once('close', resolve));
        up.kill('SIGTERM');
        await gone;
      }
      await this.volumes?.stop().catch(() => undefined);
      this.kubeApi?.close();
      // The host lock is kept until the host is checked: no other test
      // cluster changes it in between.
      // detached: a Ctrl-C that reaches the whole process group must not cut the teardown short
      const down = await runCommand('bash', [clusterScript, 'down', this.dir], { env: { KEEP_LOCK: '1' }, timeoutMs: 300_000, detached: true });
      this.downLog = down.stderr;
      const guard = (await readFile(path.join(this.dir, 'run', 'guard.pid'), 'utf8').catch(() => '')).trim();
      const left = [
        ...(await clusterLeftovers(this.dir, guard ? [Number(guard)] : [])),
        ...(this.hostBefore ? hostChanges(this.hostBefore, await hostState()) : []),
      ];
      const release = await runCommand('bash', [clusterScript, 'release', this.dir], { timeoutMs: 60_000, detached: true });
      this.stopped = true;
      untrack(this);
      if (down.code !== 0 || release.code !== 0 || left.length > 0) {
        throw new Error(`the test cluster's teardown left something behind: ${left.join('; ')}\n${explainCommand(down)}\n${explainCommand(release)}`);
      }
      if (process.env.SQLITE_S3_RESTORE_KEEP_CLUSTER !== '1') await rm(this.dir, { recursive: true, force: true });
    })();
    return this.stopping;
  }

  /** Synchronous teardown for the process's exit handler. */
  stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.sampler);
    this.upChild?.kill('SIGTERM');
    // setsid: a session of its own, out of reach of the terminal's signals
    const down = spawnSync('setsid', ['bash', clusterScript, 'down', this.dir], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 });
    if (down.status === 0 && process.env.SQLITE_S3_RESTORE_KEEP_CLUSTER !== '1') rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A fresh directory for a cluster: under .tmp/ when the longest unix socket
 * path below it (the kubelet's) fits the 107-byte limit, else under the
 * system's temporary directory.
 */
async function clusterDir(): Promise<string> {
  const dir = await makeTempDir('k8s');
  if (path.join(dir, 'kubelet', 'plugins_registry', 'x'.repeat(40)).length <= 107) return dir;
  await rm(dir, { recursive: true, force: true });
  return mkdtemp(path.join(os.tmpdir(), 'ssr-k8s-'));
}

async function logTails(dir: string): Promise<string> {
  const logDir = path.join(dir, 'logs');
  const names = await readdir(logDir).catch(() => [] as string[]);
  const parts: string[] = [];
  for (const n of names.sort()) {
    const text = await readFile(path.join(logDir, n), 'utf8').catch(() => '');
    parts.push(`--- ${n} (last lines) ---\n${text.split('\n').slice(-25).join('\n')}`);
  }
  return parts.join('\n');
}
