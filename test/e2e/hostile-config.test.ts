// Issue 9 at the process boundary, through the real CLI as a child process:
// the termination log never blocks nor follows a link (item 2), SIGTERM/SIGINT
// act within a second and a run ends within SQLITE_RESTORE_TIMEOUT_SECONDS + 1 s
// (item 2), no secret reaches any output (item 6), and hostile configuration
// values are exit 78 naming the variable, or a warning for an unknown one (item 8).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { lstat, mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeBackup } from '../support/backup.js';
import { createBucket, freePort, s3Env, startMinio, type Minio } from '../support/minio.js';
import { makeTempDir, removeDir, repoRoot, restoringLeftovers } from '../support/paths.js';
import { sleep } from '../support/process.js';
import { cliEnv, explain, readTerminationLog, runCli, runRestore, type RunResult } from '../support/run-cli.js';
import { startThrottle, type Throttle } from '../support/throttle.js';
import { fillRandom } from '../support/workload.js';
import { assertExit, assertFileBytes, assertJsonLogs } from '../support/assertions.js';

const demoReplica = `file://${path.join(repoRoot, 'demo', 'replica')}`;
const slowDeletes = pathToFileURL(path.join(repoRoot, 'dist', 'test', 'support', 'slow-deletes.js')).href;
const snapshotMiB = 24;
const bytesPerSecond = 3 * 1024 * 1024; // ~8 s for the snapshot: long enough to interrupt

// "Within 1 s" is asserted as < 1.5 s from the signal: the CLI has 0.8 s to
// clean up before its watchdog acts, and a loaded 2-core VM adds scheduling
// delay to the child's exit and to the parent's noticing it.
const SIGNAL_BOUND_MS = 1_500;

let minio: Minio;
let throttle: Throttle;
let blackHole: { endpoint: string; stop(): Promise<void> };
let work: string;

/** A "store" that accepts connections and never answers a byte. */
async function startBlackHole(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('black hole: no address');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

before(
  async () => {
    work = await makeTempDir('e2e-hostile-config');
    minio = await startMinio();
    await createBucket(minio, 'backups');
    await makeBackup({
      workDir: work,
      replicas: [{ type: 's3', s3: minio, bucket: 'backups', path: 'big' }],
      prefill: (db) => fillRandom(db, snapshotMiB),
      workload: async (db) => {
        db.prepare("INSERT INTO kv (k, v) VALUES ('after-snapshot', 'yes')").run();
        await sleep(300);
      },
    });
    throttle = await startThrottle(minio.endpoint, bytesPerSecond);
    blackHole = await startBlackHole();
  },
  { timeout: 300_000 },
);

after(async () => {
  await blackHole?.stop();
  await throttle?.stop();
  await minio?.stop();
  if (work) await removeDir(work);
});

let dirs = 0;
async function freshDir(name: string): Promise<string> {
  const dir = path.join(work, `${++dirs}-${name}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

function doneLine(r: RunResult): Record<string, unknown> {
  const last = r.logs.at(-1);
  assert.equal(last?.event, 'done', `the last log line must be the "done" line\n${explain(r)}`);
  return last as Record<string, unknown>;
}

// ---------------------------------------------------------------------------
// The termination log (item 2)

test('a FIFO without a reader at SQLITE_RESTORE_TERMINATION_LOG: the restore still exits 0 at once', { timeout: 60_000 }, async () => {
  const dir = await freshDir('fifo');
  const fifo = path.join(dir, 'termination-log');
  execFileSync('mkfifo', [fifo]);
  // Before the fix the write blocked forever after a finished restore.
  const r = await runRestore(
    cliEnv({ replicaUrl: demoReplica, dbPath: path.join(dir, 'app.db'), terminationLog: fifo }),
    { timeoutMs: 30_000 },
  );
  console.log(`# FIFO termination log: exit ${r.code} after ${r.durationMs} ms`);
  assertExit(r, 0);
  assert.ok(r.durationMs < 15_000, `took ${r.durationMs} ms`);
  assert.deepEqual(doneLine(r).terminationLog, { path: fifo, notWritten: 'not a regular file' });
  assert.ok((await lstat(fifo)).isFIFO(), 'the FIFO is left as it was');
});

test('a symbolic link at SQLITE_RESTORE_TERMINATION_LOG is not followed: its target is unchanged', { timeout: 60_000 }, async () => {
  const dir = await freshDir('symlink');
  const precious = path.join(dir, 'precious.txt');
  const content = Buffer.from('not yours to overwrite\n');
  await writeFile(precious, content);
  const link = path.join(dir, 'termination-log');
  await symlink(precious, link);
  const r = await runRestore(cliEnv({ replicaUrl: demoReplica, dbPath: path.join(dir, 'app.db'), terminationLog: link }));
  assertExit(r, 0);
  await assertFileBytes(precious, content, 'the symlink target of the termination log');
  assert.ok((await lstat(link)).isSymbolicLink());
  assert.deepEqual(doneLine(r).terminationLog, { path: link, notWritten: 'a symbolic link (not followed)' });
  // Same for a failing run: the message is never written through the link.
  const failed = await runRestore(
    cliEnv({ replicaUrl: demoReplica, dbPath: path.join(dir, 'app.db'), terminationLog: link, extra: { SQLITE_RESTORE_VERIFY: 'x' } }),
  );
  assertExit(failed, 78);
  await assertFileBytes(precious, content, 'the symlink target of the termination log (config error)');
});

// ---------------------------------------------------------------------------
// Signals and the overall deadline (item 2)

interface Timed {
  r: RunResult;
  /** Signal sent → child exited, in ms. */
  stopMs?: number;
  /** What was going on when the signal went. */
  trigger?: string;
}

/**
 * Runs the CLI and sends `signal` once `ready` says so (polled every 5 ms),
 * measuring from the signal to the child's exit.
 */
async function interrupt(
  env: Record<string, string>,
  signal: NodeJS.Signals,
  ready: (child: ChildProcess, output: () => string) => Promise<string | undefined>,
): Promise<Timed> {
  const state: { sentAt?: number; exitedAt?: number; trigger?: string } = {};
  const r = await runCli([], env, {
    timeoutMs: 120_000,
    onSpawn: (child) => {
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
      child.on('exit', () => (state.exitedAt = Date.now()));
      void (async () => {
        while (child.exitCode === null && child.signalCode === null) {
          const trigger = await ready(child, () => out);
          if (trigger) {
            state.trigger = trigger;
            state.sentAt = Date.now();
            child.kill(signal);
            return;
          }
          await sleep(5);
        }
      })();
    },
  });
  return {
    r,
    stopMs: state.sentAt !== undefined && state.exitedAt !== undefined ? state.exitedAt - state.sentAt : undefined,
    trigger: state.trigger,
  };
}

function blackHoleEnv(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return cliEnv({
    replicaUrl: 's3://backups/big',
    dbPath: path.join(dir, 'app.db'),
    terminationLog: path.join(dir, 'termination-log'),
    s3: s3Env(minio, { endpoint: blackHole.endpoint }),
    extra,
  });
}

/** Half a second after the start line: the listing is then waiting on the black hole. */
function afterStart(): (child: ChildProcess, output: () => string) => Promise<string | undefined> {
  let seenAt: number | undefined;
  return async (_child, output) => {
    if (seenAt === undefined && output().includes('"event":"start"')) seenAt = Date.now();
    return seenAt !== undefined && Date.now() - seenAt >= 500 ? 'store not answering' : undefined;
  };
}

for (const [signal, code] of [
  ['SIGTERM', 143],
  ['SIGINT', 130],
] as const) {
  test(`${signal} while the store never answers: exit ${code} within ${SIGNAL_BOUND_MS} ms`, { timeout: 120_000 }, async () => {
    const dir = await freshDir(`stuck-${signal}`);
    const { r, stopMs } = await interrupt(blackHoleEnv(dir), signal, afterStart());
    console.log(`# ${signal} on a store that never answers: exit ${r.code} ${stopMs} ms after the signal`);
    assertExit(r, code);
    assert.ok(stopMs !== undefined && stopMs < SIGNAL_BOUND_MS, `exit took ${stopMs} ms after ${signal}\n${explain(r)}`);
    assert.equal(doneLine(r).exitCode, code);
    assert.equal(await readTerminationLog(path.join(dir, 'termination-log')), `aborted: interrupted by ${signal}`);
  });
}

test('SQLITE_RESTORE_TIMEOUT_SECONDS=2 while the store never answers: exit 75 within 3 s of the start', { timeout: 120_000 }, async () => {
  const dir = await freshDir('stuck-timeout');
  const seconds = 2;
  const r = await runRestore(blackHoleEnv(dir, { SQLITE_RESTORE_TIMEOUT_SECONDS: String(seconds) }), { timeoutMs: 60_000 });
  console.log(`# timeout ${seconds} s on a store that never answers: exit ${r.code} after ${r.durationMs} ms (spawn to close)`);
  assertExit(r, 75);
  // The bound is N + 1 s; 0.5 s more for spawning node and noticing the exit on a loaded VM.
  assert.ok(r.durationMs < seconds * 1000 + 1_500, `took ${r.durationMs} ms\n${explain(r)}`);
  assert.match(await readTerminationLog(path.join(dir, 'termination-log')), /^temporary: timed out after 2 s/);
});

/** Once a .restoring- temp file has existed for 0.5 s, the download is under way. */
function duringDownload(dir: string): (child: ChildProcess) => Promise<string | undefined> {
  let seenAt: number | undefined;
  return async () => {
    if (seenAt === undefined && (await restoringLeftovers(dir)).length > 0) seenAt = Date.now();
    if (seenAt !== undefined && Date.now() - seenAt >= 500) return `mid-download, ${throttle.delivered()} bytes delivered`;
    return undefined;
  };
}

function throttledEnv(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return cliEnv({
    replicaUrl: 's3://backups/big',
    dbPath: path.join(dir, 'app.db'),
    terminationLog: path.join(dir, 'termination-log'),
    s3: s3Env(minio, { endpoint: throttle.endpoint }),
    extra,
  });
}

test(`SIGTERM during a slow download: exit 143 within ${SIGNAL_BOUND_MS} ms, nothing published`, { timeout: 120_000 }, async () => {
  const dir = await freshDir('download-sigterm');
  const { r, stopMs, trigger } = await interrupt(throttledEnv(dir), 'SIGTERM', duringDownload(dir));
  console.log(`# SIGTERM ${trigger ?? 'never sent'}: exit ${r.code} ${stopMs} ms after the signal`);
  assert.ok(trigger, `the restore finished before it could be interrupted\n${explain(r)}`);
  assertExit(r, 143);
  assert.ok(stopMs !== undefined && stopMs < SIGNAL_BOUND_MS, `exit took ${stopMs} ms after SIGTERM\n${explain(r)}`);
  assert.ok(!(await readdir(dir)).includes('app.db'), 'nothing may be published');
});

// The watchdog: the run's own cleanup hangs (deletes on a stalled volume, imitated
// by a preloaded module that delays every asynchronous delete by 60 s). Without the
// watchdog the CLI waited for it. Note: a thread stuck in the kernel (an open() of a
// FIFO, a dead NFS server) would hang even process.exit(), since libuv joins its
// thread pool at exit; that is why every open that may meet a FIFO uses O_NONBLOCK.
const stalledVolume = { NODE_OPTIONS: `--import=${slowDeletes}`, SLOW_DELETES_MS: '60000' };

test('SIGTERM while the cleanup hangs: the watchdog exits 143 within the bound, with the final line and message', { timeout: 120_000 }, async () => {
  const dir = await freshDir('watchdog-sigterm');
  const { r, stopMs, trigger } = await interrupt(throttledEnv(dir, stalledVolume), 'SIGTERM', duringDownload(dir));
  console.log(`# SIGTERM ${trigger ?? 'never sent'} with hanging deletes: exit ${r.code} ${stopMs} ms after the signal`);
  assert.ok(trigger, `the restore finished before it could be interrupted\n${explain(r)}`);
  assertExit(r, 143);
  assert.ok(stopMs !== undefined && stopMs < SIGNAL_BOUND_MS, `exit took ${stopMs} ms after SIGTERM\n${explain(r)}`);
  const done = doneLine(r);
  assert.equal(done.forced, true, 'the watchdog, not the pipeline, ended this run');
  assert.equal(done.exitCode, 143);
  assert.equal(await readTerminationLog(path.join(dir, 'termination-log')), 'aborted: interrupted by SIGTERM');
  assert.ok(!(await readdir(dir)).includes('app.db'), 'nothing may be published');
});

test('a second SIGTERM while the cleanup hangs ends the run at once', { timeout: 120_000 }, async () => {
  const dir = await freshDir('watchdog-second-signal');
  const ready = duringDownload(dir);
  let firstAt: number | undefined;
  const { r, stopMs } = await interrupt(throttledEnv(dir, stalledVolume), 'SIGTERM', async (child) => {
    if (firstAt === undefined) {
      if (!(await ready(child))) return undefined;
      firstAt = Date.now();
      child.kill('SIGTERM');
      return undefined;
    }
    // The second one, 100 ms later; the watchdog alone would act 800 ms after the first.
    return Date.now() - firstAt >= 100 ? 'second SIGTERM' : undefined;
  });
  console.log(`# second SIGTERM with hanging deletes: exit ${r.code} ${stopMs} ms after it`);
  assertExit(r, 143);
  assert.ok(stopMs !== undefined && stopMs < 600, `exit took ${stopMs} ms after the second SIGTERM\n${explain(r)}`);
  assert.equal(doneLine(r).forced, true);
  assert.ok(r.logs.some((l) => l.event === 'forced-exit' && l.reason === 'SIGTERM again'), explain(r));
});

test('the timeout while the cleanup hangs: exit 75 within SQLITE_RESTORE_TIMEOUT_SECONDS + 1 s', { timeout: 120_000 }, async () => {
  const dir = await freshDir('watchdog-timeout');
  const seconds = 3;
  const r = await runRestore(throttledEnv(dir, { ...stalledVolume, SQLITE_RESTORE_TIMEOUT_SECONDS: String(seconds) }), {
    timeoutMs: 90_000,
  });
  console.log(`# timeout ${seconds} s with hanging deletes: exit ${r.code} after ${r.durationMs} ms (spawn to close)`);
  assertExit(r, 75);
  assert.ok(r.durationMs < seconds * 1000 + 1_500, `took ${r.durationMs} ms\n${explain(r)}`);
  assert.equal(doneLine(r).forced, true);
  assert.match(await readTerminationLog(path.join(dir, 'termination-log')), /^temporary: timed out after 3 s/);
});

// ---------------------------------------------------------------------------
// No secret in any output (item 6)

const SECRETS = {
  wrongSecretKey: 'Wr0ngSecretKey/distinct+AAAA1111',
  sessionToken: 'FwoGZXIvYXdzEDistinctSessionToken//BBBB2222',
  containerToken: 'ContainerAuthToken-distinct-CCCC3333',
  webIdentityToken: 'eyJhbGciOiJSUzI1NiJ9.WebIdentity-distinct-DDDD4444.sig',
  podIdentityToken: 'PodIdentityToken-distinct-EEEE5555',
  endpointUser: 'EndpointUser-distinct-FFFF6666',
  endpointPassword: 'EndpointP@ss:word/distinct-GGGG7777',
  replicaUser: 'ReplicaUser-distinct-HHHH8888',
  replicaPassword: 'ReplicaPass-distinct-IIII9999',
  /** A secret key that also passes as a region name. */
  regionLike: 'RegionLikeSecretKey-JJJJ0000',
};

/** The forms a secret could take in a log line, a message or a URL. */
function forms(secret: string): string[] {
  return [...new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)])];
}

async function assertNoSecret(name: string, r: RunResult, dir: string, secrets: string[]): Promise<void> {
  const outputs: Record<string, string> = { stdout: r.stdout, stderr: r.stderr };
  for (const file of await readdir(dir)) {
    if (file === 'app.db') continue;
    outputs[file] = await readFile(path.join(dir, file), 'utf8').catch(() => '');
  }
  for (const [where, text] of Object.entries(outputs)) {
    for (const secret of secrets) {
      for (const form of forms(secret)) {
        assert.ok(!text.includes(form), `${name}: ${where} contains the secret ${JSON.stringify(form)}\n${explain(r)}`);
      }
    }
  }
}

test('no secret from any variable appears in stdout, stderr, the marker or the termination message of any run', { timeout: 240_000 }, async () => {
  const tokens = await freshDir('tokens');
  const webIdentityFile = path.join(tokens, 'web-identity-token');
  const podIdentityFile = path.join(tokens, 'pod-identity-token');
  await writeFile(webIdentityFile, `${SECRETS.webIdentityToken}\n`);
  await writeFile(podIdentityFile, SECRETS.podIdentityToken);
  // Set on every run: the SDK does not use them while static keys are set, but they are secrets all the same.
  const decoys = {
    AWS_CONTAINER_AUTHORIZATION_TOKEN: SECRETS.containerToken,
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: podIdentityFile,
    AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/restore',
    AWS_WEB_IDENTITY_TOKEN_FILE: webIdentityFile,
    SQLITE_RESTORE_LOG_LEVEL: 'debug',
  };
  const closedPort = await freePort();
  const endpointWithUserinfo = (host: string): string =>
    `http://${encodeURIComponent(SECRETS.endpointUser)}:${encodeURIComponent(SECRETS.endpointPassword)}@${host}`;
  const runs: Array<{ name: string; args?: string[]; code: number; redacted?: boolean; env: (dir: string) => Record<string, string> }> = [
    {
      name: 'success over S3',
      code: 0,
      env: (dir) => cliEnv({ replicaUrl: 's3://backups/big', dbPath: path.join(dir, 'app.db'), terminationLog: path.join(dir, 'termination-log'), s3: s3Env(minio), extra: { ...decoys, SQLITE_RESTORE_MARKER_PATH: path.join(dir, 'marker.json') } }),
    },
    {
      name: 'list over S3',
      args: ['list', '--json'],
      code: 0,
      env: (dir) => cliEnv({ replicaUrl: 's3://backups/big', dbPath: path.join(dir, 'app.db'), terminationLog: path.join(dir, 'termination-log'), s3: s3Env(minio), extra: decoys }),
    },
    {
      name: 'endpoint with userinfo (config error)',
      code: 78,
      env: (dir) =>
        cliEnv({
          replicaUrl: 's3://backups/big',
          dbPath: path.join(dir, 'app.db'),
          terminationLog: path.join(dir, 'termination-log'),
          s3: { ...s3Env(minio), SQLITE_RESTORE_S3_ENDPOINT: endpointWithUserinfo(new URL(minio.endpoint).host) },
          extra: decoys,
        }),
    },
    {
      name: 'replica URL with userinfo (config error)',
      code: 78,
      env: (dir) =>
        cliEnv({
          replicaUrl: `s3://${SECRETS.replicaUser}:${SECRETS.replicaPassword}@backups/big`,
          dbPath: path.join(dir, 'app.db'),
          terminationLog: path.join(dir, 'termination-log'),
          s3: s3Env(minio),
          extra: decoys,
        }),
    },
    {
      name: 'a secret pasted into the wrong variable (config error)',
      code: 78,
      env: (dir) =>
        cliEnv({
          replicaUrl: 's3://backups/big',
          dbPath: path.join(dir, 'app.db'),
          terminationLog: path.join(dir, 'termination-log'),
          s3: s3Env(minio),
          extra: { ...decoys, SQLITE_RESTORE_IF_EXISTS: SECRETS.containerToken, SQLITE_RESTORE_CONCURRENCY: SECRETS.sessionToken },
        }),
    },
    {
      // The values of a Secret swapped: the start line logs the region. The scrubber catches it.
      name: 'the secret key also set as the region (logged, so scrubbed)',
      code: 75,
      redacted: true,
      env: (dir) =>
        cliEnv({
          replicaUrl: 's3://backups/big',
          dbPath: path.join(dir, 'app.db'),
          terminationLog: path.join(dir, 'termination-log'),
          s3: { ...s3Env(minio, { endpoint: blackHole.endpoint, secretKey: SECRETS.regionLike }), SQLITE_RESTORE_S3_REGION: SECRETS.regionLike },
          extra: { ...decoys, SQLITE_RESTORE_TIMEOUT_SECONDS: '2' },
        }),
    },
    {
      name: 'wrong secret key and a session token (auth error)',
      code: 77,
      env: (dir) =>
        cliEnv({
          replicaUrl: 's3://backups/big',
          dbPath: path.join(dir, 'app.db'),
          terminationLog: path.join(dir, 'termination-log'),
          s3: { ...s3Env(minio, { secretKey: SECRETS.wrongSecretKey }), AWS_SESSION_TOKEN: SECRETS.sessionToken },
          extra: decoys,
        }),
    },
    {
      name: 'S3 down (connection refused)',
      code: 75,
      env: (dir) =>
        cliEnv({
          replicaUrl: 's3://backups/big',
          dbPath: path.join(dir, 'app.db'),
          terminationLog: path.join(dir, 'termination-log'),
          s3: { ...s3Env(minio, { endpoint: `http://127.0.0.1:${closedPort}`, secretKey: SECRETS.wrongSecretKey }), AWS_SESSION_TOKEN: SECRETS.sessionToken },
          extra: { ...decoys, SQLITE_RESTORE_MAX_ATTEMPTS: '1', SQLITE_RESTORE_TIMEOUT_SECONDS: '20' },
        }),
    },
  ];
  const secrets = [...Object.values(SECRETS), minio.secretKey];
  for (const run of runs) {
    const dir = await freshDir('secrets');
    const r = await runCli(run.args ?? [], run.env(dir), { timeoutMs: 120_000 });
    console.log(`# ${run.name}: exit ${r.code}, ${r.stdout.length + r.stderr.length} bytes of output`);
    assertExit(r, run.code);
    await assertNoSecret(run.name, r, dir, secrets);
    if (run.name.includes('userinfo')) {
      assert.match(await readTerminationLog(path.join(dir, 'termination-log')), /AWS_ACCESS_KEY_ID|AWS_\*/);
    }
    if (run.redacted) assert.match(r.stdout, /"region":"\[redacted\]"/, `the region should be scrubbed\n${explain(r)}`);
    if (run.code === 0 && !run.args) assert.ok((await readdir(dir)).includes('marker.json'), 'the marker is among the files checked');
    if (run.code === 77 || run.code === 75) {
      // The debug level was on: the error with its causes, the most talkative output there is, was checked.
      assert.ok(r.logs.some((l) => l.level === 'debug' && l.err), `expected the debug "failure details" line\n${explain(r)}`);
    }
  }
});

// ---------------------------------------------------------------------------
// Hostile configuration values (item 8): 78 naming the variable, before anything is touched

async function expectConfigError(name: string, env: Record<string, string>, variable: string): Promise<void> {
  const dir = await freshDir(name);
  const terminationLog = path.join(dir, 'termination-log');
  const r = await runRestore({ SQLITE_RESTORE_DB_PATH: path.join(dir, 'app.db'), SQLITE_RESTORE_REPLICA_URL: demoReplica, SQLITE_RESTORE_TERMINATION_LOG: terminationLog, ...env }, { timeoutMs: 30_000 });
  assertExit(r, 78);
  assertJsonLogs(r);
  const message = await readTerminationLog(terminationLog);
  assert.ok(message.startsWith('config: ') && message.includes(variable), `the reason should name ${variable}: ${message}\n${explain(r)}`);
  assert.deepEqual(await readdir(dir), ['termination-log'], 'nothing else may be created');
}

test('SQLITE_RESTORE_TIMEOUT_SECONDS above what a timer holds → 78 (was 75 at once)', async () => {
  await expectConfigError('timeout-max', { SQLITE_RESTORE_TIMEOUT_SECONDS: '2147484' }, 'SQLITE_RESTORE_TIMEOUT_SECONDS');
});

test('SQLITE_RESTORE_IDLE_TIMEOUT_SECONDS above what a timer holds → 78', async () => {
  await expectConfigError('idle-max', { SQLITE_RESTORE_IDLE_TIMEOUT_SECONDS: '99999999999' }, 'SQLITE_RESTORE_IDLE_TIMEOUT_SECONDS');
});

test('SQLITE_RESTORE_FILE_UID=4294967295 → 78 (was silently "no change")', async () => {
  await expectConfigError('uid-max', { SQLITE_RESTORE_FILE_UID: '4294967295' }, 'SQLITE_RESTORE_FILE_UID');
});

test('an ftp:// SQLITE_RESTORE_S3_ENDPOINT → 78 (was 75)', async () => {
  await expectConfigError('ftp-endpoint', { SQLITE_RESTORE_REPLICA_URL: 's3://backups/x', SQLITE_RESTORE_S3_ENDPOINT: 'ftp://127.0.0.1:21' }, 'SQLITE_RESTORE_S3_ENDPOINT');
});

test('an AWS_REGION the SDK refuses → 78 naming it (was 75 "storage unavailable")', async () => {
  await expectConfigError('bad-region', { SQLITE_RESTORE_REPLICA_URL: 's3://backups/x', AWS_REGION: 'eu west 1' }, 'AWS_REGION');
});

test('a NUL byte in a file replica URL → 78 (was 70)', async () => {
  await expectConfigError('nul-url', { SQLITE_RESTORE_REPLICA_URL: 'file:///a%00b' }, 'SQLITE_RESTORE_REPLICA_URL');
});

test('SQLITE_RESTORE_DB_PATH ending in "/." → 78 (was restored to the directory\'s name)', async () => {
  const dir = await freshDir('dot-parent');
  await expectConfigError('dot', { SQLITE_RESTORE_DB_PATH: `${dir}/.` }, 'SQLITE_RESTORE_DB_PATH');
  assert.deepEqual(await readdir(dir), [], 'nothing is written next to the directory either');
});

test("SQLITE_RESTORE_MARKER_PATH equal to the database's -wal → 78", async () => {
  const dir = await freshDir('marker-wal');
  await expectConfigError('marker-wal-run', { SQLITE_RESTORE_DB_PATH: path.join(dir, 'app.db'), SQLITE_RESTORE_MARKER_PATH: path.join(dir, 'app.db-wal') }, 'SQLITE_RESTORE_MARKER_PATH');
});

test('a misspelt SQLITE_RESTORE_VERYFY: a warning naming it and SQLITE_RESTORE_VERIFY; the run succeeds', async () => {
  const dir = await freshDir('typo');
  const r = await runRestore(
    cliEnv({
      replicaUrl: demoReplica,
      dbPath: path.join(dir, 'app.db'),
      terminationLog: path.join(dir, 'termination-log'),
      extra: { SQLITE_RESTORE_VERYFY: 'full', SQLITE_RESTORE_LOG_LEVEL: 'warn' },
    }),
  );
  assertExit(r, 0);
  const warning = r.logs.find((l) => l.event === 'unknown-variable');
  assert.ok(warning, `expected an unknown-variable warning\n${explain(r)}`);
  assert.equal(warning.level, 'warn');
  assert.equal(warning.variable, 'SQLITE_RESTORE_VERYFY');
  assert.equal(warning.closest, 'SQLITE_RESTORE_VERIFY');
  assert.match(String(warning.msg), /SQLITE_RESTORE_VERYFY.*SQLITE_RESTORE_VERIFY/);
  assert.equal(await readTerminationLog(path.join(dir, 'termination-log')), `restored: ${path.join(dir, 'app.db')}`);
});
