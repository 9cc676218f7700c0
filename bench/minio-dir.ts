// MinIO on a persistent data directory (the benchmark's cached backups), unlike
// test/support/minio.ts whose servers live in a throw-away directory. The
// credentials are stored next to the data so a later run can restart the same
// server on it.
import { mkdir } from 'node:fs/promises';
import { minioBin } from '../test/support/paths.js';
import { freePort, waitForMinio, type S3Endpoint } from '../test/support/minio.js';
import { startProcess, type ManagedProcess } from '../test/support/process.js';

export interface MinioCredentials {
  accessKey: string;
  secretKey: string;
  region: string;
}

export interface DirMinio extends S3Endpoint {
  process: ManagedProcess;
  /** Stops the server (SIGTERM, then SIGKILL after 10 s); the data directory stays. */
  stop(): Promise<void>;
}

export async function startMinioAt(dataDir: string, creds: MinioCredentials): Promise<DirMinio> {
  await mkdir(dataDir, { recursive: true });
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const consolePort = await freePort();
    const proc = startProcess(
      'minio',
      minioBin,
      ['server', dataDir, '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`, '--quiet'],
      {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: dataDir,
          MINIO_ROOT_USER: creds.accessKey,
          MINIO_ROOT_PASSWORD: creds.secretKey,
          MINIO_BROWSER: 'off',
          MINIO_UPDATE: 'off',
          MINIO_REGION: creds.region,
        },
      },
    );
    const endpoint = `http://127.0.0.1:${port}`;
    // Ready, not just live: a restarted server must have loaded its cached data.
    if (await waitForMinio(endpoint, proc, 'ready', 60_000)) {
      return {
        endpoint,
        ...creds,
        process: proc,
        async stop() {
          await proc.stop('SIGTERM', 10_000);
        },
      };
    }
    await proc.stop('SIGKILL');
    if (attempt >= 3) throw new Error(`MinIO on ${dataDir} did not become ready:\n${proc.output()}`);
  }
}
