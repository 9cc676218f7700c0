// The baseline our restore is compared with: downloading exactly the bytes of
// the restore plan as fast as we can, and doing nothing with them. Same
// transport as the CLI (direct signed GETs, src/store/s3-get.ts: through the
// SDK's middleware stack the thousand small GETs cost the baseline about 1.5 s
// of CPU more), same concurrency and connection pool size, 8 MiB ranged parts
// for objects larger than two parts. Bodies are read to the end and dropped.
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
import { createObjectGet } from '../src/store/s3-get.js';
import type { S3Endpoint } from '../test/support/minio.js';

export interface RawObject {
  /** Full key inside the bucket. */
  key: string;
  size: number;
}

export interface RawResult {
  ms: number;
  /** CPU time of this process (user + system) during the download. */
  cpuMs: number;
  bytes: number;
  requests: number;
}

const PART_SIZE = 8 << 20;

export async function rawDownload(s3: S3Endpoint, bucket: string, objects: readonly RawObject[], concurrency: number): Promise<RawResult> {
  const tasks: Array<{ key: string; start: number; end: number; whole: boolean }> = [];
  let expected = 0;
  for (const o of objects) {
    expected += o.size;
    if (o.size > 2 * PART_SIZE) {
      for (let start = 0; start < o.size; start += PART_SIZE) {
        tasks.push({ key: o.key, start, end: Math.min(o.size, start + PART_SIZE), whole: false });
      }
    } else {
      tasks.push({ key: o.key, start: 0, end: o.size, whole: true });
    }
  }

  const started = performance.now();
  const cpu = process.cpuUsage();
  const agentOptions = { keepAlive: true, maxSockets: concurrency };
  const agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
  });
  const get = createObjectGet(client, { bucket, agents, requestTimeoutMs: 30_000, connectionTimeoutMs: 5_000 });
  const signal = new AbortController().signal;
  // Every GET in flight listens on it: more than the default 10 at high concurrency is expected, not a leak.
  setMaxListeners(concurrency + 10, signal);
  let bytes = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const t = tasks[next++]!;
      const res = await get({ key: t.key, ...(t.whole ? {} : { range: `bytes=${t.start}-${t.end - 1}` }), signal });
      let got = 0;
      for await (const chunk of res.body) got += (chunk as Buffer).length;
      if (got !== t.end - t.start) throw new Error(`raw download: ${t.key} [${t.start}, ${t.end}) returned ${got} bytes`);
      bytes += got;
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  } finally {
    client.destroy();
    agents.http.destroy();
    agents.https.destroy();
  }
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  if (bytes !== expected) throw new Error(`raw download: ${bytes} bytes, expected ${expected}`);
  return { ms, cpuMs: (used.user + used.system) / 1000, bytes, requests: tasks.length };
}
