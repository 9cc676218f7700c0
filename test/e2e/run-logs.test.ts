// What an operator reads while a restore runs, at the process boundary: every
// line is one JSON object with a phase, phases only move forward, download
// lines give a rate and the time left, verification logs its start and end,
// no gap between lines is longer than the progress interval, and stderr stays
// empty (no Node or SDK warnings). A real Litestream backup, MinIO behind a
// bandwidth limit so the download takes a few seconds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { assertExit, assertJsonLogs, assertSameDatabase } from '../support/assertions.js';
import { makeBackup, type SourceBackup } from '../support/backup.js';
import { createBucket, s3Env, startMinio, type Minio } from '../support/minio.js';
import { makeTempDir, removeDir } from '../support/paths.js';
import { sleep } from '../support/process.js';
import { cliEnv, explain, runRestore } from '../support/run-cli.js';
import { startThrottle, type Throttle } from '../support/throttle.js';
import { fillRandom } from '../support/workload.js';

const PHASES = ['start', 'prepare', 'list', 'plan', 'download', 'apply', 'verify', 'publish', 'done'];
let minio: Minio;
let throttle: Throttle;
let work: string;
let backup: SourceBackup;

before(
  async () => {
    minio = await startMinio();
    work = await makeTempDir('e2e-run-logs');
    await createBucket(minio, 'backups');
    backup = await makeBackup({
      workDir: work,
      replicas: [{ type: 's3', s3: minio, bucket: 'backups', path: 'db' }],
      prefill: (db) => fillRandom(db, 8),
      workload: async (db) => {
        db.prepare("INSERT INTO kv (k, v) VALUES ('after-snapshot', 'yes')").run();
        await sleep(300);
      },
    });
    // About 4 s for the 8 MiB snapshot.
    throttle = await startThrottle(minio.endpoint, 2 * 1024 * 1024);
  },
  { timeout: 300_000 },
);

after(async () => {
  await throttle?.stop();
  await minio?.stop();
  if (work) await removeDir(work);
});

test('a restore logs a phase on every line, an ETA while downloading, verification start and end, never a silent interval', { timeout: 120_000 }, async () => {
  const dir = path.join(work, 'restore');
  await mkdir(dir);
  const dbPath = path.join(dir, 'app.db');
  const r = await runRestore(
    cliEnv({
      replicaUrl: 's3://backups/db',
      dbPath,
      terminationLog: path.join(dir, 'termination-log'),
      s3: { ...s3Env(minio), SQLITE_RESTORE_S3_ENDPOINT: throttle.endpoint },
      extra: { SQLITE_RESTORE_PROGRESS_SECONDS: '1', SQLITE_RESTORE_VERIFY: 'full' },
    }),
  );
  assertExit(r, 0);
  assertJsonLogs(r);
  assertSameDatabase(dbPath, backup.digest);
  assert.equal(r.stderr, '', 'no warnings on stderr');

  const order = r.logs.map((l) => PHASES.indexOf(String(l.phase)));
  assert.ok(order.every((i) => i >= 0), `a line without a known phase:\n${explain(r)}`);
  assert.deepEqual(order, [...order].sort((a, b) => a - b), 'phases only move forward');
  const seen = new Set(r.logs.map((l) => l.phase));
  for (const phase of ['list', 'plan', 'download', 'verify', 'publish', 'done']) assert.ok(seen.has(phase), `no line in phase ${phase}:\n${explain(r)}`);

  assert.match(String(r.logs[0]?.node), /^v\d+\./, 'the start line names the Node version');
  const downloading = r.logs.filter((l) => l.event === 'progress' && l.phase === 'download');
  assert.ok(downloading.length >= 2, explain(r));
  for (const line of downloading) {
    assert.equal(typeof line.etaSeconds, 'number');
    assert.match(String(line.msg), /^downloading: [\d.]+% of [\d.]+ MiB at [\d.]+ MiB\/s, about \d+ s left$/);
  }
  const verifyStart = r.logs.find((l) => l.event === 'verify-start');
  const verified = r.logs.find((l) => l.event === 'verified');
  assert.equal(verifyStart?.phase, 'verify');
  assert.match(String(verifyStart?.msg), /integrity_check/);
  assert.equal(verified?.phase, 'verify');
  assert.equal(typeof verified?.durationMs, 'number');
  assert.equal(r.logs.find((l) => l.event === 'published')?.phase, 'publish');

  const times = r.logs.map((l) => Date.parse(String(l.time)));
  const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
  assert.ok(Math.max(...gaps) <= 1_600, `a ${Math.max(...gaps)} ms silence with a 1 s progress interval:\n${explain(r)}`);
});
