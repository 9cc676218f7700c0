// Runs a real Litestream v0.5 release (`litestream replicate`, LTX layout)
// against a source database, to an S3 (MinIO) or file replica; the v0.3
// helper is litestream.ts. setup.sh builds each release as
// <cache>/bin/litestream-<version> (test/support/paths.ts).
//
// The v0.5 configuration differs from v0.3: one `replica:` per database
// (`replicas:` is deprecated), compaction `levels:` (intervals of levels 1..n;
// level 0 is every sync, level 9 the snapshots) and a top-level `snapshot:`.
// On SIGTERM `litestream replicate` syncs the database and its replica one last
// time before logging "litestream shut down" and exiting 0, so stopping it
// that way after the last write makes the replica cover the source's final state.
import { access, constants, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { S3Endpoint } from './minio.js';
import { binDir } from './paths.js';
import { sleep, startProcess } from './process.js';
import { s3ReplicaFields, type Replication } from './litestream.js';

export const LITESTREAM_V5_VERSIONS = ['0.5.15', '0.5.18'] as const;
export type LitestreamV5Version = (typeof LITESTREAM_V5_VERSIONS)[number];

export function litestreamV5Bin(version: string): string {
  return path.join(binDir, `litestream-${version}`);
}

export type V5ReplicaTarget = { type: 's3'; s3: S3Endpoint; bucket: string; path: string } | { type: 'file'; dir: string };

export interface LitestreamV5Options {
  version: string;
  dbPath: string;
  replica: V5ReplicaTarget;
  /** Go duration for the DB monitor and the replica sync (default 100ms). */
  interval?: string;
  /** Compaction intervals of levels 1, 2, ... (default 1s and 3s: several levels within a short test). */
  levels?: string[];
  /** How often a level-9 snapshot is taken (default 1h: only the first one during a test). */
  snapshotInterval?: string;
}

function replicaConfig(r: V5ReplicaTarget, interval: string): Record<string, unknown> {
  if (r.type === 'file') return { type: 'file', path: r.dir, 'sync-interval': interval };
  return { ...s3ReplicaFields(r), 'sync-interval': interval };
}

/** Writes a v0.5 litestream.yml (JSON is valid YAML) and returns its path. */
export async function writeLitestreamV5Config(file: string, opts: LitestreamV5Options): Promise<string> {
  const interval = opts.interval ?? '100ms';
  const config = {
    logging: { level: 'info', stderr: true },
    levels: (opts.levels ?? ['1s', '3s']).map((i) => ({ interval: i })),
    // Retention far longer than any test, so nothing is deleted while a test runs.
    snapshot: { interval: opts.snapshotInterval ?? '1h', retention: '168h' },
    'l0-retention': '168h',
    dbs: [{ path: opts.dbPath, 'monitor-interval': interval, replica: replicaConfig(opts.replica, interval) }],
  };
  await writeFile(file, JSON.stringify(config, null, 2) + '\n');
  return file;
}

export async function startReplicationV5(opts: LitestreamV5Options & { configPath?: string }): Promise<Replication> {
  const bin = litestreamV5Bin(opts.version);
  await access(bin, constants.X_OK).catch(() => {
    throw new Error(`${bin} is missing: run bash test/support/setup.sh`);
  });
  const configPath = await writeLitestreamV5Config(
    opts.configPath ?? path.join(path.dirname(opts.dbPath), `litestream-${opts.version}.yml`),
    opts,
  );
  const proc = startProcess(`litestream-${opts.version}`, bin, ['replicate', '-config', configPath, '-no-expand-env'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: path.dirname(opts.dbPath) },
  });
  const early = await Promise.race([proc.exited, sleep(300).then(() => undefined)]);
  if (early) throw new Error(`litestream ${opts.version} exited at start (${JSON.stringify(early)}):\n${proc.output()}`);
  return {
    process: proc,
    configPath,
    async stopAndFlush(settleMs = 1_000) {
      await sleep(settleMs);
      const status = await proc.stop('SIGTERM', 120_000);
      if (status.code !== 0 || !proc.output().includes('litestream shut down')) {
        throw new Error(`litestream ${opts.version} did not shut down cleanly (${JSON.stringify(status)}):\n${proc.output()}`);
      }
      const errors = proc.output().split('\n').filter((l) => l.includes('level=ERROR'));
      if (errors.length) console.log(`# litestream ${opts.version} logged ${errors.length} error(s), first: ${errors[0]}`);
    },
    async kill() {
      await proc.stop('SIGKILL');
    },
  };
}
