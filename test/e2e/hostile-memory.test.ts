// Hostile and unusual backups against memory and the deadline (issue 9, items
// 1 and 2): each case is restored from a file replica and from MinIO, with
// the peak resident set measured by the bench's RSS probe, and must stay under
// MEMORY_BOUND_MIB whatever the input; decoders that could run for minutes on
// a few KiB of input must give way to SIGTERM and to the deadline.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createBucket, s3Client, s3Env, startMinio, type Minio } from '../support/minio.js';
import { makeTempDir, removeDir } from '../support/paths.js';
import { FileStore, S3Store, type ReplicaStore } from '../support/replica.js';
import { cliEnv, explain, readTerminationLog } from '../support/run-cli.js';
import { runMeasured } from '../support/rss.js';
import { assertExit, assertNoLeftovers, assertSameDatabase } from '../support/assertions.js';
import { craftWal, hugePageCountReplica, walReplica, zstdRleBomb } from '../support/hostile.js';
import { encodeLtx, patternPage, sqlitePage1 } from '../support/ltx.js';
import { crateSnapshotKey, crateWalKey, zstdBin } from '../support/zlayer.js';
import { logicalDigest, type DbDigest } from '../support/digest.js';
import Database from 'better-sqlite3';
import { sleep } from '../support/process.js';

/** The documented bound (README "Memory and time"): peak RSS of any restore, whatever the backup... */
const MEMORY_BOUND_MIB = 256;
/** ...plus, for zstd frames, the part of their declared window above 8 MiB (up to zstd's own 128 MiB limit). */
const ZSTD_WINDOW_ALLOWANCE_MIB = 128 - 8;

let minio: Minio;
let work: string;
const client = () => s3Client(minio);

before(
  async () => {
    minio = await startMinio();
    work = await makeTempDir('e2e-hostile-memory');
    await createBucket(minio, 'hostile');
  },
  { timeout: 120_000 },
);

after(async () => {
  await minio?.stop();
  if (work) await removeDir(work);
});

/** A file replica and a MinIO prefix for one case. */
function replicas(name: string): { stores: ReplicaStore[]; urls: Array<{ via: string; url: string; env: Record<string, string> }> } {
  const dir = path.join(work, name, 'replica');
  return {
    stores: [new FileStore(dir), new S3Store(client(), 'hostile', name)],
    urls: [
      { via: 'file replica', url: `file://${dir}`, env: {} },
      { via: 'MinIO', url: `s3://hostile/${name}`, env: s3Env(minio) },
    ],
  };
}

async function restoreMeasured(name: string, via: string, url: string, env: Record<string, string>, extra: Record<string, string> = {}) {
  const dir = path.join(work, name, `out-${via.replace(/\W+/g, '-')}`);
  await mkdir(dir, { recursive: true });
  const dbPath = path.join(dir, 'app.db');
  const terminationLog = path.join(dir, 'termination-log');
  const run = await runMeasured(
    [],
    cliEnv({ replicaUrl: url, dbPath, terminationLog, s3: env, extra: { SQLITE_RESTORE_MARKER_PATH: path.join(dir, 'marker.json'), ...extra } }),
    path.join(dir, 'rss.json'),
  );
  console.log(`# ${name} via ${via}: exit ${run.r.code} in ${run.r.durationMs} ms, peak RSS ${run.peakMiB.toFixed(1)} MiB`);
  return { ...run, dir, dbPath, terminationLog };
}

test('a WAL segment of 16,000 commits rewriting one 64 KiB page restores in bounded memory', { timeout: 600_000 }, async () => {
  const { stores, urls } = replicas('busy-segment');
  const fixture = await walReplica(
    path.join(work, 'busy-segment'),
    stores,
    (db) => db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 0);'),
    (db) => {
      const update = db.prepare('UPDATE t SET v = ? WHERE id = 1');
      for (let i = 1; i <= 16_000; i += 1) update.run(String(i));
    },
    65536,
  );
  console.log(`# ${fixture.walBytes} bytes of WAL in ${fixture.bytes} bytes of objects`);
  assert.ok(fixture.walBytes > 1_000_000_000 && fixture.bytes < 8_000_000, 'a busy 1 s sync interval: a GB of WAL in a few MB of LZ4');
  for (const { via, url, env } of urls) {
    const { r, peakMiB, dbPath, dir } = await restoreMeasured('busy-segment', via, url, env);
    assertExit(r, 0);
    assertSameDatabase(dbPath, fixture.digest!);
    await assertNoLeftovers(dir);
    assert.ok(peakMiB <= MEMORY_BOUND_MIB, `${via}: peak RSS ${peakMiB.toFixed(1)} MiB > ${MEMORY_BOUND_MIB} MiB`);
  }
});

test('one transaction touching a million distinct 512-byte pages restores in bounded memory', { timeout: 600_000 }, async () => {
  const { stores, urls } = replicas('million-pages');
  const fixture = await walReplica(
    path.join(work, 'million-pages'),
    stores,
    (db) => db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB);'),
    (db) => {
      // A row per leaf page: a blob close to the page size.
      const insert = db.prepare('INSERT INTO t (b) VALUES (zeroblob(400))');
      db.transaction(() => {
        for (let i = 0; i < 1_000_000; i += 1) insert.run();
      })();
    },
    512,
  );
  console.log(`# ${fixture.walBytes} bytes of WAL in ${fixture.bytes} bytes of objects`);
  assert.ok(fixture.walBytes > 1_000_000 * 512, 'at least a million page frames');
  for (const { via, url, env } of urls) {
    const { r, peakMiB, dbPath } = await restoreMeasured('million-pages', via, url, env);
    assertExit(r, 0);
    assertSameDatabase(dbPath, fixture.digest!);
    assert.ok(peakMiB <= MEMORY_BOUND_MIB, `${via}: peak RSS ${peakMiB.toFixed(1)} MiB > ${MEMORY_BOUND_MIB} MiB`);
  }
});

test('a commit claiming 4,294,967,294 pages is refused before SQLite or the disk sees it (v0.3)', { timeout: 120_000 }, async () => {
  const { stores, urls } = replicas('huge-count');
  await hugePageCountReplica(path.join(work, 'huge-count'), stores);
  for (const { via, url, env } of urls) {
    const { r, peakMiB, dir, terminationLog } = await restoreMeasured('huge-count', via, url, env);
    assertExit(r, 65);
    assert.match(await readTerminationLog(terminationLog), /^corrupt: .*4294967294 pages, but only \d+ of them were ever written/);
    await assertNoLeftovers(dir);
    assert.ok(peakMiB <= 160, `${via}: peak RSS ${peakMiB.toFixed(1)} MiB for a backup of a few KiB`);
  }
});

test('an LTX file claiming 4,294,967,294 pages is refused the same way (v0.5)', { timeout: 120_000 }, async () => {
  const PS = 4096;
  const root = path.join(work, 'huge-count-ltx', 'replica');
  const put = async (key: string, data: Buffer) => {
    await mkdir(path.dirname(path.join(root, key)), { recursive: true });
    await writeFile(path.join(root, key), data);
  };
  const pages = [{ pgno: 1, data: sqlitePage1(PS, 2) }, { pgno: 2, data: patternPage(PS, 2) }];
  await put('ltx/9/0000000000000001-0000000000000001.ltx', encodeLtx({ pageSize: PS, commit: 2, minTxid: 1n, maxTxid: 1n, pages, encoding: 'block' }));
  const grown = sqlitePage1(PS, 0xfffffffe);
  await put(
    'ltx/0/0000000000000002-0000000000000002.ltx',
    encodeLtx({ pageSize: PS, commit: 0xfffffffe, minTxid: 2n, maxTxid: 2n, pages: [{ pgno: 1, data: grown }], encoding: 'block' }),
  );
  const { r, peakMiB, dir, terminationLog } = await restoreMeasured('huge-count-ltx', 'file replica', `file://${root}`, {});
  assertExit(r, 65);
  assert.match(await readTerminationLog(terminationLog), /4294967294 pages, but only \d+ of them were ever written/);
  await assertNoLeftovers(dir);
  assert.ok(peakMiB <= 160, `peak RSS ${peakMiB.toFixed(1)} MiB`);
});

/** zstd with a 128 MiB window (--long=27), as the crate's compression levels 20-22 write. */
function zstdLongWindow(data: Uint8Array): Buffer {
  const r = spawnSync(zstdBin(), ['-q', '-c', '-1', '--long=27', '--no-check'], { input: data, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`zstd failed: ${r.stderr?.toString()}`);
  return r.stdout;
}

test('zlayer objects with 128 MiB zstd windows restore in bounded memory', { timeout: 300_000 }, async () => {
  const { stores, urls } = replicas('zstd-window');
  const base = path.join(work, 'zstd-window');
  await mkdir(base, { recursive: true });
  const source = path.join(base, 'source.db');
  const db = new Database(source);
  let snapshot: Buffer;
  let wal: Buffer;
  let digest: DbDigest;
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    const fill = (rows: number) =>
      db.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${rows}) INSERT INTO t (b) SELECT randomblob(2000) FROM n`);
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)');
    fill(25_000);
    db.pragma('wal_checkpoint(TRUNCATE)');
    snapshot = await readFile(source);
    fill(2_000);
    wal = await readFile(`${source}-wal`);
    digest = logicalDigest(source);
  } finally {
    db.close();
  }
  assert.ok(snapshot.length > 40 << 20, 'a snapshot larger than the default windows');
  const snapshotKey = crateSnapshotKey(new Date(Date.UTC(2026, 2, 1, 12)));
  for (const store of stores) await store.put(snapshotKey, zstdLongWindow(snapshot));
  // The WAL copy must be uploaded after the snapshot (S3 keeps whole seconds).
  await sleep(1_100);
  for (const store of stores) await store.put(crateWalKey(wal.length), zstdLongWindow(wal));
  for (const { via, url, env } of urls) {
    const { r, peakMiB, dbPath } = await restoreMeasured('zstd-window', via, url, env, { SQLITE_RESTORE_LAYOUT: 'zlayer' });
    assertExit(r, 0);
    assertSameDatabase(dbPath, digest);
    // Snapshot and WAL copy each declare a 128 MiB window: one window at a time.
    const bound = MEMORY_BOUND_MIB + ZSTD_WINDOW_ALLOWANCE_MIB;
    assert.ok(peakMiB <= bound, `${via}: peak RSS ${peakMiB.toFixed(1)} MiB > ${bound} MiB`);
  }
});

/** Runs until the deadline, then again with a SIGTERM after 2 s: exit 75 by the deadline + 1 s, exit 143 within 1 s. */
async function expectDeadlineAndSigterm(name: string, urls: ReturnType<typeof replicas>['urls']): Promise<void> {
  for (const { via, url, env } of urls) {
    const timedOut = await restoreMeasured(name, via, url, env, { SQLITE_RESTORE_TIMEOUT_SECONDS: '5', SQLITE_RESTORE_LAYOUT: 'zlayer' });
    assertExit(timedOut.r, 75);
    assert.ok(timedOut.r.durationMs < 6_500, `${via}: a 5 s deadline must end the run by about 6 s (took ${timedOut.r.durationMs} ms)\n${explain(timedOut.r)}`);
    await assertNoLeftovers(timedOut.dir);
    const dir = path.join(work, name, `sigterm-${via.replace(/\W+/g, '-')}`);
    await mkdir(dir, { recursive: true });
    let sentAt = 0;
    const { r } = await runMeasured(
      [],
      cliEnv({ replicaUrl: url, dbPath: path.join(dir, 'app.db'), terminationLog: path.join(dir, 'termination-log'), s3: env, extra: { SQLITE_RESTORE_LAYOUT: 'zlayer' } }),
      path.join(dir, 'rss.json'),
      {
        onSpawn: (child) => {
          void sleep(2_000).then(() => {
            sentAt = Date.now();
            child.kill('SIGTERM');
          });
        },
      },
    );
    const stopMs = Date.now() - sentAt;
    console.log(`# ${name} via ${via}: exited ${stopMs} ms after SIGTERM`);
    assertExit(r, 143);
    // 1 s is the promise; the slack is for this loaded 2-core VM's scheduling.
    assert.ok(stopMs < 1_500, `${via}: SIGTERM must act within a second (took ${stopMs} ms)`);
    await assertNoLeftovers(dir);
  }
}

test('a 16 KB zstd WAL copy of run-length blocks behind a 128 MiB window is rejected at once, not decoded for minutes', { timeout: 300_000 }, async () => {
  const { stores, urls } = replicas('zstd-bomb-wal');
  const base = path.join(work, 'zstd-bomb-wal');
  await mkdir(base, { recursive: true });
  const source = path.join(base, 'small.db');
  const db = new Database(source);
  db.exec("CREATE TABLE t (x); INSERT INTO t VALUES ('a');");
  const pageSize = Number(db.pragma('page_size', { simple: true }));
  db.close();
  for (const store of stores) await store.put(crateSnapshotKey(new Date(Date.UTC(2026, 2, 1, 12))), zstdLongWindow(await readFile(source)));
  await sleep(1_100); // uploaded after the snapshot, to the second
  // A valid WAL header, then 500 MiB of 'A': the reader stops at the first frame, the rest is never needed.
  const bomb = zstdRleBomb(4_000, craftWal(pageSize, []));
  assert.ok(bomb.length < 17_000);
  for (const store of stores) await store.put(crateWalKey(1000), bomb);
  for (const { via, url, env } of urls) {
    const { r, terminationLog } = await restoreMeasured('zstd-bomb-wal', via, url, env, { SQLITE_RESTORE_TIMEOUT_SECONDS: '20', SQLITE_RESTORE_LAYOUT: 'zlayer' });
    // It used to be decoded on the main thread for about 40 s, past the deadline and deaf to SIGTERM.
    assert.ok(r.durationMs < 10_000, `${via}: took ${r.durationMs} ms\n${explain(r)}`);
    assertExit(r, 0);
    assert.match(await readTerminationLog(terminationLog), /^restored: /);
    assert.ok(r.logs.some((l) => l.event === 'fallback' && /no committed transaction/.test(String(l.msg))), 'the WAL copy is rejected, the snapshot restored alone');
  }
});

test('the same object as a zlayer snapshot (decoded by the worker): the deadline and SIGTERM act too', { timeout: 300_000 }, async () => {
  const { stores, urls } = replicas('zstd-bomb');
  for (const store of stores) await store.put(crateSnapshotKey(new Date(Date.UTC(2026, 2, 1, 12))), zstdRleBomb(4_000));
  await expectDeadlineAndSigterm('zstd-bomb', urls);
});
