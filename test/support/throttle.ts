// A bandwidth-limiting TCP proxy on 127.0.0.1 in front of MinIO, so a large
// download takes long enough (deterministically) to interrupt it. The limit is
// shared by all connections (the CLI downloads with several in parallel); only
// the server-to-client direction is throttled.
import { createServer, connect, type Socket } from 'node:net';

export interface Throttle {
  endpoint: string;
  /** Bytes delivered to clients so far. */
  delivered(): number;
  stop(): Promise<void>;
}

export async function startThrottle(target: string, bytesPerSecond: number): Promise<Throttle> {
  const url = new URL(target);
  const sockets = new Set<Socket>();
  let nextFree = Date.now();
  let delivered = 0;
  const server = createServer((client) => {
    const upstream = connect(Number(url.port), url.hostname);
    sockets.add(client);
    sockets.add(upstream);
    const closeBoth = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      const now = Date.now();
      const start = Math.max(now, nextFree);
      nextFree = start + (chunk.length / bytesPerSecond) * 1000;
      const delay = nextFree - now;
      if (delay < 1) {
        delivered += chunk.length;
        client.write(chunk);
        return;
      }
      upstream.pause();
      setTimeout(() => {
        delivered += chunk.length;
        if (!client.destroyed) client.write(chunk);
        upstream.resume();
      }, delay);
    });
    upstream.on('end', () => {
      // Flush after the last delayed chunk.
      setTimeout(() => client.end(), Math.max(0, nextFree - Date.now()) + 1);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  if (!addr || typeof addr !== 'object') throw new Error('throttle: no address');
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    delivered: () => delivered,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
