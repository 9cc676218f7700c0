// A small client of the Kubernetes API (JSON over HTTPS with a client
// certificate), for the tests' reads and waits: cheaper than a kubectl process
// per poll. Exec, logs and helm go through the real kubectl and helm
// (cluster.ts). The pure functions at the end read pod statuses the way an
// operator does.
import https from 'node:https';
import { sleep } from './process.js';

export interface KubeCredentials {
  /** https://127.0.0.1:<port> */
  server: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    readonly body: string,
  ) {
    super(`${method} ${path}: HTTP ${status}: ${body.slice(0, 2000)}`);
  }
}

export class KubeApi {
  private readonly agent: https.Agent;
  private readonly url: URL;

  constructor(private readonly creds: KubeCredentials) {
    this.url = new URL(creds.server);
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 4, ca: creds.ca, cert: creds.cert, key: creds.key });
  }

  /** One request; resolves with the status and the parsed JSON body (undefined when empty). */
  request(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<{ status: number; json: unknown; text: string }> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          agent: this.agent,
          hostname: this.url.hostname,
          port: this.url.port,
          method,
          path,
          headers: {
            accept: 'application/json',
            ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
          },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 0, json, text });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  private async ok<T>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await this.request(method, path, body);
    if (r.status < 200 || r.status >= 300) throw new KubeApiError(r.status, method, path, r.text);
    return r.json as T;
  }

  get<T>(path: string): Promise<T> {
    return this.ok<T>('GET', path);
  }

  /** GET that answers undefined for 404. */
  async find<T>(path: string): Promise<T | undefined> {
    const r = await this.request('GET', path);
    if (r.status === 404) return undefined;
    if (r.status < 200 || r.status >= 300) throw new KubeApiError(r.status, 'GET', path, r.text);
    return r.json as T;
  }

  create<T>(path: string, obj: unknown): Promise<T> {
    return this.ok<T>('POST', path, obj);
  }

  /** DELETE that ignores 404 (already gone). */
  async delete(path: string): Promise<void> {
    const r = await this.request('DELETE', path);
    if (r.status !== 404 && (r.status < 200 || r.status >= 300)) throw new KubeApiError(r.status, 'DELETE', path, r.text);
  }

  pod(namespace: string, name: string): Promise<Pod | undefined> {
    return this.find<Pod>(`/api/v1/namespaces/${namespace}/pods/${name}`);
  }

  async pods(namespace: string, labelSelector?: string): Promise<Pod[]> {
    const q = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : '';
    return (await this.get<{ items: Pod[] }>(`/api/v1/namespaces/${namespace}/pods${q}`)).items;
  }

  /**
   * Polls the pods matching `labelSelector` until `check` returns a value
   * (not undefined); `what` names the wait in the timeout error, which also
   * shows the pods' last statuses.
   */
  async waitForPods<T>(
    namespace: string,
    labelSelector: string,
    what: string,
    check: (pods: Pod[]) => T | undefined,
    { timeoutMs = 180_000, intervalMs = 500 } = {},
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: Pod[] = [];
    for (;;) {
      last = await this.pods(namespace, labelSelector);
      const value = check(last);
      if (value !== undefined) return value;
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; pods: ${JSON.stringify(last.map(summarizePod), null, 1)}`);
      }
      await sleep(intervalMs);
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

// ---------------------------------------------------------------- pod statuses

export interface ContainerStateTerminated {
  exitCode: number;
  signal?: number;
  reason?: string;
  message?: string;
  startedAt?: string;
  finishedAt?: string;
}

export interface ContainerState {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: ContainerStateTerminated;
}

export interface ContainerStatus {
  name: string;
  ready: boolean;
  restartCount: number;
  started?: boolean;
  image: string;
  imageID: string;
  state: ContainerState;
  lastState: ContainerState;
}

export interface Pod {
  metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: {
    nodeName?: string;
    hostNetwork?: boolean;
    initContainers?: Array<{ name: string; image: string; restartPolicy?: string }>;
    containers: Array<{ name: string; image: string }>;
    volumes?: Array<{ name: string; [key: string]: unknown }>;
  };
  status: {
    phase?: string;
    conditions?: Array<{ type: string; status: string }>;
    initContainerStatuses?: ContainerStatus[];
    containerStatuses?: ContainerStatus[];
  };
}

/** The status of container `name` (init, sidecar or app container). */
export function containerStatus(pod: Pod, name: string): ContainerStatus | undefined {
  return [...(pod.status.initContainerStatuses ?? []), ...(pod.status.containerStatuses ?? [])].find((s) => s.name === name);
}

/**
 * The container's most recent finished run, as an operator reads it: the
 * current state while it is terminated, else the last state (the run before
 * the restart that is waiting or running now).
 */
export function lastTermination(status: ContainerStatus | undefined): ContainerStateTerminated | undefined {
  return status?.state.terminated ?? status?.lastState.terminated;
}

/** True once the container has run at all (running now, or terminated now or before). */
export function hasStarted(status: ContainerStatus | undefined): boolean {
  return Boolean(status && (status.state.running || status.state.terminated || status.lastState.terminated || status.restartCount > 0));
}

export function isPodReady(pod: Pod): boolean {
  return pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Compact view of a pod's status for error messages. */
export function summarizePod(pod: Pod): Record<string, unknown> {
  const states = Object.fromEntries(
    [...(pod.status.initContainerStatuses ?? []), ...(pod.status.containerStatuses ?? [])].map((s) => [
      s.name,
      { restarts: s.restartCount, state: s.state, last: s.lastState },
    ]),
  );
  return { name: pod.metadata.name, phase: pod.status.phase, ready: isPodReady(pod), containers: states };
}
