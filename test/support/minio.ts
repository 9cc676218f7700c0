// A throw-away MinIO server on 127.0.0.1 for one test file.
import { createServer, type Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { access, constants, readFile } from 'node:fs/promises';
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
 * `count` distinct ports that were free on 127.0.0.1 a moment ago, for a
 * server started afterwards.
 *
 * Taken below the kernel's ephemeral range: a port from listen(0) lies inside
 * it, and once released, any outgoing connection (an apiserver's to etcd, a
 * kubectl poll) may take it as its local port before the server binds it. A
 * CI cluster's default ServiceAccount never appeared, which is how a
 * controller-manager that could not bind its port looks. Held open together
 * until all are known, so that one call never names a port twice.
 */
export async function freePorts(count: number): Promise<number[]> {
  const [low, high] = await belowEphemeralRange();
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let tries = 0; ports.length < count; tries++) {
      if (tries >= count * 50) throw new Error(`no ${count} free ports on 127.0.0.1 in ${low}-${high}`);
      const candidate = low + Math.floor(Math.random() * (high - low + 1));
      if (ports.includes(candidate)) continue;
      const srv = createServer();
      if (await listens(srv, candidate)) {
        servers.push(srv);
        ports.push(candidate);
      }
    }
    return ports;
  } finally {
    await Promise.all(servers.map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))));
  }
}

/** Ports the kernel hands out to nobody on its own: up to 16,384 just below the ephemeral range. */
export async function belowEphemeralRange(): Promise<[number, number]> {
  const text = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '32768 60999');
  const ephemeralLow = Number(text.trim().split(/\s+/)[0]);
  if (!Number.isInteger(ephemeralLow) || ephemeralLow <= 2048) {
    throw new Error(`the ephemeral port range starts at ${text.trim()}: no room below it for test servers`);
  }
  return [Math.max(1024, ephemeralLow - 16_384), ephemeralLow - 1];
}

function listens(srv: Server, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => resolve(true));
  });
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
