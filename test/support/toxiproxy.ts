// Toxiproxy (built by test/support/setup.sh into the tool cache) on 127.0.0.1: a
// TCP proxy whose faults ("toxics": latency, bandwidth limits, stalls, resets,
// connections cut after N bytes) are added and removed at run time through its
// HTTP API. One server per test file, stopped by PID.
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { freePort } from './minio.js';
import { binDir } from './paths.js';
import { sleep, startProcess, type ManagedProcess } from './process.js';

export const toxiproxyBin = path.join(binDir, 'toxiproxy-server');

export type Stream = 'upstream' | 'downstream';

/** The toxics of Toxiproxy 2.x and their attributes (times in ms, rates in KB/s). */
export type ToxicSpec =
  | { type: 'latency'; attributes: { latency: number; jitter?: number } }
  | { type: 'bandwidth'; attributes: { rate: number } }
  | { type: 'slow_close'; attributes: { delay: number } }
  /** Drops all data; closes the connection after `timeout` ms (0: never). */
  | { type: 'timeout'; attributes: { timeout: number } }
  /** On the next data, waits `timeout` ms and resets the connection (RST). */
  | { type: 'reset_peer'; attributes: { timeout: number } }
  /** Splits data into chunks of ~average_size bytes, `delay` microseconds apart. */
  | { type: 'slicer'; attributes: { average_size: number; size_variation?: number; delay?: number } }
  /** Closes each connection once `bytes` bytes have passed. */
  | { type: 'limit_data'; attributes: { bytes: number } };

export type Toxic = ToxicSpec & { name: string; stream?: Stream; toxicity?: number };

export interface Proxy {
  name: string;
  /** http://127.0.0.1:<listen port>: point the client here. */
  endpoint: string;
  addToxic(toxic: Toxic): Promise<void>;
  removeToxic(name: string): Promise<void>;
  /** Removes every toxic of this proxy. */
  clearToxics(): Promise<void>;
  /** A disabled proxy closes its connections and refuses new ones. */
  setEnabled(enabled: boolean): Promise<void>;
  /** Deletes the proxy (closing its connections). */
  remove(): Promise<void>;
  /**
   * Deletes the proxy and creates it again on the same address, without
   * toxics: every open connection is closed. Unlike removing a toxic, this
   * cannot hang (Toxiproxy 2.12 can deadlock removing a `latency` toxic whose
   * client just closed its connection).
   */
  recreate(): Promise<void>;
}

export interface Toxiproxy {
  api: string;
  process: ManagedProcess;
  /** A proxy listening on a free 127.0.0.1 port, forwarding to `upstream` (host:port or http URL). */
  createProxy(name: string, upstream: string): Promise<Proxy>;
  /** Enables every proxy and removes every toxic. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

async function call(api: string, method: string, route: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${api}${route}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`toxiproxy ${method} ${route} → HTTP ${res.status}: ${text}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

function hostPort(upstream: string): string {
  if (!upstream.includes('://')) return upstream;
  const url = new URL(upstream);
  return `${url.hostname}:${url.port}`;
}

export async function startToxiproxy(): Promise<Toxiproxy> {
  await access(toxiproxyBin, constants.X_OK).catch(() => {
    throw new Error(`${toxiproxyBin} is missing: run bash test/support/setup.sh`);
  });
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const proc = startProcess('toxiproxy', toxiproxyBin, ['-host', '127.0.0.1', '-port', String(port)], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LOG_LEVEL: 'warn' },
    });
    const api = `http://127.0.0.1:${port}`;
    if (await waitReady(api, proc)) return toxiproxy(api, proc);
    await proc.stop('SIGKILL');
    if (attempt >= 3) throw new Error(`toxiproxy did not become ready:\n${proc.output()}`);
  }
}

async function waitReady(api: string, proc: ManagedProcess): Promise<boolean> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && proc.child.exitCode === null) {
    try {
      const res = await fetch(`${api}/version`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  return false;
}

function toxiproxy(api: string, proc: ManagedProcess): Toxiproxy {
  return {
    api,
    process: proc,
    async createProxy(name, upstream) {
      for (let attempt = 1; ; attempt++) {
        const listenPort = await freePort();
        try {
          await call(api, 'POST', '/proxies', {
            name,
            listen: `127.0.0.1:${listenPort}`,
            upstream: hostPort(upstream),
            enabled: true,
          });
        } catch (err) {
          // The port was taken in between: try another.
          if (attempt < 3 && String(err).includes('address already in use')) continue;
          throw err;
        }
        const route = `/proxies/${encodeURIComponent(name)}`;
        return {
          name,
          endpoint: `http://127.0.0.1:${listenPort}`,
          async addToxic(toxic) {
            await call(api, 'POST', `${route}/toxics`, {
              name: toxic.name,
              type: toxic.type,
              stream: toxic.stream ?? 'downstream',
              toxicity: toxic.toxicity ?? 1,
              attributes: toxic.attributes,
            });
          },
          async removeToxic(toxicName) {
            await call(api, 'DELETE', `${route}/toxics/${encodeURIComponent(toxicName)}`);
          },
          async clearToxics() {
            const toxics = (await call(api, 'GET', `${route}/toxics`)) as { name: string }[];
            for (const t of toxics) await call(api, 'DELETE', `${route}/toxics/${encodeURIComponent(t.name)}`);
          },
          async setEnabled(enabled) {
            await call(api, 'PATCH', route, { enabled });
          },
          async remove() {
            await call(api, 'DELETE', route);
          },
          async recreate() {
            await call(api, 'DELETE', route);
            await call(api, 'POST', '/proxies', {
              name,
              listen: `127.0.0.1:${listenPort}`,
              upstream: hostPort(upstream),
              enabled: true,
            });
          },
        };
      }
    },
    async reset() {
      await call(api, 'POST', '/reset');
    },
    async stop() {
      await proc.stop('SIGTERM', 5_000);
    },
  };
}
