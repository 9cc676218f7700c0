// Runs the real Litestream v0.3.13 (`litestream replicate`) against a source
// database, to an S3 (MinIO) or file replica.
//
// Making "fully synced" deterministic: on SIGTERM/SIGINT `litestream replicate`
// closes each database, and DB.Close (db.go in v0.3.13) performs a final
// DB.Sync (copies the WAL into its shadow WAL) and then a final Replica.Sync per
// replica (uploads every remaining shadow WAL segment) before exiting 0. So
// after the writer has committed its last transaction, stopping Litestream
// gracefully and checking exit code 0 guarantees the replica covers the
// source's final state. `stopAndFlush` does exactly that.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { access, constants } from 'node:fs/promises';
import { litestreamBin } from './paths.js';
import { startProcess, sleep, type ManagedProcess } from './process.js';
import type { S3Endpoint } from './minio.js';

export type ReplicaTarget = (
  | { type: 's3'; s3: S3Endpoint; bucket: string; path: string }
  | { type: 'file'; dir: string }
) & {
  /** Go duration; when set Litestream takes a new snapshot this often (default: only the generation's first). */
  snapshotInterval?: string;
};

export interface LitestreamOptions {
  dbPath: string;
  replicas: ReplicaTarget[];
  /** Go duration for both the DB monitor and the replica sync interval. */
  interval?: string;
  /** Litestream checkpoints (and so starts a new WAL index) past this many WAL pages (default 1000). */
  minCheckpointPageCount?: number;
  maxCheckpointPageCount?: number;
}

function replicaConfig(r: ReplicaTarget, interval: string): Record<string, unknown> {
  // Retention far longer than any test, so nothing is deleted while a test runs.
  const common: Record<string, unknown> = {
    'sync-interval': interval,
    retention: '168h',
    'retention-check-interval': '168h',
  };
  if (r.snapshotInterval) common['snapshot-interval'] = r.snapshotInterval;
  if (r.type === 'file') return { type: 'file', path: r.dir, ...common };
  return { ...s3ReplicaFields(r), ...common };
}

/** An S3 replica's YAML fields, the same in Litestream 0.3 and 0.5. */
export function s3ReplicaFields(r: { bucket: string; path: string; s3: S3Endpoint }): Record<string, unknown> {
  return {
    type: 's3',
    bucket: r.bucket,
    path: r.path,
    endpoint: r.s3.endpoint,
    region: r.s3.region,
    'force-path-style': true,
    'access-key-id': r.s3.accessKey,
    'secret-access-key': r.s3.secretKey,
  };
}

/** Writes a litestream.yml (JSON is valid YAML) and returns its path. */
export async function writeLitestreamConfig(file: string, opts: LitestreamOptions): Promise<string> {
  const interval = opts.interval ?? '100ms';
  const db: Record<string, unknown> = {
    path: opts.dbPath,
    'monitor-interval': interval,
    replicas: opts.replicas.map((r) => replicaConfig(r, interval)),
  };
  if (opts.minCheckpointPageCount !== undefined) db['min-checkpoint-page-count'] = opts.minCheckpointPageCount;
  if (opts.maxCheckpointPageCount !== undefined) db['max-checkpoint-page-count'] = opts.maxCheckpointPageCount;
  const config = { logging: { level: 'info', stderr: true }, dbs: [db] };
  await writeFile(file, JSON.stringify(config, null, 2) + '\n');
  return file;
}

export interface Replication {
  process: ManagedProcess;
  configPath: string;
  /**
   * Waits `settleMs` (a few sync intervals), then stops Litestream with SIGTERM,
   * which makes it do a final sync of the DB and every replica; throws unless it
   * exits 0.
   */
  stopAndFlush(settleMs?: number): Promise<void>;
  /** Kills without caring about the replica (cleanup after a failure). */
  kill(): Promise<void>;
}

export async function startReplication(opts: LitestreamOptions & { configPath?: string }): Promise<Replication> {
  await access(litestreamBin, constants.X_OK).catch(() => {
    throw new Error(`${litestreamBin} is missing: run bash test/support/setup.sh`);
  });
  const configPath = await writeLitestreamConfig(
    opts.configPath ?? path.join(path.dirname(opts.dbPath), 'litestream.yml'),
    opts,
  );
  const proc = startProcess('litestream', litestreamBin, ['replicate', '-config', configPath, '-no-expand-env'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: path.dirname(opts.dbPath) },
  });
  // Fail fast on a bad config instead of timing out later.
  const early = await Promise.race([proc.exited, sleep(300).then(() => undefined)]);
  if (early) throw new Error(`litestream exited at start (${JSON.stringify(early)}):\n${proc.output()}`);
  return {
    process: proc,
    configPath,
    async stopAndFlush(settleMs = 1_000) {
      await sleep(settleMs);
      const status = await proc.stop('SIGTERM', 120_000);
      if (status.code !== 0 || !proc.output().includes('litestream shut down')) {
        throw new Error(`litestream did not shut down cleanly (${JSON.stringify(status)}):\n${proc.output()}`);
      }
      // Transient sync errors are retried by Litestream; show them, the restore comparison judges the result.
      const errors = proc.output().split('\n').filter((l) => l.includes('level=ERROR'));
      if (errors.length) console.log(`# litestream logged ${errors.length} error(s), first: ${errors[0]}`);
    },
    async kill() {
      await proc.stop('SIGKILL');
    },
  };
}
