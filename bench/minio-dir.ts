// MinIO on a persistent data directory (the benchmark's cached backups), unlike
// test/support/minio.ts whose servers live in a throw-away directory. The
// credentials are stored next to the data so a later run can restart the same
// server on it.
import { mkdir } from 'node:fs/promises';
import { launchMinio, type MinioCredentials, type S3Endpoint } from '../test/support/minio.js';
import type { ManagedProcess } from '../test/support/process.js';

export type { MinioCredentials };

export interface DirMinio extends S3Endpoint {
  process: ManagedProcess;
  /** Stops the server (SIGTERM, then SIGKILL after 10 s); the data directory stays. */
  stop(): Promise<void>;
}

export async function startMinioAt(dataDir: string, creds: MinioCredentials): Promise<DirMinio> {
  await mkdir(dataDir, { recursive: true });
  // Ready, not just live: a restarted server must have loaded its cached data.
  const { endpoint, process: proc } = await launchMinio(dataDir, creds, { check: 'ready', timeoutMs: 60_000 });
  return {
    endpoint,
    ...creds,
    process: proc,
    async stop() {
      await proc.stop('SIGTERM', 10_000);
    },
  };
}
