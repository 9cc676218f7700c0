// A fault matrix between the CLI and a real MinIO: every case ends with a
// restore identical to the source, or with the documented exit code and the
// target exactly as it was.
//
//   CLI ──> Toxiproxy (TCP toxics) ──> HTTP fault proxy (503 SlowDown, HTTP
//   stalls, request log) ──> MinIO
//
// One backup (written by the real Litestream v0.3.13 directly to MinIO: a
// ~20 MiB snapshot of incompressible pages, fetched as parallel ranged parts,
// plus several WAL segments of which one is multi-MB) serves every case. The
// request log of the HTTP proxy shows whether the CLI resumed an interrupted
// body with a Range request instead of starting over. Local I/O faults (a full
// volume, a read-only volume) use real mounts: a 2 MiB tmpfs and a read-only
// bind mount (the tests run as root).
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { makeBackup, type SourceBackup } from '../support/backup.js';
import { startHttpFaultProxy, type HttpFaultProxy, type RecordedRequest } from '../support/http-faults.js';
import { createBucket, s3Client, s3Env, startMinio, type Minio } from '../support/minio.js';
import { makeTempDir, removeDir } from '../support/paths.js';
import { sleep } from '../support/process.js';
import { describeGeneration, newestGeneration, readLayout, S3Store, type Generation } from '../support/replica.js';
import { cliEnv, explain, readMarker, runRestore, type RunResult } from '../support/run-cli.js';
import { startToxiproxy, type Proxy, type Toxiproxy } from '../support/toxiproxy.js';
import { fillRandom, writeSmallDb } from '../support/workload.js';
import { WORKER_DECODE_BYTES } from '../../src/sqlite/wal-fold.js';
import { assertExit, assertFileBytes, assertNoLeftovers, assertSameDatabase } from '../support/assertions.js';

const bucket = 'backups';
const prefix = 'faults/app';
const snapshotMiB = 20;
const MiB = 1 << 20;

let minio: Minio;
let toxiproxy: Toxiproxy;
let proxy: Proxy;
let http: HttpFaultProxy;
let work: string;
let backup: SourceBackup;
let gen: Generation;
let caseNo = 0;
const mounts: string[] = [];

before(
  async () => {
    minio = await startMinio();
    work = await makeTempDir('e2e-faults');
    await createBucket(minio, bucket);
    backup = await makeBackup({
      workDir: work,
      replicas: [{ type: 's3', s3: minio, bucket, path: prefix }],
      // The first snapshot holds these pages: large and incompressible.
      prefill: (db) => fillRandom(db, snapshotMiB),
      workload: async (db) => {
        const item = db.prepare('INSERT INTO items (name, qty, price, note, data) VALUES (?, ?, ?, ?, ?)');
        const blob = db.prepare('INSERT INTO blobs (data) VALUES (?)');
        const small = async (tag: string, n: number): Promise<void> => {
          for (let t = 0; t < n; t++) {
            db.transaction(() => {
              for (let i = 0; i < 300; i++) item.run(`${tag}-${t}-${i}`, i, i / 3, 'n'.repeat(i % 40), randomBytes(200));
            })();
            await sleep(250);
          }
        };
        await small('before', 4);
        // One transaction of 10 MiB: a WAL segment large enough to be decoded in
        // a worker thread (WORKER_DECODE_BYTES), then a checkpoint (new WAL index).
        db.transaction(() => {
          for (let i = 0; i < 10; i++) blob.run(randomBytes(MiB));
        })();
        await sleep(1_000);
        await small('after', 4);
        db.prepare('DELETE FROM blobs WHERE id % 4 = 0').run();
        await sleep(300);
      },
    });
    const client = s3Client(minio);
    gen = newestGeneration(await readLayout(new S3Store(client, bucket, prefix)));
    client.destroy();
    const total = gen.snapshots.reduce((n, s) => n + s.size, 0) + gen.wal.reduce((n, w) => n + w.size, 0);
    console.log(`# backup made in ${backup.durationMs} ms; ${describeGeneration(gen)}; ${total} bytes in all`);
    assert.ok((gen.snapshots.at(-1)?.size ?? 0) > 16 * MiB, 'the snapshot is fetched as several ranged parts');
    assert.ok(gen.wal.some((w) => w.size > WORKER_DECODE_BYTES), 'one WAL segment is decoded in a worker thread');

    http = await startHttpFaultProxy(minio.endpoint);
    toxiproxy = await startToxiproxy();
  },
  { timeout: 180_000 },
);

beforeEach(async () => {
  // Every case gets its own Toxiproxy proxy (no connection or toxic state carried over).
  proxy = await toxiproxy.createProxy(`case-${caseNo + 1}`, http.address);
});

afterEach(async () => {
  await proxy?.remove();
  http?.setFaults({});
  while (mounts.length > 0) unmount(mounts.pop() as string);
});

after(async () => {
  while (mounts.length > 0) unmount(mounts.pop() as string);
  await toxiproxy?.stop();
  await http?.stop();
  await minio?.stop();
  if (work) await removeDir(work);
});

interface Case {
  dir: string;
  target: string;
  markerPath: string;
  /** Bytes of the pre-existing target database, when the case made one. */
  before?: Buffer;
  /** Index of the first request of this case in the HTTP proxy's log. */
  firstRequest: number;
}

/** A fresh target directory; with `existing`, a small database already at the target path. */
async function newCase(name: string, opts: { existing?: boolean; dir?: string } = {}): Promise<Case> {
  caseNo++;
  const dir = opts.dir ?? path.join(work, 'cases', `${caseNo}-${name}`);
  await mkdir(dir, { recursive: true });
  const target = path.join(dir, 'app.db');
  let before: Buffer | undefined;
  if (opts.existing) {
    writeSmallDb(target);
    before = await readFile(target);
  }
  return {
    dir,
    target,
    markerPath: path.join(work, 'cases', `${caseNo}-${name}.marker.json`),
    before,
    firstRequest: http.requests.length,
  };
}

function restore(c: Case, extra: Record<string, string> = {}): Promise<RunResult> {
  return runRestore(
    cliEnv({
      replicaUrl: `s3://${bucket}/${prefix}`,
      dbPath: c.target,
      terminationLog: path.join(work, 'cases', `termination-log-${caseNo}`),
      s3: s3Env(minio, { endpoint: proxy.endpoint }),
      extra: {
        SQLITE_RESTORE_MARKER_PATH: c.markerPath,
        ...(c.before ? { SQLITE_RESTORE_IF_EXISTS: 'overwrite' } : {}),
        ...extra,
      },
    }),
    { timeoutMs: 150_000 },
  );
}

/**
 * Runs `fault` `afterMs` after the first snapshot GET of this case reached the
 * HTTP proxy (with a bandwidth toxic the 8 MiB parts take several seconds, so
 * the fault lands mid-object); fails if the restore ended first. A byte count
 * cannot be the trigger: Toxiproxy reads ahead several MB of what the client
 * has received.
 */
async function restoreWithFault(
  c: Case,
  extra: Record<string, string>,
  afterMs: number,
  fault: () => Promise<void>,
): Promise<RunResult> {
  let finished = false;
  const started = Date.now();
  const run = restore(c, extra).finally(() => {
    finished = true;
  });
  while (!finished && !caseRequests(c).some((r) => r.url.includes('/snapshots/'))) await sleep(5);
  const seenAt = Date.now() - started;
  await sleep(afterMs);
  if (finished) assert.fail(`the restore ended before the fault: it came too late\n${explain(await run)}`);
  const faultAt = Date.now() - started;
  await fault();
  console.log(`# first snapshot GET ${seenAt} ms after the start; fault at ${faultAt} ms, applied in ${Date.now() - started - faultAt} ms`);
  return run;
}

function caseRequests(c: Case): RecordedRequest[] {
  return http.requests.slice(c.firstRequest);
}

const rangeStart = (r: RecordedRequest): number | undefined => {
  const m = /^bytes=(\d+)-/.exec(r.range ?? '');
  return m ? Number(m[1]) : undefined;
};

/** Ranged GETs that start inside an object, not at a part boundary: resumed downloads. */
function resumes(c: Case): RecordedRequest[] {
  return caseRequests(c).filter((r) => {
    const start = rangeStart(r);
    return r.method === 'GET' && start !== undefined && start % MiB !== 0;
  });
}

function summary(c: Case, r: RunResult): string {
  const reqs = caseRequests(c);
  const count = (f: string): number => reqs.filter((q) => q.fault === f).length;
  return (
    `exit ${r.code} in ${r.durationMs} ms; ${reqs.length} requests through the proxy ` +
    `(${reqs.filter((q) => q.method === 'GET' && q.range).length} ranged, ${resumes(c).length} resumed mid-object, ` +
    `${count('slowdown')} SlowDown, ${count('stall-body')} stalled bodies, ${count('stall-headers')} stalled headers)`
  );
}

async function assertRestored(c: Case, r: RunResult): Promise<void> {
  console.log(`# ${summary(c, r)}`);
  assertExit(r, 0);
  await assertNoLeftovers(c.dir);
  assertSameDatabase(c.target, backup.digest);
  assert.equal((await readMarker(c.markerPath)).outcome, 'restored');
}

async function assertFailedUntouched(c: Case, r: RunResult, code: number): Promise<void> {
  console.log(`# ${summary(c, r)}`);
  assertExit(r, code);
  await assertNoLeftovers(c.dir);
  assert.ok(c.before, 'failure cases start with an existing database');
  await assertFileBytes(c.target, c.before, `a failed restore (exit ${code}) must not touch the target`);
  await assert.rejects(readMarker(c.markerPath), 'no marker after a failed restore');
}

function tryMount(args: string[]): string | undefined {
  try {
    execFileSync('mount', args, { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return String((err as { stderr?: Buffer }).stderr ?? err).trim();
  }
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  }
}

// --- network and server faults ------------------------------------------------

test('no fault: a restore through both proxies is identical', { timeout: 180_000 }, async () => {
  const c = await newCase('baseline');
  await assertRestored(c, await restore(c));
});

test('every connection cut after 1.5 MiB (limit_data): resumed with Range requests, identical', { timeout: 180_000 }, async () => {
  const c = await newCase('limit-data');
  await proxy.addToxic({ name: 'cut', type: 'limit_data', stream: 'downstream', attributes: { bytes: 1.5 * MiB } });
  const r = await restore(c);
  await assertRestored(c, r);
  assert.ok(resumes(c).length > 0, `expected ranged GETs resuming mid-object\n${summary(c, r)}`);
});

test('connections reset (RST) mid-object for 1.5 s: resumed, identical', { timeout: 180_000 }, async () => {
  const c = await newCase('reset-peer');
  // Slow enough that several bodies are in flight when the resets start.
  await proxy.addToxic({ name: 'slow', type: 'bandwidth', stream: 'downstream', attributes: { rate: 1_000 } });
  const r = await restoreWithFault(c, {}, 2_000, async () => {
    await proxy.addToxic({ name: 'reset', type: 'reset_peer', stream: 'downstream', attributes: { timeout: 0 } });
    await sleep(1_500);
    await proxy.removeToxic('reset');
  });
  await assertRestored(c, r);
  assert.ok(resumes(c).length > 0, `expected ranged GETs resuming mid-object\n${summary(c, r)}`);
});

test('bodies stalled (Toxiproxy drops everything for 6 s) beyond the 2 s idle timeout: dropped, resumed, identical', { timeout: 180_000 }, async () => {
  const c = await newCase('stall-toxic');
  await proxy.addToxic({ name: 'slow', type: 'bandwidth', stream: 'downstream', attributes: { rate: 1_000 } });
  let stalledAt = 0;
  let endedAt = 0;
  const r = await restoreWithFault(c, { SQLITE_RESTORE_IDLE_TIMEOUT_SECONDS: '2' }, 2_000, async () => {
    // `timeout` with 0: nothing more reaches the client, the connections stay open.
    stalledAt = Date.now();
    await proxy.addToxic({ name: 'stall', type: 'timeout', stream: 'downstream', attributes: { timeout: 0 } });
    await sleep(6_000);
    // Ends the stall by closing every connection (removing the toxic would leave the
    // connections opened meanwhile waiting forever for response bytes it dropped).
    endedAt = Date.now();
    await proxy.recreate();
  });
  await assertRestored(c, r);
  // Requests still pass upstream during the stall: a resume that reached MinIO
  // before the stall ended proves the CLI gave up on a stalled body by itself.
  const early = resumes(c).filter((q) => q.at > stalledAt && q.at < endedAt);
  assert.ok(
    early.length > 0,
    `a stalled body must be dropped after the idle timeout and resumed before the stall ends (${endedAt - stalledAt} ms)\n${summary(c, r)}\n` +
      JSON.stringify(caseRequests(c).filter((q) => q.at > stalledAt).map((q) => ({ url: q.url.slice(-40), range: q.range, t: q.at - stalledAt }))),
  );
});

test('two bodies stop after 300 kB and hang (HTTP proxy): dropped after the 2 s idle timeout, resumed, identical', { timeout: 180_000 }, async () => {
  const c = await newCase('stall-body');
  const afterBytes = 300_000;
  http.setFaults({ stallBody: { count: 2, afterBytes, forMs: 120_000 } });
  const r = await restore(c, { SQLITE_RESTORE_IDLE_TIMEOUT_SECONDS: '2', SQLITE_RESTORE_TIMEOUT_SECONDS: '60' });
  await assertRestored(c, r);
  const reqs = caseRequests(c);
  const stalled = reqs.filter((q) => q.fault === 'stall-body');
  assert.equal(stalled.length, 2, summary(c, r));
  for (const s of stalled) {
    const from = (rangeStart(s) ?? 0) + afterBytes;
    const resumed = reqs.find((q) => q.url === s.url && q.method === 'GET' && rangeStart(q) === from);
    assert.ok(resumed, `${s.url} (${s.range ?? 'whole'}) stalled at +${afterBytes}: expected a GET resuming at byte ${from}\n${summary(c, r)}`);
    assert.ok(resumed.ifMatch, 'a resumed GET is pinned to the ETag with If-Match');
  }
  assert.ok(r.durationMs < 45_000, `the stalls must cost about the idle timeout, not the 120 s hang (${r.durationMs} ms)`);
});

test('the response to the snapshot GET never starts (no headers): retried, identical', { timeout: 180_000 }, async () => {
  const c = await newCase('stall-headers');
  http.setFaults({ stallHeaders: { count: 1, pathIncludes: '/snapshots/', forMs: 120_000 } });
  const r = await restore(c, { SQLITE_RESTORE_IDLE_TIMEOUT_SECONDS: '2', SQLITE_RESTORE_TIMEOUT_SECONDS: '25' });
  await assertRestored(c, r);
  assert.equal(caseRequests(c).filter((q) => q.fault === 'stall-headers').length, 1, summary(c, r));
});

test('bandwidth limited to 2 MB/s per connection: identical', { timeout: 180_000 }, async () => {
  const c = await newCase('bandwidth');
  await proxy.addToxic({ name: 'bw', type: 'bandwidth', stream: 'downstream', attributes: { rate: 2_000 } });
  await assertRestored(c, await restore(c));
});

test('150 ms ± 50 ms latency each way: identical', { timeout: 180_000 }, async () => {
  const c = await newCase('latency');
  await proxy.addToxic({ name: 'down', type: 'latency', stream: 'downstream', attributes: { latency: 150, jitter: 50 } });
  await proxy.addToxic({ name: 'up', type: 'latency', stream: 'upstream', attributes: { latency: 150, jitter: 50 } });
  await assertRestored(c, await restore(c));
});

test('transient 503 SlowDown (first 3 requests, then every 3rd object GET): identical', { timeout: 180_000 }, async () => {
  const c = await newCase('slowdown-transient');
  http.setFaults({ slowDownNext: 3, slowDownEveryNthGet: 3 });
  const r = await restore(c);
  await assertRestored(c, r);
  assert.ok(caseRequests(c).filter((q) => q.fault === 'slowdown').length >= 5, summary(c, r));
});

test('503 SlowDown to every request → 75 after the retry budget, target untouched', { timeout: 180_000 }, async () => {
  const c = await newCase('slowdown-always', { existing: true });
  http.setFaults({ slowDownAll: true });
  const r = await restore(c, { SQLITE_RESTORE_MAX_ATTEMPTS: '3' });
  await assertFailedUntouched(c, r, 75);
  assert.ok(caseRequests(c).length >= 3, `the CLI must retry before giving up\n${summary(c, r)}`);
});

test('endpoint down (proxy disabled) → 75, target untouched', { timeout: 180_000 }, async () => {
  const c = await newCase('endpoint-down', { existing: true });
  await proxy.setEnabled(false);
  await assertFailedUntouched(c, await restore(c), 75);
});

test('endpoint goes down mid-download → 75, target untouched', { timeout: 180_000 }, async () => {
  const c = await newCase('endpoint-down-mid', { existing: true });
  await proxy.addToxic({ name: 'slow', type: 'bandwidth', stream: 'downstream', attributes: { rate: 1_000 } });
  const r = await restoreWithFault(c, { SQLITE_RESTORE_MAX_ATTEMPTS: '3' }, 2_000, () => proxy.setEnabled(false));
  await assertFailedUntouched(c, r, 75);
  // Every request in flight fails and is retried: no listener or version warnings on stderr.
  assert.equal(r.stderr, '', summary(c, r));
});

// --- local I/O faults ---------------------------------------------------------

test('target volume full (2 MiB tmpfs) → 74, target untouched', { timeout: 180_000 }, async (t) => {
  const dir = path.join(work, 'cases', 'tmpfs-full');
  await mkdir(dir, { recursive: true });
  const failure = tryMount(['-t', 'tmpfs', '-o', 'size=2m,mode=0755', 'tmpfs', dir]);
  if (failure) {
    t.skip(`mount -t tmpfs is not permitted here (${failure})`);
    return;
  }
  mounts.push(dir);
  const c = await newCase('tmpfs-full', { existing: true, dir });
  // Debug logs carry the error's cause and stack, should the code be wrong.
  await assertFailedUntouched(c, await restore(c, { SQLITE_RESTORE_LOG_LEVEL: 'debug' }), 74);
});

test('read-only target volume (read-only bind mount) → 74, target untouched', { timeout: 180_000 }, async (t) => {
  const dir = path.join(work, 'cases', 'read-only');
  await mkdir(dir, { recursive: true });
  // The existing database is written first, then the directory is remounted read-only.
  const c = await newCase('read-only', { existing: true, dir });
  const failure = tryMount(['--bind', '-o', 'ro', dir, dir]);
  if (failure) {
    t.skip(`mount --bind -o ro is not permitted here (${failure})`);
    return;
  }
  mounts.push(dir);
  await assert.rejects(rm(path.join(dir, 'app.db')), /EROFS/, 'the bind mount must really be read-only');
  await assertFailedUntouched(c, await restore(c), 74);
});
