// Builds (once) and caches a realistic Litestream v0.3.13 backup in MinIO:
//
//   1. a source database is prefilled to the target size with mixed content
//      (rows with text, partly compressible blobs, overflow blobs), with no
//      Litestream running, so the generation starts with one big snapshot;
//   2. the real Litestream replicates it to MinIO (short sync interval, small
//      min-checkpoint-page-count so WAL indexes roll over, no snapshot interval);
//   3. a workload of small update/insert/delete transactions spread across the
//      whole database runs until the replica holds at least the required number
//      of WAL segments and WAL indexes (checked by listing the bucket);
//   4. Litestream is stopped with SIGTERM (its final sync), the source's logical
//      digest is taken, and MinIO's data directory plus a meta.json (digest,
//      credentials, counts) are moved into <cache>/bench/<key>/.
//
// A later run finds <cache>/bench/<key>/meta.json and skips all of this.
import { randomBytes } from 'node:crypto';
import { access, mkdir, rename, rm, writeFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { logicalDigest, type DbDigest } from '../test/support/digest.js';
import { startReplication } from '../test/support/litestream.js';
import { createBucket, s3Client } from '../test/support/minio.js';
import { cacheRoot, repoRoot, tmpRoot } from '../test/support/paths.js';
import { sleep } from '../test/support/process.js';
import { S3Store as ReplicaReader, newestGeneration, readLayout, walIndexes } from '../test/support/replica.js';
import { openSource, type Db } from '../test/support/workload.js';
import { startMinioAt, type MinioCredentials } from './minio-dir.js';

/** Bumped whenever the way a backup is built changes, so old caches are not reused. */
const BUILD_FORMAT = 1;

export const benchCacheRoot = path.join(cacheRoot, 'bench');

export interface BackupParams {
  /** Size the source database is prefilled to, in MiB. */
  dbMiB: number;
  /** The replica must hold at least this many WAL segments ... */
  minSegments: number;
  /** ... spread over at least this many WAL indexes. */
  minIndexes: number;
  /** Litestream's min-checkpoint-page-count: a new WAL index past this many WAL pages. */
  checkpointPages: number;
  /** Litestream's monitor and replica sync interval (Go duration). */
  syncInterval: string;
}

export interface BackupMeta {
  format: number;
  key: string;
  params: BackupParams;
  credentials: MinioCredentials;
  bucket: string;
  /** Replica path inside the bucket. */
  prefix: string;
  /** Where the source database was: litestream.yml for `litestream restore` must name it. */
  sourceDbPath: string;
  digest: DbDigest;
  sourceBytes: number;
  replica: { generation: string; snapshots: number; snapshotBytes: number; walSegments: number; walIndexes: number; walBytes: number };
  workload: { transactions: number; rowsUpdated: number; rowsInserted: number; rowsDeleted: number };
  buildMs: { prefill: number; snapshot: number; workload: number; flush: number; digest: number; total: number };
  builtAt: string;
}

export interface CachedBackup {
  dir: string;
  dataDir: string;
  meta: BackupMeta;
  /** True when this run built it. */
  built: boolean;
}

export function backupKey(p: BackupParams): string {
  return `backup-db${p.dbMiB}m-seg${p.minSegments}-idx${p.minIndexes}-ckpt${p.checkpointPages}-sync${p.syncInterval}-v${BUILD_FORMAT}`;
}

const exists = (file: string): Promise<boolean> => access(file).then(
  () => true,
  () => false,
);

/** The cached backup for these parameters, building it first when missing. */
export async function ensureBackup(params: BackupParams, log: (msg: string) => void): Promise<CachedBackup> {
  const key = backupKey(params);
  const dir = path.join(benchCacheRoot, key);
  const metaFile = path.join(dir, 'meta.json');
  if (await exists(metaFile)) {
    const meta = JSON.parse(await readFile(metaFile, 'utf8')) as BackupMeta;
    if (meta.format === BUILD_FORMAT) return { dir, dataDir: path.join(dir, 'minio'), meta, built: false };
  }
  await rm(dir, { recursive: true, force: true });
  const partial = `${dir}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  const meta = await buildBackup(params, key, path.join(partial, 'minio'), log);
  await writeFile(path.join(partial, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
  await rename(partial, dir);
  return { dir, dataDir: path.join(dir, 'minio'), meta, built: true };
}

// ---------------------------------------------------------------------------
// Content generators: realistic, partly compressible, fast.

const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'ti', 'vo', 'ze', 'ba', 'do', 'fu', 'gi', 'ha', 'je', 'pe'];
const WORDS: string[] = [];
for (let i = 0; i < 400; i++) {
  let w = '';
  for (let n = 2 + (i % 3), x = i * 7919; n > 0; n--, x = Math.floor(x / 16) + 13) w += SYLLABLES[x % SYLLABLES.length];
  WORDS.push(w);
}
const rand = (n: number): number => Math.floor(Math.random() * n);
const word = (): string => WORDS[rand(WORDS.length)] as string;

function sentence(minChars: number, maxChars: number): string {
  const target = minChars + rand(maxChars - minChars + 1);
  let s = '';
  while (s.length < target) s += (s ? ' ' : '') + word();
  return s.slice(0, target);
}

/** Random bytes are expensive to make: slices of one pool (LZ4 cannot compress them: its window is 64 KiB). */
const POOL = randomBytes(16 << 20);

/** About half incompressible bytes, half a repeated pattern. */
function mixedBlob(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  const noisy = size >> 1;
  const off = rand(POOL.length - noisy);
  POOL.copy(b, 0, off, off + noisy);
  b.fill(`${word()}:${size};`, noisy);
  return b;
}

// ---------------------------------------------------------------------------

async function buildBackup(params: BackupParams, key: string, dataDir: string, log: (msg: string) => void): Promise<BackupMeta> {
  const t0 = Date.now();
  const work = path.join(tmpRoot, `bench-build-${key}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const dbPath = path.join(work, 'source.db');
  const credentials: MinioCredentials = { accessKey: 'benchadmin', secretKey: randomBytes(12).toString('hex'), region: 'us-east-1' };
  const bucket = 'bench';
  const prefix = `replicas/db${params.dbMiB}m`;

  log(`building backup ${key} (first run only; cached in ${benchCacheRoot})`);
  const minio = await startMinioAt(dataDir, credentials);
  const client = s3Client(minio);
  try {
    await createBucket(minio, bucket);

    const tPrefill = Date.now();
    const maxId = prefillTo(dbPath, params.dbMiB, log);
    const prefillMs = Date.now() - tPrefill;

    const db = openSource(dbPath);
    let workload: BackupMeta['workload'];
    let snapshotMs: number;
    let workloadMs: number;
    let flushMs: number;
    try {
      const repl = await startReplication({
        dbPath,
        replicas: [{ type: 's3', s3: minio, bucket, path: prefix }],
        interval: params.syncInterval,
        minCheckpointPageCount: params.checkpointPages,
      });
      const reader = new ReplicaReader(client, bucket, prefix);
      try {
        const tSnap = Date.now();
        await waitForSnapshot(reader, repl.process.exited, log);
        snapshotMs = Date.now() - tSnap;
        const tWork = Date.now();
        workload = await runUntilReplicated(db, maxId, reader, params, repl.process.exited, log);
        workloadMs = Date.now() - tWork;
        const tFlush = Date.now();
        await repl.stopAndFlush();
        flushMs = Date.now() - tFlush;
      } catch (err) {
        await repl.kill();
        throw err;
      }
    } finally {
      db.close();
    }

    const layout = await readLayout(new ReplicaReader(client, bucket, prefix));
    const gen = newestGeneration(layout);
    if (layout.generations.length !== 1) throw new Error(`expected one generation, found ${layout.generations.length}`);
    if (gen.snapshots.length !== 1) throw new Error(`expected one snapshot, found ${gen.snapshots.length}`);
    const replica = {
      generation: gen.id,
      snapshots: gen.snapshots.length,
      snapshotBytes: gen.snapshots.reduce((n, s) => n + s.size, 0),
      walSegments: gen.wal.length,
      walIndexes: walIndexes(gen).length,
      walBytes: gen.wal.reduce((n, s) => n + s.size, 0),
    };
    if (replica.walSegments < params.minSegments || replica.walIndexes < params.minIndexes) {
      throw new Error(`replica too small after the final sync: ${JSON.stringify(replica)}`);
    }

    const tDigest = Date.now();
    const digest = logicalDigest(dbPath);
    const digestMs = Date.now() - tDigest;
    const sourceBytes = fileSize(dbPath);
    log(
      `backup built: source ${mib(sourceBytes)}, snapshot ${mib(replica.snapshotBytes)} (lz4), ` +
        `${replica.walSegments} WAL segments in ${replica.walIndexes} indexes (${mib(replica.walBytes)} lz4), ` +
        `${Math.round((Date.now() - t0) / 1000)} s`,
    );
    return {
      format: BUILD_FORMAT,
      key,
      params,
      credentials,
      bucket,
      prefix,
      sourceDbPath: dbPath,
      digest,
      sourceBytes,
      replica,
      workload,
      buildMs: { prefill: prefillMs, snapshot: snapshotMs, workload: workloadMs, flush: flushMs, digest: digestMs, total: Date.now() - t0 },
      builtAt: new Date().toISOString(),
    };
  } finally {
    client.destroy();
    await minio.stop();
    await rm(work, { recursive: true, force: true });
  }
}

function fileSize(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return Number(db.pragma('page_count', { simple: true })) * Number(db.pragma('page_size', { simple: true }));
  } finally {
    db.close();
  }
}

const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;

/**
 * Fills the source to `targetMiB` without a journal (nothing replicates it yet;
 * much faster), then switches it back to WAL mode. Returns the highest item id.
 */
function prefillTo(dbPath: string, targetMiB: number, log: (msg: string) => void): number {
  openSource(dbPath).close(); // schema, WAL mode
  const db = new Database(dbPath);
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -262144');
    const pageSize = Number(db.pragma('page_size', { simple: true }));
    const target = targetMiB * 1048576;
    const insertItem = db.prepare('INSERT INTO items (name, qty, price, note, data) VALUES (?, ?, ?, ?, ?)');
    const insertBlob = db.prepare('INSERT INTO blobs (data) VALUES (?)');
    const upsertKv = db.prepare('INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v');
    const pageCount = db.prepare('PRAGMA page_count').pluck();
    let rows = 0;
    let nextReport = 0.1;
    const batch = db.transaction((n: number) => {
      for (let i = 0; i < n; i++) {
        rows++;
        insertItem.run(
          `${word()}-${word()}-${rows}`,
          rand(1000),
          rows % 11 === 0 ? null : Math.round(Math.random() * 1e6) / 100,
          sentence(30, 400),
          mixedBlob(400 + rand(2800)),
        );
        if (rows % 10 === 0) upsertKv.run(`user:${rows}`, JSON.stringify({ name: sentence(5, 30), visits: rand(500), tags: [word(), word()] }));
        if (rows % 100 === 0) insertBlob.run(mixedBlob(16_384 + rand(49_152)));
      }
    });
    while ((pageCount.get() as number) * pageSize < target) {
      batch(2_000);
      const done = ((pageCount.get() as number) * pageSize) / target;
      if (done >= nextReport) {
        log(`prefill: ${Math.round(Math.min(done, 1) * 100)}% (${rows} rows)`);
        nextReport += 0.1;
      }
    }
    db.pragma('journal_mode = WAL');
    return rows;
  } finally {
    db.close();
  }
}

async function replicaCounts(reader: ReplicaReader): Promise<{ snapshots: number; segments: number; indexes: number }> {
  const layout = await readLayout(reader);
  const gen = layout.generations.at(-1);
  if (!gen) return { snapshots: 0, segments: 0, indexes: 0 };
  return { snapshots: gen.snapshots.length, segments: gen.wal.length, indexes: walIndexes(gen).length };
}

function failIfExited(exited: Promise<unknown>): Promise<never> {
  return exited.then((status) => {
    throw new Error(`litestream exited while replicating: ${JSON.stringify(status)}`);
  });
}

async function waitForSnapshot(reader: ReplicaReader, exited: Promise<unknown>, log: (msg: string) => void): Promise<void> {
  const died = failIfExited(exited);
  died.catch(() => undefined);
  const deadline = Date.now() + 15 * 60_000;
  while (Date.now() < deadline) {
    const counts = await Promise.race([replicaCounts(reader), died]);
    if (counts.snapshots > 0) {
      log('litestream: initial snapshot uploaded');
      return;
    }
    await Promise.race([sleep(1_000), died]);
  }
  throw new Error('litestream did not upload a snapshot within 15 minutes');
}

/**
 * Small transactions spread over the whole database (random rows), a few per
 * Litestream sync interval, until the replica holds enough segments and indexes.
 */
async function runUntilReplicated(
  db: Db,
  maxId: number,
  reader: ReplicaReader,
  params: BackupParams,
  exited: Promise<unknown>,
  log: (msg: string) => void,
): Promise<BackupMeta['workload']> {
  const died = failIfExited(exited);
  died.catch(() => undefined);
  const update = db.prepare('UPDATE items SET qty = qty + 1, price = ?, note = ? WHERE id = ?');
  const insertItem = db.prepare('INSERT INTO items (name, qty, price, note, data) VALUES (?, ?, ?, ?, ?)');
  const upsertKv = db.prepare('INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v');
  const insertBlob = db.prepare('INSERT INTO blobs (data) VALUES (?)');
  const deleteItem = db.prepare('DELETE FROM items WHERE id = ?');
  const stats = { transactions: 0, rowsUpdated: 0, rowsInserted: 0, rowsDeleted: 0 };
  let highest = maxId;
  const txn = db.transaction(() => {
    stats.transactions++;
    for (let i = 0; i < 4; i++) {
      stats.rowsUpdated += update.run(Math.round(Math.random() * 1e6) / 100, sentence(20, 300), 1 + rand(highest)).changes;
    }
    insertItem.run(`${word()}-new-${stats.transactions}`, rand(1000), null, sentence(10, 120), mixedBlob(200 + rand(1800)));
    highest++;
    stats.rowsInserted++;
    upsertKv.run(`session:${rand(5000)}`, JSON.stringify({ at: Date.now(), n: stats.transactions }));
    if (stats.transactions % 50 === 0) insertBlob.run(mixedBlob(16_384 + rand(32_768)));
    if (stats.transactions % 25 === 0) stats.rowsDeleted += deleteItem.run(1 + rand(highest)).changes;
  });

  const started = Date.now();
  const deadline = started + 30 * 60_000;
  let lastCheck = 0;
  let lastLog = 0;
  for (;;) {
    txn();
    await Promise.race([sleep(20), died]);
    const now = Date.now();
    if (now - lastCheck >= 2_000) {
      lastCheck = now;
      const counts = await Promise.race([replicaCounts(reader), died]);
      if (now - lastLog >= 15_000) {
        lastLog = now;
        log(
          `workload: ${stats.transactions} transactions, replica has ${counts.segments}/${params.minSegments} segments, ` +
            `${counts.indexes}/${params.minIndexes} indexes (${Math.round((now - started) / 1000)} s)`,
        );
      }
      if (counts.segments >= params.minSegments && counts.indexes >= params.minIndexes) {
        log(`workload: done after ${stats.transactions} transactions: ${counts.segments} segments, ${counts.indexes} indexes`);
        return stats;
      }
      if (now > deadline) throw new Error(`workload: replica still short after 30 minutes: ${JSON.stringify(counts)}`);
    }
  }
}
