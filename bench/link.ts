// The network between the restoring tools and MinIO, per profile:
//   loopback  MinIO itself (answers in microseconds, gigabytes a second);
//   s3like    Toxiproxy in front of MinIO with a `latency` toxic (25 ms ± 5 ms)
//             and a `bandwidth` toxic (81,920 KB/s = 80 MiB/s), both downstream.
// Toxiproxy applies toxics to each connection separately: every GET waits for
// the latency before its first byte, and every connection carries at most the
// rate, so a tool gets more throughput only by keeping more GETs in flight,
// as with real object storage. Every tool (ours, the raw download, both
// Litestreams) uses the same endpoint.
import type { S3Endpoint } from '../test/support/minio.js';
import type { Proxy, Toxiproxy } from '../test/support/toxiproxy.js';
import type { LinkParams, Profile } from './params.js';

export interface Link {
  profile: Profile;
  /** Where the tools connect: MinIO's credentials, the profile's address. */
  s3: S3Endpoint;
  close(): Promise<void>;
}

export function describeLink(profile: Profile, p: LinkParams): string {
  return profile === 'loopback'
    ? 'loopback (MinIO directly)'
    : `s3like (Toxiproxy: latency ${p.latencyMs} ms ± ${p.jitterMs} ms, ${p.rateKBps} KB/s per connection, downstream)`;
}

export async function openLink(profile: Profile, minio: S3Endpoint, toxiproxy: Toxiproxy | undefined, p: LinkParams, name: string): Promise<Link> {
  const creds = { accessKey: minio.accessKey, secretKey: minio.secretKey, region: minio.region };
  if (profile === 'loopback') return { profile, s3: { ...creds, endpoint: minio.endpoint }, close: async () => {} };
  if (!toxiproxy) throw new Error('the s3like profile needs Toxiproxy');
  const proxy: Proxy = await toxiproxy.createProxy(name, minio.endpoint);
  try {
    await proxy.addToxic({ name: 'latency', type: 'latency', stream: 'downstream', attributes: { latency: p.latencyMs, jitter: p.jitterMs } });
    await proxy.addToxic({ name: 'bandwidth', type: 'bandwidth', stream: 'downstream', attributes: { rate: p.rateKBps } });
  } catch (err) {
    await proxy.remove().catch(() => undefined);
    throw err;
  }
  return {
    profile,
    s3: { ...creds, endpoint: proxy.endpoint },
    // Deleting the proxy closes its connections; removing a latency toxic can hang (see toxiproxy.ts).
    close: () => proxy.remove(),
  };
}
