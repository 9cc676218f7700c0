// A throw-away MinIO server on 127.0.0.1 for one test file.
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { access, constants } from 'node:fs/promises';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { makeTempDir, minioBin, removeDir } from './paths.js';
import { sleep, startProcess, type ManagedProcess } from './process.js';
import type { S3Endpoint, S3Server } from './s3-server.js';

export type { S3Endpoint, S3Server } from './s3-server.js';

export interface Minio extends S3Server {
  process: ManagedProcess;
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port as number;
}

/**
 * `count` distinct ports that were free on 127.0.0.1 a moment ago. Held open
 * together until all are known: one at a time, the kernel may hand a port it
 * just gave out again (a cluster start failed on that once).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (srv) =>
          new Promise<number>((resolve, reject) => {
            srv.once('error', reject);
            srv.listen(0, '127.0.0.1', () => {
              const addr = srv.address();
              if (addr && typeof addr === 'object') resolve(addr.port);
              else reject(new Error('no port'));
            });
          }),
      ),
    );
  } finally {
    await Promise.all(servers.map((srv) => new Promise<void>((resolve) => (srv.listening ? srv.close(() => resolve()) : resolve()))));
  }
}

export interface MinioCredentials {
  accessKey: string;
  secretKey: string;
  region: string;
}

/**
 * Starts `minio server` on `dataDir` and waits until its health check passes;
 * a port can be taken between probing and binding, so it retries a few times
 * (not with a `fixedPort`, which a test picked in advance).
 */
export async function launchMinio(
  dataDir: string,
  creds: MinioCredentials,
  health: { check: 'live' | 'ready'; timeoutMs: number },
  fixedPort?: number,
): Promise<{ endpoint: string; process: ManagedProcess }> {
  for (let attempt = 1; ; attempt++) {
    const [first, second] = (await freePorts(2)) as [number, number];
    const port = fixedPort ?? first;
    const consolePort = second === port ? first : second;
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
    if (await waitForMinio(endpoint, proc, health.check, health.timeoutMs)) return { endpoint, process: proc };
    await proc.stop('SIGKILL');
    if (attempt >= 3 || fixedPort !== undefined) throw new Error(`MinIO on ${dataDir} did not become ready:\n${proc.output()}`);
  }
}

export async function startMinio(): Promise<Minio> {
  await access(minioBin, constants.X_OK).catch(() => {
    throw new Error(`${minioBin} is missing: run bash test/support/setup.sh`);
  });
  const dataDir = await makeTempDir('minio');
  const creds = { accessKey: 'testadmin', secretKey: randomBytes(12).toString('hex'), region: 'us-east-1' };
  try {
    const { endpoint, process: proc } = await launchMinio(dataDir, creds, { check: 'live', timeoutMs: 30_000 });
    return {
      endpoint,
      ...creds,
      process: proc,
      async stop() {
        await proc.stop('SIGTERM', 5_000);
        await removeDir(dataDir);
      },
    };
  } catch (err) {
    await removeDir(dataDir);
    throw err;
  }
}

/** Polls a MinIO health endpoint until it answers OK, the process exits, or the time is up. */
export async function waitForMinio(
  endpoint: string,
  proc: ManagedProcess,
  check: 'live' | 'ready' = 'live',
  timeoutMs = 30_000,
): Promise<boolean> {
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !exited) {
    try {
      const res = await fetch(`${endpoint}/minio/health/${check}`, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  return false;
}

/** An S3 client for the tests themselves (never shared with the CLI under test). */
export function s3Client(s3: S3Endpoint, overrides: { endpoint?: string; secretKey?: string } = {}): S3Client {
  return new S3Client({
    endpoint: overrides.endpoint ?? s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKey, secretAccessKey: overrides.secretKey ?? s3.secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export async function createBucket(s3: S3Endpoint, bucket: string): Promise<void> {
  const client = s3Client(s3);
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
}

/** Environment for the CLI to reach this server with the given credentials. */
export function s3Env(s3: S3Endpoint, overrides: { endpoint?: string; secretKey?: string } = {}): Record<string, string> {
  return {
    SQLITE_RESTORE_S3_ENDPOINT: overrides.endpoint ?? s3.endpoint,
    SQLITE_RESTORE_S3_REGION: s3.region,
    AWS_ACCESS_KEY_ID: s3.accessKey,
    AWS_SECRET_ACCESS_KEY: overrides.secretKey ?? s3.secretKey,
  };
}
