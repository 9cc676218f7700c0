// A small HTTP proxy on 127.0.0.1 in front of an S3 server, for the faults
// Toxiproxy cannot make because they are HTTP, not TCP: S3 `503 SlowDown`
// answers with an S3 XML error body, a body that stops after some bytes while
// the connection stays open, or a request that never gets response headers.
// It forwards everything else unchanged (the Host header too, so SigV4
// signatures made for the proxy's address stay valid) and records every
// request, so a test can check that a client resumed with a Range request.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path and query as sent, e.g. `/backups/app/generations/…/00000000.snapshot.lz4`. */
  url: string;
  /** The Range header, if any. */
  range?: string;
  ifMatch?: string;
  /** Status sent to the client (undefined while pending or when the client left first). */
  status?: number;
  /** Which fault, if any, this request got. */
  fault?: 'slowdown' | 'stall-body' | 'stall-headers';
  /** Body bytes sent to the client. */
  bytes: number;
  /** Date.now() when the request arrived. */
  at: number;
}

export interface Faults {
  /** Answer `503 SlowDown` to this many of the next requests (any kind). */
  slowDownNext?: number;
  /** Answer `503 SlowDown` to every `n`th object GET (listings are not counted). */
  slowDownEveryNthGet?: number;
  /** Answer `503 SlowDown` to every request. */
  slowDownAll?: boolean;
  /**
   * For the next `count` object GETs whose body is at least `afterBytes + 1`
   * bytes: send `afterBytes` body bytes, then nothing, keeping the connection
   * open, until the client goes away or `forMs` passes (then the connection is
   * destroyed).
   */
  stallBody?: { count: number; afterBytes: number; forMs: number };
  /**
   * For the next `count` object GETs whose path contains `pathIncludes`: send
   * no response at all until the client goes away or `forMs` passes.
   */
  stallHeaders?: { count: number; pathIncludes: string; forMs: number };
}

export interface HttpFaultProxy {
  endpoint: string;
  /** host:port, for a TCP proxy (Toxiproxy) placed in front of this one. */
  address: string;
  /** Replaces the active faults (counters restart). */
  setFaults(faults: Faults): void;
  requests: RecordedRequest[];
  stop(): Promise<void>;
}

const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'te', 'trailer']);

/** An S3 listing is a GET on the bucket (`/bucket?list-type=2…`), an object GET names a key. */
function isObjectGet(method: string, url: string): boolean {
  if (method !== 'GET') return false;
  const u = new URL(url, 'http://x');
  return u.pathname.split('/').filter(Boolean).length >= 2 && !u.searchParams.has('list-type');
}

function slowDownBody(resource: string, id: number): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>' +
    `<Resource>${resource.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</Resource>` +
    `<RequestId>fault-${id}</RequestId></Error>`
  );
}

export async function startHttpFaultProxy(upstream: string): Promise<HttpFaultProxy> {
  const target = new URL(upstream);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const sockets = new Set<Socket>();
  const requests: RecordedRequest[] = [];
  let faults: Faults = {};
  let objectGets = 0;
  let stallBodyLeft = 0;
  let stallHeadersLeft = 0;
  let slowDownLeft = 0;
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const rec: RecordedRequest = {
      method,
      url,
      range: req.headers.range,
      ifMatch: req.headers['if-match'],
      bytes: 0,
      at: Date.now(),
    };
    requests.push(rec);
    const objectGet = isObjectGet(method, url);
    if (objectGet) objectGets++;

    let slowDown = faults.slowDownAll === true;
    if (!slowDown && slowDownLeft > 0) {
      slowDownLeft--;
      slowDown = true;
    }
    if (!slowDown && objectGet && faults.slowDownEveryNthGet !== undefined) {
      slowDown = objectGets % faults.slowDownEveryNthGet === 0;
    }
    if (slowDown) {
      req.resume();
      const body = slowDownBody(new URL(url, 'http://x').pathname, requests.length);
      rec.status = 503;
      rec.fault = 'slowdown';
      res.writeHead(503, {
        'content-type': 'application/xml',
        'content-length': Buffer.byteLength(body),
        'x-amz-request-id': `fault-${requests.length}`,
      });
      res.end(method === 'HEAD' ? undefined : body);
      return;
    }

    if (objectGet && faults.stallHeaders && stallHeadersLeft > 0 && url.includes(faults.stallHeaders.pathIncludes)) {
      stallHeadersLeft--;
      rec.fault = 'stall-headers';
      req.resume();
      // Say nothing; drop the connection after forMs unless the client gave up first.
      later(faults.stallHeaders.forMs, () => res.socket?.destroy());
      return;
    }

    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!hopByHop.has(k) && v !== undefined) headers[k] = v;
    const up = http.request(
      { host: target.hostname, port: target.port, method, path: url, headers, agent },
      (upRes) => {
        const length = Number(upRes.headers['content-length'] ?? NaN);
        const stall =
          objectGet && faults.stallBody && stallBodyLeft > 0 && upRes.statusCode !== undefined && upRes.statusCode < 300 && length > faults.stallBody.afterBytes
            ? faults.stallBody
            : undefined;
        if (stall) {
          stallBodyLeft--;
          rec.fault = 'stall-body';
        }
        const outHeaders: http.OutgoingHttpHeaders = {};
        for (const [k, v] of Object.entries(upRes.headers)) if (!hopByHop.has(k) && v !== undefined) outHeaders[k] = v;
        rec.status = upRes.statusCode;
        res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, outHeaders);
        let stalled = false;
        upRes.on('data', (chunk: Buffer) => {
          if (stalled) return;
          let data = chunk;
          if (stall && rec.bytes + data.length >= stall.afterBytes) {
            data = data.subarray(0, stall.afterBytes - rec.bytes);
            stalled = true;
            // Keep the connection open and silent; stop reading from upstream.
            upRes.destroy();
            later(stall.forMs, () => res.socket?.destroy());
          }
          rec.bytes += data.length;
          if (data.length > 0 && !res.write(data) && !stalled) {
            upRes.pause();
            res.once('drain', () => upRes.resume());
          }
        });
        upRes.on('end', () => {
          if (!stalled) res.end();
        });
        upRes.on('error', () => {
          if (!stalled) res.destroy();
        });
      },
    );
    up.on('error', () => res.destroy());
    // The client (or Toxiproxy in front) went away: stop the upstream request too.
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    address: `127.0.0.1:${port}`,
    requests,
    setFaults(next) {
      faults = next;
      objectGets = 0;
      slowDownLeft = next.slowDownNext ?? 0;
      stallBodyLeft = next.stallBody?.count ?? 0;
      stallHeadersLeft = next.stallHeaders?.count ?? 0;
    },
    async stop() {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
