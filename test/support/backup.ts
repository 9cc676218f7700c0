// One complete "application + Litestream" run: a source database is written
// while the real Litestream replicates it, then Litestream is stopped with a
// final sync, and the source's logical digest is taken as the expected result.
import path from 'node:path';
import { logicalDigest, type DbDigest } from './digest.js';
import { startReplication, type ReplicaTarget } from './litestream.js';
import { openSource, runWorkload, type Db, type WorkloadOptions, type WorkloadStats } from './workload.js';

export interface SourceBackup {
  dbPath: string;
  digest: DbDigest;
  stats?: WorkloadStats;
  durationMs: number;
}

export interface BackupOptions {
  /** Directory for the source database and litestream.yml. */
  workDir: string;
  replicas: ReplicaTarget[];
  /** Runs before Litestream starts (e.g. to make a large initial snapshot). */
  prefill?: (db: Db) => void;
  /** The standard workload with these options, or a custom one. */
  workload: WorkloadOptions | ((db: Db) => Promise<void>);
  minCheckpointPageCount?: number;
  log?: (msg: string) => void;
}

export async function makeBackup(opts: BackupOptions): Promise<SourceBackup> {
  const started = Date.now();
  const dbPath = path.join(opts.workDir, 'source.db');
  const db = openSource(dbPath);
  let stats: WorkloadStats | undefined;
  try {
    opts.prefill?.(db);
    const repl = await startReplication({
      dbPath,
      replicas: opts.replicas,
      minCheckpointPageCount: opts.minCheckpointPageCount,
    });
    try {
      if (typeof opts.workload === 'function') await opts.workload(db);
      else stats = await runWorkload(db, { log: opts.log, ...opts.workload });
      await repl.stopAndFlush();
    } catch (err) {
      await repl.kill();
      throw err;
    }
  } finally {
    db.close();
  }
  return { dbPath, digest: logicalDigest(dbPath), stats, durationMs: Date.now() - started };
}

/** A quick backup: a few thousand rows over several transactions (a couple of seconds). */
export function makeSmallBackup(workDir: string, replicas: ReplicaTarget[]): Promise<SourceBackup> {
  return makeBackup({
    workDir,
    replicas,
    workload: async (db) => {
      const ins = db.prepare('INSERT INTO items (name, qty, price, note, data) VALUES (?, ?, ?, ?, ?)');
      for (let t = 0; t < 5; t++) {
        db.transaction(() => {
          for (let i = 0; i < 500; i++) ins.run(`small-${t}-${i}`, i, i / 7, 'x'.repeat(i % 50), null);
        })();
        await new Promise((r) => setTimeout(r, 150));
      }
    },
  });
}
