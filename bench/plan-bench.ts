// Planning speed: a replica of many tiny WAL segment objects (the listing is
// what dominates), uploaded once to its own MinIO data directory and cached,
// then `litestreamV3.plan(store, signal)` timed with the product's S3Store.
import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { loadConfig } from '../src/config.js';
import { litestreamV3 } from '../src/layout/litestream-v3/index.js';
import { S3Store } from '../src/store/s3.js';
import { createBucket, s3Client, type S3Endpoint } from '../test/support/minio.js';
import { S3Store as ReplicaReader } from '../test/support/replica.js';
import { benchCacheRoot } from './build-backup.js';
import { startMinioAt, type DirMinio, type MinioCredentials } from './minio-dir.js';

const FIXTURE_FORMAT = 1;
const SEGMENTS_PER_INDEX = 100;

export interface PlanFixtureMeta {
  format: number;
  segments: number;
  indexes: number;
  credentials: MinioCredentials;
  bucket: string;
  prefix: string;
  generation: string;
  uploadMs: number;
}

export interface PlanFixture {
  dataDir: string;
  meta: PlanFixtureMeta;
  built: boolean;
}

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

export function planFixtureKeys(generation: string, segments: number): string[] {
  const keys = [`generations/${generation}/snapshots/${hex8(0)}.snapshot.lz4`];
  for (let i = 0; i < segments; i++) {
    const index = Math.floor(i / SEGMENTS_PER_INDEX);
    const k = i % SEGMENTS_PER_INDEX;
    // One WAL header (32 bytes) plus one 4 KiB frame (24 + 4096) per segment.
    const offset = k === 0 ? 0 : 32 + k * 4120;
    keys.push(`generations/${generation}/wal/${hex8(index)}_${hex8(offset)}.wal.lz4`);
  }
  return keys;
}

export async function ensurePlanFixture(segments: number, log: (msg: string) => void): Promise<PlanFixture> {
  const dir = path.join(benchCacheRoot, `plan-seg${segments}-v${FIXTURE_FORMAT}`);
  const metaFile = path.join(dir, 'meta.json');
  const cached = await access(metaFile).then(
    () => true,
    () => false,
  );
  if (cached) {
    const meta = JSON.parse(await readFile(metaFile, 'utf8')) as PlanFixtureMeta;
    return { dataDir: path.join(dir, 'minio'), meta, built: false };
  }
  await rm(dir, { recursive: true, force: true });
  const partial = `${dir}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  const credentials: MinioCredentials = { accessKey: 'benchadmin', secretKey: randomBytes(12).toString('hex'), region: 'us-east-1' };
  const meta: PlanFixtureMeta = {
    format: FIXTURE_FORMAT,
    segments,
    indexes: Math.ceil(segments / SEGMENTS_PER_INDEX),
    credentials,
    bucket: 'planbench',
    prefix: `plan/seg${segments}`,
    generation: randomBytes(8).toString('hex'),
    uploadMs: 0,
  };
  log(`uploading ${segments} tiny WAL segment objects for the planning benchmark (first run only)`);
  const minio = await startMinioAt(path.join(partial, 'minio'), credentials);
  const client = s3Client(minio);
  try {
    await createBucket(minio, meta.bucket);
    const started = Date.now();
    const keys = planFixtureKeys(meta.generation, segments);
    const body = Buffer.from('tiny-segment');
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < keys.length) {
        const key = keys[next++]!;
        await client.send(new PutObjectCommand({ Bucket: meta.bucket, Key: `${meta.prefix}/${key}`, Body: body }));
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    meta.uploadMs = Date.now() - started;
    const listed = (await new ReplicaReader(client, meta.bucket, meta.prefix).list()).length;
    if (listed !== keys.length) throw new Error(`planning fixture: listed ${listed} objects, uploaded ${keys.length}`);
    log(`uploaded ${keys.length} objects in ${(meta.uploadMs / 1000).toFixed(1)} s`);
  } finally {
    client.destroy();
    await minio.stop();
  }
  await writeFile(path.join(partial, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
  await rename(partial, dir);
  return { dataDir: path.join(dir, 'minio'), meta, built: true };
}

/**
 * The product's S3Store for a replica, configured exactly as the CLI would be
 * from these environment variables (src/config.ts loadConfig + src/cli.ts
 * createStore). Credentials reach the SDK's provider chain through process.env.
 */
export function productStore(s3: S3Endpoint, bucket: string, prefix: string, concurrency = 8): S3Store {
  const env: Record<string, string> = {
    SQLITE_RESTORE_REPLICA_URL: `s3://${bucket}/${prefix}`,
    SQLITE_RESTORE_DB_PATH: '/tmp/bench-plan-only.db',
    SQLITE_RESTORE_S3_ENDPOINT: s3.endpoint,
    SQLITE_RESTORE_S3_REGION: s3.region,
    SQLITE_RESTORE_CONCURRENCY: String(concurrency),
  };
  process.env.AWS_ACCESS_KEY_ID = s3.accessKey;
  process.env.AWS_SECRET_ACCESS_KEY = s3.secretKey;
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  const config = loadConfig(env);
  if (config.replica.kind !== 's3') throw new Error('expected an s3 replica');
  return new S3Store({ bucket: config.replica.bucket, prefix: config.replica.prefix, settings: config.s3, concurrency: config.concurrency });
}

export interface PlanTiming {
  runsMs: number[];
  medianMs: number;
  steps: number;
}

/** Times `runs` plans, each with a fresh store (new client and connections, as in the CLI). */
export async function timePlanning(minio: DirMinio, fixture: PlanFixture, runs: number): Promise<PlanTiming> {
  const runsMs: number[] = [];
  let steps = 0;
  for (let r = 0; r < runs; r++) {
    const store = productStore(minio, fixture.meta.bucket, fixture.meta.prefix);
    const started = performance.now();
    const plan = await litestreamV3.plan(store, AbortSignal.timeout(120_000));
    runsMs.push(performance.now() - started);
    steps = plan?.steps.length ?? 0;
    if (steps !== fixture.meta.segments + 1) throw new Error(`plan has ${steps} steps, expected ${fixture.meta.segments + 1}`);
  }
  const sorted = [...runsMs].sort((a, b) => a - b);
  return { runsMs, medianMs: sorted[Math.floor(sorted.length / 2)]!, steps };
}
