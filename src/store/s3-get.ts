// Object GETs without the SDK's per-request middleware stack. A restore makes
// a thousand or more small GETs (one per WAL segment); through the SDK each
// cost about 2 ms of CPU on the busy main thread, sent directly about 0.6 ms.
// The SDK still does everything that must match it exactly: it resolves the
// endpoint, addressing style and signing scheme (once, from a probe request
// that never leaves the process), provides and refreshes the credentials, and
// its SigV4 signer signs. Errors take the SDK's shape (name,
// $metadata.httpStatusCode), so s3-errors.ts maps both paths alike.
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { GetObjectCommand, SignatureV4, type S3Client } from './aws-sdk.js';

export interface GetRequest {
  readonly key: string;
  readonly range?: string;
  readonly ifMatch?: string;
  readonly signal: AbortSignal;
}

export interface GetResponse {
  readonly etag: string | undefined;
  readonly body: Readable;
}

export interface GetOptions {
  readonly bucket: string;
  readonly agents: { readonly http: http.Agent; readonly https: https.Agent };
  /** No response headers (or no byte at all) for this long: a TimeoutError, retried by the caller. */
  readonly requestTimeoutMs: number;
  readonly connectionTimeoutMs: number;
}

export type ObjectGet = (request: GetRequest) => Promise<GetResponse>;

const PROBE_KEY = 'sqlite-s3-restore-endpoint-probe';
/** SHA-256 of an empty payload: what the SDK signs for a GET. */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const ERROR_BODY_LIMIT = 64 << 10;

interface Target {
  readonly protocol: string;
  readonly hostname: string;
  readonly port: number | undefined;
  readonly host: string;
  /** The request path up to the key, ending in "/". */
  readonly prefix: string;
  readonly authScheme: { name?: string; signingName?: string; signingRegion?: string } | undefined;
}

/** Where and how the SDK would send a GetObject for `bucket`, learned without sending anything. */
export async function probeTarget(client: S3Client, bucket: string): Promise<Target> {
  const command = new GetObjectCommand({ Bucket: bucket, Key: PROBE_KEY });
  let target: Target | undefined;
  type Context = { endpointV2?: { properties?: { authSchemes?: Array<Target['authScheme']> } } };
  type Request = { protocol: string; hostname: string; port?: number; path: string; headers: Record<string, string> };
  const capture = (_next: unknown, context: Context) => async (args: { request: Request }) => {
    const { request } = args;
    if (!request.path.endsWith(`/${PROBE_KEY}`)) throw new Error(`unexpected request path ${request.path} for the endpoint probe`);
    target = {
      protocol: request.protocol,
      hostname: request.hostname,
      port: request.port,
      host: request.headers.host ?? (request.port ? `${request.hostname}:${request.port}` : request.hostname),
      prefix: request.path.slice(0, -PROBE_KEY.length),
      authScheme: context.endpointV2?.properties?.authSchemes?.[0],
    };
    // Nothing is sent: the request stops right after it is serialized, before signing.
    return { output: {}, response: {} };
  };
  command.middlewareStack.addRelativeTo(capture as unknown as Parameters<typeof command.middlewareStack.addRelativeTo>[0], {
    relation: 'after',
    toMiddleware: 'serializerMiddleware',
    name: 'sqliteRestoreEndpointProbe',
  });
  await client.send(command);
  if (!target) throw new Error('the endpoint probe did not run');
  return target;
}

/** A key as the SDK puts it in a path: each segment URI-encoded, RFC 3986 reserved characters too. */
export function encodeKey(key: string): string {
  return key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

/**
 * Makes the GET function for `bucket`. Plain SigV4 endpoints (AWS S3, MinIO,
 * Ceph RGW, R2...) are sent directly; anything else (S3 Express, multi-region
 * access points) goes through the SDK as before.
 */
export function createObjectGet(client: S3Client, options: GetOptions): ObjectGet {
  let direct: Promise<ObjectGet> | undefined;
  return async (request) => {
    if (!direct) {
      direct = probeTarget(client, options.bucket).then((target) =>
        target.authScheme?.name === undefined || target.authScheme.name === 'sigv4' ? directGet(client, target, options) : sdkGet(client, options.bucket),
      );
      // A failed probe (say, no credentials) is tried again on the next call, so its error surfaces each time.
      direct.catch(() => (direct = undefined));
    }
    return (await direct)(request);
  };
}

function sdkGet(client: S3Client, bucket: string): ObjectGet {
  return async ({ key, range, ifMatch, signal }) => {
    const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range, IfMatch: ifMatch }), {
      abortSignal: signal,
    });
    return { etag: response.ETag, body: response.Body as Readable };
  };
}

function directGet(client: S3Client, target: Target, options: GetOptions): ObjectGet {
  const signer = new SignatureV4({
    credentials: client.config.credentials,
    region: target.authScheme?.signingRegion ?? 'us-east-1',
    service: target.authScheme?.signingName ?? 's3',
    sha256: client.config.sha256,
    // S3 paths are signed as sent, not encoded a second time.
    uriEscapePath: false,
    applyChecksum: false,
  });
  const secure = target.protocol === 'https:';
  const transport = secure ? https : http;
  const agent = secure ? options.agents.https : options.agents.http;
  return async ({ key, range, ifMatch, signal }) => {
    const path = target.prefix + encodeKey(key);
    const headers: Record<string, string> = { host: target.host, 'x-amz-content-sha256': EMPTY_SHA256 };
    if (range) headers.range = range;
    if (ifMatch) headers['if-match'] = ifMatch;
    const signed = await signer.sign(
      { method: 'GET', protocol: target.protocol, hostname: target.hostname, port: target.port, path, query: {}, headers },
      // The skew the SDK learned from the server (RequestTimeTooSkewed), as its own requests use.
      { signingDate: new Date(Date.now() + (client.config.systemClockOffset ?? 0)) },
    );
    signal.throwIfAborted();
    return new Promise<GetResponse>((resolve, reject) => {
      const req = transport.request({
        method: 'GET',
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        path,
        headers: signed.headers,
        agent,
      });
      // Not the request's own `signal` option: it destroys the request, and
      // between a body's last read and its 'end' event Node then frees the
      // socket for reuse without the listener for that abort's error, which
      // goes uncaught (nodejs/node#65938). Once there is a response, the abort
      // errors the response instead: its reader sees it, the socket is closed.
      let response: http.IncomingMessage | undefined;
      const abort = () => (response ?? req).destroy(signal.reason);
      signal.addEventListener('abort', abort, { once: true });
      req.once('close', () => signal.removeEventListener('abort', abort));
      req.setTimeout(options.requestTimeoutMs, () => req.destroy(named('TimeoutError', `no response within ${options.requestTimeoutMs} ms`)));
      req.on('socket', (socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(
          () => req.destroy(named('TimeoutError', `could not connect within ${options.connectionTimeoutMs} ms`)),
          options.connectionTimeoutMs,
        );
        socket.once('connect', () => clearTimeout(timer));
        socket.once('close', () => clearTimeout(timer));
      });
      req.on('error', reject);
      req.on('response', (res) => {
        response = res;
        const status = res.statusCode ?? 0;
        if (status === 200 || status === 206) {
          resolve({ etag: headerValue(res.headers.etag), body: res });
          return;
        }
        readLimited(res).then((text) => reject(serviceError(status, text, res.headers)), reject);
      });
      req.end();
    });
  };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function named(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

/** An error body, up to the limit: a store could send one without end (the connection is then dropped). */
async function readLimited(body: Readable): Promise<string> {
  let text = '';
  for await (const chunk of body) {
    text += (chunk as Buffer).toString('utf8');
    if (text.length >= ERROR_BODY_LIMIT) {
      body.destroy();
      break;
    }
  }
  return text.slice(0, ERROR_BODY_LIMIT);
}

const STATUS_NAMES: Record<number, string> = {
  301: 'PermanentRedirect',
  400: 'BadRequest',
  403: 'Forbidden',
  404: 'NotFound',
  412: 'PreconditionFailed',
  416: 'InvalidRange',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

/** An S3 error response as the SDK would throw it: the XML Code as the name, the status in $metadata. */
export function serviceError(status: number, body: string, headers: http.IncomingHttpHeaders): Error {
  const tag = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1];
  const code = tag('Code') ?? STATUS_NAMES[status] ?? `HTTP${status}`;
  const error = named(code, tag('Message') ?? `HTTP ${status}`);
  return Object.assign(error, {
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status, requestId: headerValue(headers['x-amz-request-id']) },
  });
}
