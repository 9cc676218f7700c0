// A hostile or unlucky store, end to end through the CLI (issue 9, items 1,
// 7, 8, 10, 11):
// - a store that starts listening 5 s after the restore (MinIO started late,
//   on a port picked in advance): retried, logged, exit 0; one that never
//   comes: exit 75 after about the retry window, not the timeout; object
//   GETs answered 503 SlowDown for 15 s: retried, exit 0;
// - a fake S3 (node:http) whose listing never ends, repeats itself, sends a
//   body without end or impossible sizes: an error naming the prefix or the
//   key, with the peak RSS measured by bench/rss-probe.cjs;
// - real Litestream v0.3 file replicas with a generation directory, a
//   snapshot or a WAL segment replaced by a symlink or a FIFO: never exit 0
//   with an empty first boot, never a hang;
// - static keys beside IRSA variables: the credential source is logged and
//   the ambiguity warned about, without a secret.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cp, mkdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeSmallBackup, type SourceBackup } from '../support/backup.js';
import { startFakeS3, listingXml, type FakeS3, type GetHandler, type ListHandler } from '../support/fake-s3.js';
import { startHttpFaultProxy, type HttpFaultProxy } from '../support/http-faults.js';
import { createBucket, freePort, launchMinio, s3Client, s3Env, startMinio, type Minio, type MinioCredentials } from '../support/minio.js';
import { makeTempDir, removeDir, repoRoot } from '../support/paths.js';
import type { ManagedProcess } from '../support/process.js';
import { sleep } from '../support/process.js';
import { copyGeneration, FileStore as ReplicaFiles, newestGeneration, readLayout, S3Store as ReplicaS3, type Generation } from '../support/replica.js';
import { MAX_LISTED_OBJECTS } from '../../src/store/store.js';
import { explain, readTerminationLog, restoreInto, runCli, type RunResult } from '../support/run-cli.js';
import { assertExit, assertJsonLogs, assertNoLeftovers, assertSameDatabase } from '../support/assertions.js';

const bucket = 'backups';
const prefix = 'hostile/app';
const probePath = path.join(repoRoot, 'bench', 'rss-probe.cjs');
const MiB = 1 << 20;

let work: string;
let minio: Minio;
let backup: SourceBackup;
/** A second MinIO's data, holding the same backup; its server is started late by one test. */
let lateDir: string;
let lateCreds: MinioCredentials;
let late: ManagedProcess | undefined;
let fileReplica: string;
let fileGen: Generation;
let caseNo = 0;

before(
  async () => {
    work = await makeTempDir('e2e-hostile-store');
    minio = await startMinio();
    await createBucket(minio, bucket);
    fileReplica = path.join(work, 'file-replica');
    await mkdir(path.join(work, 'source'));
    // One Litestream run, two replicas: MinIO and a file replica.
    backup = await makeSmallBackup(path.join(work, 'source'), [
      { type: 's3', s3: minio, bucket, path: prefix },
      { type: 'file', dir: fileReplica },
    ]);
    // A second MinIO holds a copy; one test starts its server late.
    lateDir = path.join(work, 'late-minio');
    await mkdir(lateDir);
    lateCreds = { accessKey: 'lateadmin', secretKey: 'late-secret-0123456789', region: 'us-east-1' };
    const second = await launchMinio(lateDir, lateCreds, { check: 'live', timeoutMs: 30_000 });
    const from = s3Client(minio);
    const to = s3Client({ endpoint: second.endpoint, ...lateCreds });
    try {
      await createBucket({ endpoint: second.endpoint, ...lateCreds }, bucket);
      const source = new ReplicaS3(from, bucket, prefix);
      await copyGeneration(source, new ReplicaS3(to, bucket, prefix), newestGeneration(await readLayout(source)));
    } finally {
      from.destroy();
      to.destroy();
      await second.process.stop('SIGTERM', 5_000);
    }
    fileGen = newestGeneration(await readLayout(new ReplicaFiles(fileReplica)));
    assert.ok(fileGen.wal.length >= 2, 'the file replica has several WAL segments');
  },
  { timeout: 180_000 },
);

after(async () => {
  await late?.stop('SIGTERM', 5_000);
  await minio?.stop();
  if (work) await removeDir(work);
});

async function caseDir(name: string): Promise<string> {
  caseNo += 1;
  const dir = path.join(work, 'cases', `${caseNo}-${name}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

const logsOf = (r: RunResult, event: string) => r.logs.filter((l) => l.event === event);
const done = (r: RunResult) => logsOf(r, 'done')[0] ?? {};

// --- item 11: a real retry window -------------------------------------------

test('a store that starts listening 5 s after the restore began: retried (each retry logged), exit 0, identical', { timeout: 120_000 }, async () => {
  const dir = await caseDir('late-store');
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const run = restoreInto(dir, `s3://${bucket}/${prefix}`, {
    s3: s3Env({ endpoint, ...lateCreds }),
    extra: { SQLITE_RESTORE_RETRY_WINDOW_SECONDS: '60', SQLITE_RESTORE_TIMEOUT_SECONDS: '110' },
  });
  await sleep(5_000);
  late = (await launchMinio(lateDir, lateCreds, { check: 'live', timeoutMs: 30_000 }, port)).process;
  const { r, target } = await run;
  assertExit(r, 0);
  assertJsonLogs(r);
  assertSameDatabase(target, backup.digest);
  const retries = logsOf(r, 'retry');
  assert.ok(retries.length >= 3, `several retries were logged\n${explain(r)}`);
  for (const line of retries) {
    assert.equal(line.level, 'warn');
    assert.match(String(line.msg), /^listing s3:\/\/backups\/hostile\/app\/\S+ failed \(.*ECONNREFUSED\), attempt \d+: retrying in \d+\.\d s, \d+\.\d s left in the retry window$/);
    assert.equal(typeof line.windowLeftMs, 'number');
  }
  // One listing probes a store that is not up yet: the others wait for it, so the log is not flooded.
  assert.equal(new Set(retries.map((l) => l.what)).size, 1, `one listing retried\n${explain(r)}`);
});

test('a store that never comes: exit 75 after about the retry window (5 s here), not the timeout', { timeout: 120_000 }, async () => {
  const dir = await caseDir('never');
  const endpoint = `http://127.0.0.1:${await freePort()}`;
  const started = Date.now();
  const { r, terminationLog } = await restoreInto(dir, `s3://${bucket}/${prefix}`, {
    s3: s3Env({ endpoint, ...lateCreds }),
    extra: { SQLITE_RESTORE_RETRY_WINDOW_SECONDS: '5', SQLITE_RESTORE_TIMEOUT_SECONDS: '100' },
  });
  const elapsed = Date.now() - started;
  assertExit(r, 75);
  // At least the window; at most the window plus the CLI's start and a loaded VM's slack, far below the timeout.
  assert.ok(elapsed >= 5_000 && elapsed < 20_000, `gave up after ${elapsed} ms\n${explain(r)}`);
  const message = await readTerminationLog(terminationLog);
  assert.match(message, /^temporary: listing s3:\/\/backups\/hostile\/app\/generations\/: storage unavailable after \d+ attempts in 5\.\d s \(SQLITE_RESTORE_RETRY_WINDOW_SECONDS\).*ECONNREFUSED/);
  assert.match(message, /nothing listens at the endpoint/);
  assert.ok(logsOf(r, 'retry').length >= 4, explain(r));
  assert.equal(r.stderr, '', 'no Node or SDK warnings (MaxListenersExceededWarning, the SDK\'s Node-version notice)');
  await assertNoLeftovers(dir);
});

test('object GETs answered 503 SlowDown for 15 s mid-restore: retried within the window, exit 0, identical', { timeout: 120_000 }, async () => {
  const dir = await caseDir('slowdown-gets');
  const http: HttpFaultProxy = await startHttpFaultProxy(minio.endpoint);
  try {
    // Every object GET (listings pass): longer than the old budget of 6 attempts (at most 12.4 s of backoff).
    http.setFaults({ slowDownEveryNthGet: 1 });
    const clear = sleep(15_000).then(() => http.setFaults({}));
    const { r, target } = await restoreInto(dir, `s3://${bucket}/${prefix}`, { s3: s3Env(minio, { endpoint: http.endpoint }) });
    await clear;
    assertExit(r, 0);
    assertSameDatabase(target, backup.digest);
    const retries = logsOf(r, 'retry');
    assert.ok(retries.some((l) => /^downloading generations\/\S+ failed \(SlowDown, HTTP 503\), attempt \d+/.test(String(l.msg))), explain(r));
    assert.ok(Math.max(...retries.map((l) => Number(l.attempt))) >= 6, `a GET was retried past the old 6 attempts\n${explain(r)}`);
    assert.ok(http.requests.filter((q) => q.fault === 'slowdown').length >= 10);
  } finally {
    await http.stop();
  }
});

// --- item 1 (listing) and item 8 (sizes): a hostile listing ------------------

const GEN = '0123456789abcdef';
const walKey = (i: number) => `${prefix}/generations/${GEN}/wal/00000000_${i.toString(16).padStart(8, '0')}.wal.lz4`;

/** Runs a restore against a fake S3 with the RSS probe preloaded; returns the run, its termination message and its peak RSS in MiB. */
async function restoreFromFake(name: string, onList: ListHandler, extra: Record<string, string> = {}, onGet?: GetHandler) {
  const fake: FakeS3 = await startFakeS3(onList, onGet);
  const dir = await caseDir(name);
  const rssFile = path.join(dir, 'rss.json');
  try {
    const { r, terminationLog } = await restoreInto(dir, `s3://${bucket}/${prefix}`, {
      s3: { SQLITE_RESTORE_S3_ENDPOINT: fake.endpoint, SQLITE_RESTORE_S3_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'fake', AWS_SECRET_ACCESS_KEY: 'fake-secret' },
      extra: { NODE_OPTIONS: `--require ${probePath} --max-semi-space-size=1`, BENCH_RSS_FILE: rssFile, SQLITE_RESTORE_RETRY_WINDOW_SECONDS: '2', ...extra },
    });
    const probe = JSON.parse(await readFile(rssFile, 'utf8')) as { vmHWMKiB: number };
    return { r, message: await readTerminationLog(terminationLog), rssMiB: probe.vmHWMKiB / 1024, fake };
  } finally {
    await fake.stop();
  }
}

/** Only the v0.3 prefix holds anything; the other layouts' probes find nothing. */
const onlyGenerations =
  (pages: (token: string | undefined, req: { prefix: string }) => { keys: Array<{ key: string; size: number | string }>; next?: string }): ListHandler =>
  (req) => {
    if (req.prefix !== `${prefix}/generations/`) return listingXml({ bucket, prefix: req.prefix, keys: [], truncated: false });
    const page = pages(req.token, req);
    return listingXml({ bucket, prefix: req.prefix, keys: page.keys, truncated: page.next !== undefined, nextToken: page.next, token: req.token });
  };

test('a listing that is always truncated with a fresh token and new keys: exit 65 at the object cap, peak RSS under 256 MiB', { timeout: 180_000 }, async () => {
  const { r, message, rssMiB, fake } = await restoreFromFake(
    'endless-listing',
    onlyGenerations((token) => {
      const page = token === undefined ? 0 : Number(token.slice(1));
      return { keys: Array.from({ length: 1000 }, (_, i) => ({ key: walKey(page * 1000 + i), size: 100 })), next: `p${page + 1}` };
    }),
  );
  console.log(`# endless listing: ${fake.listings.length} listing requests, peak RSS ${rssMiB.toFixed(1)} MiB, ${r.durationMs} ms`);
  assertExit(r, 65);
  assert.match(message, /^corrupt: the replica at s3:\/\/backups\/hostile\/app at http:\/\/127\.0\.0\.1:\d+ holds more than 120,000 objects under generations\//);
  assert.ok(fake.listings.length <= 140, `${fake.listings.length} listing requests`);
  assert.ok(rssMiB < 256, `peak RSS ${rssMiB.toFixed(1)} MiB`);
});

test('a replica of exactly the object cap (one snapshot, 119,999 WAL segments) plans within 256 MiB peak RSS', { timeout: 180_000 }, async () => {
  const snapshot = `${prefix}/generations/${GEN}/snapshots/00000000.snapshot.lz4`;
  const total = MAX_LISTED_OBJECTS;
  const { r, rssMiB } = await restoreFromFake(
    'at-cap',
    onlyGenerations((token) => {
      const page = token === undefined ? 0 : Number(token.slice(1));
      const keys = Array.from({ length: 1000 }, (_, i) => page * 1000 + i)
        .filter((n) => n < total)
        .map((n) => (n === 0 ? { key: snapshot, size: 100 } : { key: walKey(n - 1), size: 100 }));
      return { keys, next: (page + 1) * 1000 < total ? `p${page + 1}` : undefined };
    }),
  );
  console.log(`# ${total} objects: peak RSS ${rssMiB.toFixed(1)} MiB, ${r.durationMs} ms`);
  // The plan is made; its first GET finds no object (a fake store): 75.
  assertExit(r, 75);
  const plan = logsOf(r, 'plan')[0];
  assert.equal(plan?.objects, total, explain(r));
  assert.ok(rssMiB < 256, `peak RSS ${rssMiB.toFixed(1)} MiB`);
});

test('a listing that repeats its page with a fresh token: exit 75 at the second page, naming the prefix', { timeout: 60_000 }, async () => {
  let pages = 0;
  const { r, message } = await restoreFromFake(
    'repeating',
    onlyGenerations(() => {
      pages += 1;
      return { keys: [{ key: walKey(0), size: 100 }, { key: walKey(1), size: 100 }], next: `t${pages}` };
    }),
  );
  assertExit(r, 75);
  assert.match(message, /^temporary: listing s3:\/\/backups\/hostile\/app\/generations\/: the store sent a page that does not go past the keys already listed/);
  assert.ok(pages <= 3, `${pages} pages`);
});

test('a listing page whose body never ends: exit 75 after 16 MiB, memory bounded', { timeout: 60_000 }, async () => {
  let sent = 0;
  const { r, message, rssMiB } = await restoreFromFake('endless-body', (req, res) => {
    if (req.prefix !== `${prefix}/generations/`) return listingXml({ bucket, prefix: req.prefix, keys: [], truncated: false });
    res.writeHead(200, { 'content-type': 'application/xml' });
    res.write('<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>backups</Name>');
    const chunk = Buffer.alloc(MiB, ' ');
    const pump = () => {
      while (!res.destroyed && sent < 1024 * MiB) {
        sent += MiB;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      if (!res.destroyed) res.end();
    };
    pump();
    return undefined;
  });
  console.log(`# endless body: ${(sent / MiB).toFixed(0)} MiB sent before the client hung up, peak RSS ${rssMiB.toFixed(1)} MiB`);
  assertExit(r, 75);
  assert.match(message, /listing s3:\/\/backups\/hostile\/app\/generations\/: the store sent a page of more than 16 MiB/);
  // The client read past the 16 MiB limit, then hung up: far from the 1 GiB offered.
  assert.ok(sent > 16 * MiB && sent < 200 * MiB, `${sent} bytes sent`);
  assert.ok(rssMiB < 256, `peak RSS ${rssMiB.toFixed(1)} MiB`);
});

for (const size of ['-5', '1e300', '1.5', '9007199254740993', '99999999999999999999']) {
  test(`a listed object size of ${size}: exit 65 naming the key`, { timeout: 60_000 }, async () => {
    const snapshot = `generations/${GEN}/snapshots/00000000.snapshot.lz4`;
    const { r, message } = await restoreFromFake(
      `size-${size}`,
      onlyGenerations(() => ({ keys: [{ key: `${prefix}/${snapshot}`, size }] })),
    );
    assertExit(r, 65);
    assert.ok(message.startsWith(`corrupt: ${snapshot}: the store lists its size as`), message);
  });
}

test('an object GET answered 503 with an error body that never ends: each body dropped after 64 KiB, retried, exit 75 after the window', { timeout: 90_000 }, async () => {
  const snapshot = `generations/${GEN}/snapshots/00000000.snapshot.lz4`;
  let sent = 0;
  let gets = 0;
  const { r, message } = await restoreFromFake(
    'endless-error-body',
    onlyGenerations(() => ({ keys: [{ key: `${prefix}/${snapshot}`, size: 100 }] })),
    { SQLITE_RESTORE_RETRY_WINDOW_SECONDS: '3', SQLITE_RESTORE_TIMEOUT_SECONDS: '60' },
    (_key, res) => {
      gets += 1;
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.write('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>');
      const chunk = Buffer.alloc(64 << 10, 'x');
      const pump = () => {
        while (!res.destroyed && sent < 512 * MiB) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      pump();
      return true;
    },
  );
  assertExit(r, 75);
  assert.match(message, /^temporary: downloading generations\/\S+: storage unavailable after \d+ attempts in 3\.\d s/);
  assert.ok(gets >= 3, `${gets} GETs`);
  assert.ok(r.durationMs < 30_000, `took ${r.durationMs} ms (the timeout is 60 s)`);
  assert.ok(sent < 64 * MiB, `${sent} bytes of error bodies sent`);
});

// --- item 7: irregular entries in a real Litestream file replica -------------

/**
 * A copy of the file replica with one entry replaced by a symlink to the
 * original (moved aside: the link points at valid data) or by a FIFO,
 * restored with SQLITE_RESTORE_IF_NO_BACKUP=allow, the most dangerous setting.
 */
async function tamperedRestore(name: string, key: string, kind: 'symlink' | 'FIFO') {
  const dir = await caseDir(name);
  const replica = path.join(dir, 'replica');
  await cp(fileReplica, replica, { recursive: true });
  const file = path.join(replica, key);
  const kept = path.join(dir, 'kept');
  await cp(file, kept, { recursive: true });
  await rm(file, { recursive: true });
  if (kind === 'symlink') await symlink(kept, file);
  else execFileSync('mkfifo', [file]);
  const started = Date.now();
  const result = await restoreInto(path.join(dir, 'out'), `file://${replica}`, {
    extra: { SQLITE_RESTORE_IF_NO_BACKUP: 'allow', SQLITE_RESTORE_TIMEOUT_SECONDS: '60' },
  });
  return { ...result, elapsed: Date.now() - started, message: await readTerminationLog(result.terminationLog) };
}

const places = () =>
  [
    ['generation directory', `generations/${fileGen.id}`],
    ['snapshot', fileGen.snapshots.at(-1)?.key as string],
    ['last WAL segment', fileGen.wal.at(-1)?.key as string],
    ['middle WAL segment', fileGen.wal[Math.floor(fileGen.wal.length / 2)]?.key as string],
  ] as const;

for (const what of ['generation directory', 'snapshot', 'last WAL segment', 'middle WAL segment'] as const) {
  for (const kind of ['symlink', 'FIFO'] as const) {
    test(`file replica: the ${what} replaced by a ${kind}: exit 65 naming it, never a first boot, no hang`, { timeout: 90_000 }, async () => {
      const key = (places().find(([w]) => w === what) as readonly [string, string])[1];
      const t = await tamperedRestore(`${what}-${kind}`.replace(/\W+/g, '-'), key, kind);
      assertExit(t.r, 65);
      // A FIFO is never opened: no wait for a writer (generous bound for a loaded VM).
      assert.ok(t.elapsed < 30_000, `took ${t.elapsed} ms`);
      assert.ok(t.message.includes(`${key} (a ${kind === 'symlink' ? 'symbolic link' : 'FIFO'})`), t.message);
      assert.match(t.message, /links are never followed/);
      assert.notEqual(done(t.r).outcome, 'first-boot');
      await assert.rejects(stat(t.target), { code: 'ENOENT' }, 'no database was published');
    });
  }
}

test('file replica: list shows the irregular entry as a note and exits 0', { timeout: 60_000 }, async () => {
  const dir = await caseDir('list-notes');
  const replica = path.join(dir, 'replica');
  await cp(fileReplica, replica, { recursive: true });
  const key = fileGen.wal.at(-1)?.key as string;
  await rm(path.join(replica, key));
  execFileSync('mkfifo', [path.join(replica, key)]);
  const r = await runCli(['list', '--json'], { SQLITE_RESTORE_REPLICA_URL: `file://${replica}`, SQLITE_RESTORE_TERMINATION_LOG: path.join(dir, 'tl') }, { timeoutMs: 60_000 });
  assertExit(r, 0);
  const doc = JSON.parse(r.stdout) as { layouts: Array<{ notes: string[]; irregularEntries: unknown[] }> };
  assert.ok(doc.layouts[0]?.notes.some((n) => n.includes(`${key} (a FIFO) stands where litestream-v0.3 objects belong: a restore refuses this replica`)), r.stdout);
  assert.deepEqual(doc.layouts[0]?.irregularEntries, [{ key, type: 'FIFO', refused: true }]);
});

test('file replica: only foreign files under generations/ are refused (65, naming them), never a first boot', { timeout: 60_000 }, async () => {
  const dir = await caseDir('foreign-only');
  const replica = path.join(dir, 'replica');
  await mkdir(path.join(replica, 'generations', fileGen.id, 'snapshots'), { recursive: true });
  await writeFile(path.join(replica, 'generations', fileGen.id, 'snapshots', '00000000.snapshot.lz4.tmp'), 'partial');
  const { r, terminationLog } = await restoreInto(path.join(dir, 'out'), `file://${replica}`, { extra: { SQLITE_RESTORE_IF_NO_BACKUP: 'allow' } });
  assertExit(r, 65);
  assert.match(await readTerminationLog(terminationLog), /no litestream-v0\.3 backup: generations\/\w+\/snapshots\/00000000\.snapshot\.lz4\.tmp \(not named like a litestream-v0\.3 object\)/);
});

// --- item 10: which credentials ----------------------------------------------

test('static keys beside IRSA variables: the source used is logged and the ambiguity warned about, no secret anywhere', { timeout: 60_000 }, async () => {
  const dir = await caseDir('credentials');
  const tokenFile = path.join(dir, 'web-identity-token');
  const token = 'eyJhbGciOiJSUzI1NiJ9.web-identity-token-content';
  await writeFile(tokenFile, token);
  const { r, terminationLog } = await restoreInto(dir, `s3://${bucket}/${prefix}`, {
    s3: s3Env(minio),
    extra: { AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/app', AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile },
  });
  assertExit(r, 0);
  const warning = logsOf(r, 'credentials-ambiguous')[0];
  assert.ok(warning, explain(r));
  assert.equal(warning.level, 'warn');
  assert.deepEqual(warning.configured, ['environment', 'web-identity']);
  assert.match(String(warning.msg), /here static keys from the environment/);
  const used = logsOf(r, 'credentials');
  assert.equal(used.length, 1, 'said once');
  assert.equal(used[0]?.source, 'environment');
  assert.equal(used[0]?.how, 'reported by the SDK');
  const everything = r.stdout + r.stderr + (await readTerminationLog(terminationLog)) + (await readFile(path.join(dir, 'marker.json'), 'utf8'));
  for (const secret of [minio.secretKey, token]) assert.ok(!everything.includes(secret), 'a secret was written');
});

test('AWS_PROFILE beside static keys: the SDK takes the profile, and the log says so', { timeout: 60_000 }, async () => {
  const dir = await caseDir('profile');
  const home = path.join(dir, 'home');
  await mkdir(path.join(home, '.aws'), { recursive: true });
  await writeFile(path.join(home, '.aws', 'credentials'), `[restore]\naws_access_key_id = ${minio.accessKey}\naws_secret_access_key = ${minio.secretKey}\n`);
  const { r } = await restoreInto(dir, `s3://${bucket}/${prefix}`, {
    // The static keys are wrong: only the profile's work.
    s3: s3Env(minio, { secretKey: 'wrong-secret' }),
    extra: { HOME: home, AWS_PROFILE: 'restore' },
  });
  assertExit(r, 0);
  assert.deepEqual(logsOf(r, 'credentials-ambiguous')[0]?.configured, ['profile', 'environment']);
  assert.equal(logsOf(r, 'credentials')[0]?.source, 'profile');
  assert.match(String(logsOf(r, 'credentials')[0]?.msg), /static keys in a profile of the shared config files/);
});
