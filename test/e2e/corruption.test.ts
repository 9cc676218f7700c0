// A damaged backup is refused with exit code 65 and never touches the target:
// a missing WAL segment in the middle of the chain, bit rot in a segment object,
// a large segment decoded in a worker thread (flipped bytes, cut short), a segment whose LZ4 frame is
// valid but whose WAL frame checksum is broken, and
// a truncated snapshot. Each case works on its own copy of the replica.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { makeBackup } from '../support/backup.js';
import { lz4Decode, lz4EncodeStored } from '../support/lz4.js';
import { createBucket, s3Client, s3Env, startMinio, type Minio } from '../support/minio.js';
import { makeTempDir, removeDir } from '../support/paths.js';
import {
  S3Store,
  copyGeneration,
  describeGeneration,
  hex8,
  newestGeneration,
  readLayout,
  segmentsOf,
  walIndexes,
  type Generation,
  type WalSegment,
} from '../support/replica.js';
import { cliEnv, explain, readTerminationLog, runRestore, type RunResult } from '../support/run-cli.js';
import { prefill, writeSmallDb } from '../support/workload.js';
import { WORKER_DECODE_BYTES } from '../../src/sqlite/wal-fold.js';
import { assertExit, assertFileBytes, assertNoLeftovers } from '../support/assertions.js';

const bucket = 'backups';
let minio: Minio;
let client: S3Client;
let work: string;
let source: S3Store;
let gen: Generation;
let middle: WalSegment;
let largest: WalSegment;
let existingDb: Buffer;

before(
  async () => {
    minio = await startMinio();
    client = s3Client(minio);
    work = await makeTempDir('e2e-corruption');
    await createBucket(minio, bucket);
    await makeBackup({
      workDir: work,
      replicas: [{ type: 's3', s3: minio, bucket, path: 'original' }],
      prefill: (db) => prefill(db, 3_000, 2),
      // The big transaction's segment is decoded in a worker thread (over WORKER_DECODE_BYTES).
      workload: { rows: 8_000, bigTransactionMiB: 10, pauseMs: 300 },
    });
    source = new S3Store(client, bucket, 'original');
    gen = newestGeneration(await readLayout(source));
    console.log(`# ${describeGeneration(gen)}`);
    // A segment strictly inside one WAL index (neither its first nor its last).
    const candidates = walIndexes(gen)
      .map((i) => segmentsOf(gen, i))
      .filter((s) => s.length >= 3)
      .sort((a, b) => b.length - a.length);
    const segs = candidates[0];
    assert.ok(segs, 'the workload must produce a WAL index with at least 3 segments');
    middle = segs[Math.floor(segs.length / 2)]!;
    assert.ok(middle.index >= (gen.snapshots.at(-1)?.index ?? 0), 'the damaged segment is needed by the restore');
    console.log(`# damaging segment ${middle.key}`);
    largest = [...gen.wal].sort((a, b) => b.size - a.size)[0]!;
    assert.ok(largest.size > WORKER_DECODE_BYTES, `the largest segment (${largest.size} bytes) is decoded in a worker thread`);
    // What the target holds before every case: a valid, different database.
    const seed = path.join(work, 'existing.db');
    writeSmallDb(seed);
    existingDb = readFileSync(seed);
  },
  { timeout: 300_000 },
);

after(async () => {
  client?.destroy();
  await minio?.stop();
  if (work) await removeDir(work);
});

/** Copies the replica to `prefix`, lets `damage` tamper with it, restores over an existing database. */
async function restoreDamaged(
  name: string,
  damage: (store: S3Store) => Promise<void>,
): Promise<{ r: RunResult; message: string }> {
  const copy = new S3Store(client, bucket, `case-${name}`);
  await copyGeneration(source, copy, gen);
  await damage(copy);
  const dir = path.join(work, name);
  await mkdir(dir, { recursive: true });
  const target = path.join(dir, 'app.db');
  await writeFile(target, existingDb);
  const terminationLog = path.join(dir, 'termination-log');
  const r = await runRestore(
    cliEnv({
      replicaUrl: `s3://${bucket}/case-${name}`,
      dbPath: target,
      terminationLog,
      s3: s3Env(minio),
      extra: { SQLITE_RESTORE_IF_EXISTS: 'overwrite' },
    }),
  );
  assertExit(r, 65);
  await assertFileBytes(target, existingDb, 'the existing database must be left untouched');
  await assertNoLeftovers(dir);
  const message = await readTerminationLog(terminationLog);
  console.log(`# ${name}: ${message}`);
  return { r, message };
}

test('a missing WAL segment in the middle of an index → 65, naming the missing object', { timeout: 120_000 }, async () => {
  const { r, message } = await restoreDamaged('missing-segment', (s) => s.delete(middle.key));
  const name = `${hex8(middle.index)}_${hex8(middle.offset)}`;
  assert.ok(message.includes(name), `termination message should name ${name}: ${message}\n${explain(r)}`);
});

test('flipped bytes in a WAL segment object → 65', { timeout: 120_000 }, async () => {
  await restoreDamaged('bitrot-segment', async (s) => {
    const data = await s.get(middle.key);
    const at = Math.floor(data.length / 2);
    data[at] = data[at]! ^ 0xff;
    data[at + 1] = data[at + 1]! ^ 0x55;
    await s.put(middle.key, data);
  });
});

test('flipped bytes in a large WAL segment, decoded in a worker thread → 65', { timeout: 120_000 }, async () => {
  const { message } = await restoreDamaged('bitrot-large-segment', async (s) => {
    const data = await s.get(largest.key);
    const at = Math.floor(data.length / 2);
    data[at] = data[at]! ^ 0xff;
    await s.put(largest.key, data);
  });
  assert.ok(message.includes(path.basename(largest.key)), `the message names ${largest.key}: ${message}`);
});

test('a large WAL segment cut short, decoded in a worker thread → 65, naming it', { timeout: 120_000 }, async () => {
  const { message } = await restoreDamaged('truncated-large-segment', async (s) => {
    const data = await s.get(largest.key);
    await s.put(largest.key, data.subarray(0, data.length - 1000));
  });
  assert.match(message, /truncated LZ4 input/);
  assert.ok(message.includes(path.basename(largest.key)), `the message names ${largest.key}: ${message}`);
});

test('a WAL frame with a bad checksum inside a well-formed LZ4 object → 65', { timeout: 120_000 }, async () => {
  await restoreDamaged('wal-checksum', async (s) => {
    const wal = await lz4Decode(await s.get(middle.key));
    // The segment starts on a frame boundary: 24-byte frame header, then the page.
    const at = 24 + 100;
    assert.ok(wal.length > at);
    wal[at] = wal[at]! ^ 0x01;
    await s.put(middle.key, lz4EncodeStored(wal));
  });
});

test('a truncated snapshot → 65', { timeout: 120_000 }, async () => {
  const snapshot = gen.snapshots.at(-1);
  assert.ok(snapshot);
  await restoreDamaged('truncated-snapshot', async (s) => {
    const data = await s.get(snapshot.key);
    await s.put(snapshot.key, data.subarray(0, Math.floor(data.length / 2)));
  });
});
