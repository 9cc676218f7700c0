// S3 and S3-compatible stores. One shared client for listing (the SDK retries
// those); object bytes come through direct GETs (s3-get.ts), which this module
// retries with backoff and resumes after a dropped or stalled stream with a
// ranged GET pinned to the object's ETag.
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { S3Settings } from '../config.js';
import { CorruptBackupError } from '../errors.js';
import { isTransient, mapS3Error } from './s3-errors.js';
import { createObjectGet, type ObjectGet } from './s3-get.js';
import type { ObjectInfo, ReadOptions, Store } from './store.js';

export interface S3StoreOptions {
  readonly bucket: string;
  readonly prefix: string;
  readonly settings: S3Settings;
  readonly concurrency: number;
  /** Objects larger than two parts are fetched as ranged parts in parallel. */
  readonly partSize?: number;
}

// Ranged parts of one object held at most: 4 x 4 MiB keeps a large download
// parallel while the whole restore fits a 160 MiB memory limit.
const DEFAULT_PART_SIZE = 4 << 20;
const MAX_PARTS_IN_FLIGHT = 4;

class IdleTimeoutError extends Error {
  override name = 'IdleTimeoutError';
}

/** A body that ended early without an error: resumed like a dropped connection. */
class ShortBodyError extends Error {
  override name = 'ShortBodyError';
}

export class S3Store implements Store {
  readonly location: string;
  private readonly client: S3Client;
  private readonly get: ObjectGet;
  private readonly root: string;
  private readonly partSize: number;

  constructor(private readonly options: S3StoreOptions) {
    const { settings } = options;
    this.root = options.prefix ? `${options.prefix}/` : '';
    this.location = `s3://${options.bucket}/${options.prefix}${settings.endpoint ? ` at ${settings.endpoint}` : ''}`;
    this.partSize = options.partSize ?? DEFAULT_PART_SIZE;
    const agentOptions = { keepAlive: true, maxSockets: options.concurrency + 2 };
    // One connection pool for the SDK's requests (listing) and the direct GETs.
    const agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
    const connectionTimeoutMs = 5_000;
    this.client = new S3Client({
      region: settings.region,
      endpoint: settings.endpoint,
      forcePathStyle: settings.forcePathStyle,
      credentials: fromNodeProviderChain(),
      maxAttempts: settings.maxAttempts,
      retryMode: 'standard',
      ...(settings.checksumMode
        ? { requestChecksumCalculation: settings.checksumMode, responseChecksumValidation: settings.checksumMode }
        : {}),
      // Response headers that never come are a stall too: the SDK retries the request.
      requestHandler: {
        connectionTimeout: connectionTimeoutMs,
        requestTimeout: settings.idleTimeoutMs,
        throwOnRequestTimeout: true,
        httpAgent: agents.http,
        httpsAgent: agents.https,
      },
    });
    this.get = createObjectGet(this.client, {
      bucket: options.bucket,
      agents,
      requestTimeoutMs: settings.idleTimeoutMs,
      connectionTimeoutMs,
    });
  }

  async *list(prefix: string, signal: AbortSignal): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: this.root + prefix, ContinuationToken: token }),
          { abortSignal: signal },
        );
      } catch (err) {
        signal.throwIfAborted();
        throw mapS3Error(err, `listing ${this.location}`, this.options.bucket);
      }
      for (const item of page.Contents ?? []) {
        if (!item.Key?.startsWith(this.root)) continue;
        yield {
          key: item.Key.slice(this.root.length),
          size: item.Size ?? 0,
          lastModified: item.LastModified ?? new Date(0),
          etag: item.ETag,
        };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  read(info: ObjectInfo, options: ReadOptions): Readable {
    const parallel = info.size > 2 * this.partSize && this.options.concurrency > 1;
    return Readable.from(parallel ? this.parts(info, options) : this.range(info, 0, info.size, options), {
      objectMode: false,
    });
  }

  readAll(info: ObjectInfo, options: ReadOptions): Promise<Buffer> {
    return this.rangeInto(info, 0, info.size, options);
  }

  readRange(info: ObjectInfo, start: number, end: number, options: ReadOptions): Readable {
    return Readable.from(this.range(info, start, end, options), { objectMode: false });
  }

  /**
   * Ranged GETs of `partSize` bytes, up to `concurrency` in flight, yielded in
   * order: memory holds at most `concurrency` parts whatever the object size.
   */
  private async *parts(info: ObjectInfo, options: ReadOptions): AsyncGenerator<Buffer> {
    // Stops the other parts as soon as one fails or the reader goes away.
    const local = new AbortController();
    const signal = AbortSignal.any([options.signal, local.signal]);
    setMaxListeners(1000, signal);
    const count = Math.ceil(info.size / this.partSize);
    const inflight: Array<Promise<Buffer>> = [];
    let next = 0;
    const launch = () => {
      const start = next * this.partSize;
      const end = Math.min(info.size, start + this.partSize);
      const part = this.rangeInto(info, start, end, { signal, onBytes: options.onBytes });
      part.catch(() => undefined); // surfaced when its turn comes
      inflight.push(part);
      next += 1;
    };
    try {
      const window = Math.min(this.options.concurrency, MAX_PARTS_IN_FLIGHT);
      while (next < count && inflight.length < window) launch();
      while (inflight.length > 0) {
        const part = await (inflight.shift() as Promise<Buffer>);
        if (next < count && inflight.length < window) launch();
        yield part;
      }
    } finally {
      local.abort();
    }
  }

  /**
   * Bytes [start, end) in a buffer of their own: the socket's chunks are
   * garbage as soon as they are copied (collected young, not after a major
   * GC), and the whole part can be handed on, e.g. transferred to a worker.
   */
  private async rangeInto(info: ObjectInfo, start: number, end: number, options: ReadOptions): Promise<Buffer> {
    // range() yields exactly end - start bytes or throws.
    const into = Buffer.allocUnsafeSlow(end - start);
    let at = 0;
    for await (const chunk of this.range(info, start, end, options)) at += chunk.copy(into, at);
    return into;
  }

  /**
   * Yields bytes [start, end) of the object, resuming after transient
   * failures from the last byte received, pinned to the listed ETag.
   */
  private async *range(info: ObjectInfo, start: number, end: number, { signal, onBytes }: ReadOptions): AsyncGenerator<Buffer> {
    const key = this.root + info.key;
    const whole = start === 0 && end === info.size;
    let position = start;
    let failures = 0;
    let etag = info.etag;
    while (position < end || (whole && info.size === 0)) {
      signal.throwIfAborted();
      let body: Readable | undefined;
      try {
        const ranged = !whole || position > start;
        const response = await this.get({
          key,
          ...(ranged ? { range: `bytes=${position}-${end - 1}` } : {}),
          ...(etag ? { ifMatch: etag } : {}),
          signal,
        });
        etag ??= response.etag;
        body = response.body;
        for await (const chunk of withIdleTimeout(body, this.options.settings.idleTimeoutMs)) {
          position += chunk.length;
          failures = 0;
          onBytes?.(chunk.length);
          if (position > end) break;
          yield chunk;
        }
        if (position > end) {
          throw new CorruptBackupError(`${info.key}: the server sent more than the ${info.size} bytes listed`);
        }
        if (position < end) throw new ShortBodyError(`body ended at byte ${position} of ${end}`);
        return;
      } catch (err) {
        body?.destroy();
        signal.throwIfAborted();
        failures += 1;
        if (!isTransient(err) || failures >= this.options.settings.maxAttempts) {
          throw mapS3Error(err, `downloading ${info.key}`, this.options.bucket);
        }
        // Exponential backoff with jitter, counted per consecutive failure.
        await sleep(Math.min(10_000, 200 * 2 ** failures) * (0.5 + Math.random() / 2), undefined, { signal });
      }
    }
  }
}

/** Iterates a body, destroying it when no data arrives for `ms`. */
async function* withIdleTimeout(body: Readable, ms: number): AsyncGenerator<Buffer> {
  // One timer, pushed back on every chunk (refresh() allocates nothing).
  const timer = setTimeout(() => body.destroy(new IdleTimeoutError(`no data for ${ms} ms`)), ms);
  try {
    for await (const chunk of body) {
      timer.refresh();
      yield chunk as Buffer;
    }
  } finally {
    clearTimeout(timer);
  }
}

