// SIGTERM in the middle of a large download (a snapshot, or a WAL segment
// decoded in a worker thread) or of SQLite's check in its child process: the
// CLI cleans up and exits with code 143 itself; no temp file or process
// remains and the existing database is untouched. The download goes through a
// bandwidth-limited proxy so it lasts long enough to be interrupted
// deterministically; the check's child is stopped (SIGSTOP) for the same reason.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { makeBackup, type SourceBackup } from '../support/backup.js';
import { createBucket, s3Client, s3Env, startMinio, type Minio } from '../support/minio.js';
import { makeTempDir, removeDir, restoringLeftovers } from '../support/paths.js';
import { describeGeneration, newestGeneration, readLayout, S3Store } from '../support/replica.js';
import { cliEnv, explain, readMarker, runRestore } from '../support/run-cli.js';
import { startThrottle, type Throttle } from '../support/throttle.js';
import { sleep } from '../support/process.js';
import { fillRandom, prefill, writeSmallDb } from '../support/workload.js';
import { WORKER_DECODE_BYTES } from '../../src/sqlite/wal-fold.js';
import { assertExit, assertFileBytes, assertNoLeftovers, assertSameDatabase } from '../support/assertions.js';

const snapshotMiB = 160;
const bytesPerSecond = 20 * 1024 * 1024; // ~8 s for the snapshot
let minio: Minio;
let throttle: Throttle;
let work: string;
let backup: SourceBackup;
/** Bytes of the big-transaction backup's other objects, and of its largest segment. */
let bigTx: { others: number; segment: number };

before(
  async () => {
    minio = await startMinio();
    work = await makeTempDir('e2e-sigterm');
    await createBucket(minio, 'backups');
    backup = await makeBackup({
      workDir: work,
      replicas: [{ type: 's3', s3: minio, bucket: 'backups', path: 'big' }],
      prefill: (db) => fillRandom(db, snapshotMiB),
      workload: async (db) => {
        db.prepare("INSERT INTO kv (k, v) VALUES ('after-snapshot', 'yes')").run();
        await sleep(300);
      },
    });
    const client = s3Client(minio);
    const gen = newestGeneration(await readLayout(new S3Store(client, 'backups', 'big')));
    client.destroy();
    console.log(`# ${describeGeneration(gen)}`);
    assert.ok((gen.snapshots.at(-1)?.size ?? 0) > snapshotMiB * 1024 * 1024, 'the snapshot is large and incompressible');
    // A small snapshot, then one 48 MiB transaction: its segment takes about 2.5 s through the throttle.
    const bigWork = path.join(work, 'bigtx');
    await mkdir(bigWork);
    await makeBackup({
      workDir: bigWork,
      replicas: [{ type: 's3', s3: minio, bucket: 'backups', path: 'bigtx' }],
      prefill: (db) => prefill(db, 500, 0),
      workload: { rows: 500, bigTransactionMiB: 48, pauseMs: 300 },
    });
    const bigClient = s3Client(minio);
    const bigGen = newestGeneration(await readLayout(new S3Store(bigClient, 'backups', 'bigtx')));
    bigClient.destroy();
    console.log(`# ${describeGeneration(bigGen)}`);
    const largest = [...bigGen.wal].sort((a, b) => b.size - a.size)[0];
    assert.ok(largest && largest.size > WORKER_DECODE_BYTES, `the largest segment (${largest?.size} bytes) is decoded in a worker thread`);
    const snapshotBytes = bigGen.snapshots.at(-1)?.size ?? 0;
    bigTx = { others: snapshotBytes + bigGen.wal.filter((w) => w !== largest).reduce((sum, w) => sum + w.size, 0), segment: largest.size };
    assert.ok(bigTx.others < (bigTx.segment * 2) / 3, `the big segment is most of the backup (${JSON.stringify(bigTx)})`);
    throttle = await startThrottle(minio.endpoint, bytesPerSecond);
  },
  { timeout: 300_000 },
);

after(async () => {
  await throttle?.stop();
  await minio?.stop();
  if (work) await removeDir(work);
});

interface Interruption {
  trigger?: string;
  sentAt?: number;
  /** Bytes the throttle had delivered since the restore started, when SIGTERM was sent. */
  delivered?: number;
}

type Trigger = (delivered: number) => Promise<string | undefined>;

/** While the restore runs, asks `trigger` every 5 ms; on its first answer, sends SIGTERM and notes when and why. */
function interruptWhen(child: ChildProcess, trigger: Trigger, state: Interruption): void {
  const start = throttle.delivered();
  void (async () => {
    while (child.exitCode === null && child.signalCode === null) {
      const delivered = throttle.delivered() - start;
      const why = await trigger(delivered);
      if (why) {
        Object.assign(state, { trigger: why, sentAt: Date.now(), delivered });
        child.kill('SIGTERM');
        return;
      }
      await sleep(5);
    }
  })();
}

/** Once a .restoring- file has existed for a second (or after a fallback delay). */
function afterTempFile(dir: string): Trigger {
  const spawnedAt = Date.now();
  let seenAt: number | undefined;
  return async () => {
    if (seenAt === undefined && (await restoringLeftovers(dir)).length > 0) seenAt = Date.now();
    const now = Date.now();
    if (seenAt !== undefined && now - seenAt >= 1_000) return `temp file seen ${now - spawnedAt} ms after start`;
    if (now - spawnedAt >= 4_000) return `fallback timer (temp file ${seenAt === undefined ? 'never seen' : 'seen'})`;
    return undefined;
  };
}

/** Restores `prefix` into a fresh `<work>/<name>/app.db` holding a small database, through the throttle, interrupted by `trigger`. */
async function interruptedRestore(name: string, prefix: string, trigger: (dir: string, child: ChildProcess) => Trigger) {
  const dir = path.join(work, name);
  await mkdir(dir);
  const dbPath = path.join(dir, 'app.db');
  writeSmallDb(dbPath);
  const before = await readFile(dbPath);
  const state: Interruption = {};
  const r = await runRestore(
    cliEnv({
      replicaUrl: `s3://backups/${prefix}`,
      dbPath,
      terminationLog: path.join(dir, 'termination-log'),
      s3: s3Env(minio, { endpoint: throttle.endpoint }),
      extra: { SQLITE_RESTORE_IF_EXISTS: 'overwrite' },
    }),
    { onSpawn: (child) => interruptWhen(child, trigger(dir, child), state) },
  );
  const stopMs = Date.now() - (state.sentAt ?? NaN);
  console.log(`# SIGTERM sent: ${state.trigger ?? 'never'}, ${state.delivered} bytes downloaded by then; exited ${stopMs} ms after SIGTERM`);
  assert.ok(state.sentAt, `the restore finished before it could be interrupted\n${explain(r)}`);
  return { r, dir, dbPath, before, delivered: state.delivered ?? 0, stopMs };
}

/** What an interrupted restore leaves: exit 143, no temporary file, the target as it was, no marker. */
async function assertInterrupted(run: Awaited<ReturnType<typeof interruptedRestore>>): Promise<void> {
  assertExit(run.r, 143);
  await assertNoLeftovers(run.dir);
  await assertFileBytes(run.dbPath, run.before, 'an interrupted restore must not touch the target');
  await assert.rejects(readMarker(`${run.dbPath}.restore.json`), 'no marker for an interrupted restore');
}

test('SIGTERM during a large download → exit code 143, no temp file, target untouched', { timeout: 180_000 }, async () => {
  const run = await interruptedRestore('interrupted', 'big', afterTempFile);
  assert.ok(run.delivered > 0 && run.delivered < snapshotMiB * 1024 * 1024, `SIGTERM must arrive mid-download (${run.delivered} bytes)`);
  assert.ok(run.stopMs < 15_000, `the CLI must stop promptly after SIGTERM (took ${run.stopMs} ms)`);
  await assertInterrupted(run);
});

test('a new run after the interrupted one restores normally', { timeout: 180_000 }, async () => {
  const dir = path.join(work, 'interrupted');
  await mkdir(dir, { recursive: true });
  const dbPath = path.join(dir, 'app.db');
  const r = await runRestore(
    cliEnv({
      replicaUrl: 's3://backups/big',
      dbPath,
      terminationLog: path.join(dir, 'termination-log'),
      s3: s3Env(minio),
      extra: { SQLITE_RESTORE_IF_EXISTS: 'overwrite' },
    }),
  );
  assertExit(r, 0);
  await assertNoLeftovers(dir);
  assertSameDatabase(dbPath, backup.digest);
  assert.equal((await readMarker(`${dbPath}.restore.json`)).outcome, 'restored');
});

test('SIGTERM while a large WAL segment is decoded in a worker thread → exit 143 within a second, target untouched', { timeout: 180_000 }, async () => {
  // Whatever the order of the downloads, this many bytes are at least a third
  // of the way into the big segment and short of its end (the others are under two thirds of it).
  const threshold = bigTx.others + Math.floor(bigTx.segment / 3);
  const run = await interruptedRestore('interrupted-segment', 'bigtx', () => async (delivered) =>
    delivered >= threshold ? `a third into the ${bigTx.segment}-byte segment (backup: ${bigTx.others + bigTx.segment} bytes)` : undefined,
  );
  assert.ok(run.stopMs < 1_500, `the CLI must stop within a second of SIGTERM, worker thread and all (took ${run.stopMs} ms)`);
  await assertInterrupted(run);
});

/** The pids of `parent`'s children whose command line names `script`. */
async function childrenRunning(parent: number, script: string): Promise<number[]> {
  const found: number[] = [];
  const tasks = await readdir(`/proc/${parent}/task`).catch(() => [] as string[]);
  for (const task of tasks) {
    const children = await readFile(`/proc/${parent}/task/${task}/children`, 'utf8').catch(() => '');
    for (const pid of children.split(' ').filter(Boolean).map(Number)) {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.includes(script)) found.push(pid);
    }
  }
  return found;
}

/** Whether `pid` is a process that has not ended (a zombie has ended). */
async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== '' && state !== 'Z';
}

test('SIGTERM while SQLite checks the restored file in its child process → exit 143 within a second, no child left', { timeout: 180_000 }, async () => {
  const stopped: number[] = [];
  try {
    // The 160 MiB file is checked in a child; stopped there, the check cannot
    // finish before SIGTERM, and only the CLI's kill can end it.
    const run = await interruptedRestore('interrupted-check', 'big', (_dir, child) => async () => {
      const [pid] = await childrenRunning(child.pid ?? -1, 'check-child');
      if (pid === undefined) return undefined;
      process.kill(pid, 'SIGSTOP');
      stopped.push(pid);
      return `the check's child (pid ${pid}) stopped`;
    });
    assert.ok(run.stopMs < 1_500, `the CLI must stop within a second of SIGTERM, check and all (took ${run.stopMs} ms)`);
    await assertInterrupted(run);
    await sleep(200);
    assert.deepEqual(
      (await Promise.all(stopped.map(async (pid) => ((await running(pid)) ? pid : undefined)))).filter(Boolean),
      [],
      "the check's child process must be killed with the restore",
    );
  } finally {
    for (const pid of stopped) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone, as it should be
      }
    }
  }
});
