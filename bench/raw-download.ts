// The baseline our restore is compared with: downloading exactly the bytes of
// the restore plan as fast as the AWS SDK can, and doing nothing with them.
// Same concurrency and connection pool size as the CLI, 8 MiB ranged parts for
// objects larger than two parts (as src/store/s3.ts does), checksums only when
// required (as the CLI does for a custom endpoint). Bodies are read to the end
// and dropped.
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
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
  const agent = { keepAlive: true, maxSockets: concurrency };
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: 5_000, httpAgent: agent, httpsAgent: agent },
  });
  let bytes = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const t = tasks[next++]!;
      const res = await client.send(
        new GetObjectCommand({ Bucket: bucket, Key: t.key, Range: t.whole ? undefined : `bytes=${t.start}-${t.end - 1}` }),
      );
      let got = 0;
      for await (const chunk of res.Body as Readable) got += (chunk as Buffer).length;
      if (got !== t.end - t.start) throw new Error(`raw download: ${t.key} [${t.start}, ${t.end}) returned ${got} bytes`);
      bytes += got;
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  } finally {
    client.destroy();
  }
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  if (bytes !== expected) throw new Error(`raw download: ${bytes} bytes, expected ${expected}`);
  return { ms, cpuMs: (used.user + used.system) / 1000, bytes, requests: tasks.length };
}
