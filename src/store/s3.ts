// S3 and S3-compatible stores. One shared client for listing; object bytes
// come through direct GETs (s3-get.ts), resumed after a dropped or stalled
// stream with a ranged GET pinned to the object's ETag. Every request that
// fails transiently (refused, reset, DNS, timeouts, 5xx, throttling) is
// retried here, with backoff and jitter over the retry window (retry.ts),
// each retry logged; the SDK itself makes one attempt per request, so that
// no retry goes unlogged or is counted twice.
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { release } from '../codec/release.js';
import type { S3Settings } from '../config.js';
import { CorruptBackupError, TemporaryError } from '../errors.js';
import type { Logger } from '../log.js';
import { fromNodeProviderChain, ListObjectsV2Command, S3Client } from './aws-sdk.js';
import { reportCredentials, warnIfSeveralSources } from './credentials.js';
import { errorSummary, isTransient, mapS3Error } from './s3-errors.js';
import { createObjectGet, type ObjectGet } from './s3-get.js';
import { KeptPages, limitBody, ListingPager, ListingTooLargeError, MAX_LISTING_PAGE_BYTES } from './s3-listing.js';
import { describeRetry, RetryWindow, type RetryPolicy } from './retry.js';
import { NEARBY_PAGE, type Nearby, type ObjectInfo, type ReadOptions, type Store } from './store.js';

export interface S3StoreOptions {
  readonly bucket: string;
  readonly prefix: string;
  readonly settings: S3Settings;
  readonly concurrency: number;
  /** Objects larger than two parts are fetched as ranged parts in parallel. */
  readonly partSize?: number;
  /** Where retries (warn) and the credential source (infoLevel) are reported. */
  readonly log?: Pick<Logger, 'warn' | 'info' | 'debug'>;
  /** The level of informational lines: debug for `list`, whose output is for people at a terminal. */
  readonly infoLevel?: 'info' | 'debug';
  /** The environment the SDK reads credentials from, for the credential-source lines (default: process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

// Ranged parts of one object held at most: 4 x 4 MiB keeps a large download
// parallel while the whole restore fits a 160 MiB memory limit.
const DEFAULT_PART_SIZE = 4 << 20;
const MAX_PARTS_IN_FLIGHT = 4;

/** Cuts a listing's body before the SDK buffers and parses it: a store controls its size. */
function limitListing(command: ListObjectsV2Command): ListObjectsV2Command {
  const limit = (next: (args: unknown) => Promise<{ response: { body?: unknown } }>) => async (args: unknown) => {
    const result = await next(args);
    const body = result.response.body;
    if (body instanceof Readable) result.response.body = limitBody(body, MAX_LISTING_PAGE_BYTES);
    return result;
  };
  // After the deserializer: between it and the HTTP handler, so it sees the raw response first.
  command.middlewareStack.addRelativeTo(limit as unknown as Parameters<typeof command.middlewareStack.addRelativeTo>[0], {
    relation: 'after',
    toMiddleware: 'deserializerMiddleware',
    name: 'sqliteRestoreListingLimit',
  });
  return command;
}

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
  private readonly retryPolicy: RetryPolicy;
  private readonly keptPages = new KeptPages();

  constructor(private readonly options: S3StoreOptions) {
    const { settings } = options;
    this.root = options.prefix ? `${options.prefix}/` : '';
    this.location = `s3://${options.bucket}/${options.prefix}${settings.endpoint ? ` at ${settings.endpoint}` : ''}`;
    this.partSize = options.partSize ?? DEFAULT_PART_SIZE;
    this.retryPolicy = { windowMs: settings.retryWindowMs, maxAttempts: settings.maxAttempts };
    const agentOptions = { keepAlive: true, maxSockets: options.concurrency + 2 };
    // One connection pool for the SDK's requests (listing) and the direct GETs.
    const agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
    const connectionTimeoutMs = 5_000;
    this.client = new S3Client({
      region: settings.region,
      endpoint: settings.endpoint,
      forcePathStyle: settings.forcePathStyle,
      credentials: this.credentialProvider(),
      // Retries are ours (retryPolicy), logged, over the retry window.
      maxAttempts: 1,
      ...(settings.checksumMode
        ? { requestChecksumCalculation: settings.checksumMode, responseChecksumValidation: settings.checksumMode }
        : {}),
      // Response headers that never come are a stall too: a TimeoutError, retried like the others.
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

  /** The SDK's Node provider chain, saying once which source it resolved (and warning when several are set up). */
  private credentialProvider(): ReturnType<typeof fromNodeProviderChain> {
    const { log: logger, infoLevel = 'info' } = this.options;
    const env = this.options.env ?? process.env;
    const chain = fromNodeProviderChain();
    if (!logger) return chain;
    const log = { warn: logger.warn.bind(logger), info: logger[infoLevel].bind(logger) };
    warnIfSeveralSources(log, env);
    let reported = false;
    return async (args) => {
      const credentials = await chain(args);
      if (!reported) {
        reported = true;
        reportCredentials(log, credentials, env);
      }
      return credentials;
    };
  }

  async *list(prefix: string, signal: AbortSignal): AsyncIterable<ObjectInfo> {
    const where = `s3://${this.options.bucket}/${this.root}${prefix}`;
    const kept = this.keptPages.take(prefix);
    const pager = kept?.pager ?? new ListingPager(where, this.root);
    const first = kept ?? { pager, ...pager.accept(await this.listPage(this.root + prefix, undefined, where, signal), undefined), fetchedAt: Date.now() };
    let onFirstPage = true;
    try {
      yield* first.objects;
      let token = first.next;
      onFirstPage = false;
      while (token !== undefined) {
        const { objects, next } = pager.accept(await this.listPage(this.root + prefix, token, where, signal), token);
        yield* objects;
        token = next;
      }
    } finally {
      // Stopped early (layout detection), or the whole listing was one page: the next listing of this prefix may replay it, once.
      if (!kept && (onFirstPage || first.next === undefined)) this.keptPages.keep(prefix, first);
    }
  }

  async nearby(signal: AbortSignal): Promise<Nearby> {
    const { bucket, prefix } = this.options;
    const slash = prefix.lastIndexOf('/');
    const parent = prefix ? prefix.slice(0, slash + 1) : undefined;
    const names = async (at: string): Promise<string[]> => {
      const command = limitListing(new ListObjectsV2Command({ Bucket: bucket, Prefix: at, Delimiter: '/', MaxKeys: NEARBY_PAGE }));
      const page = await this.client.send(command, { abortSignal: signal });
      const keys = [...(page.CommonPrefixes ?? []).map((p) => p.Prefix), ...(page.Contents ?? []).map((c) => c.Key)];
      return keys.flatMap((k) => (typeof k === 'string' && k.startsWith(at) && k.length > at.length ? [k.slice(at.length)] : [])).slice(0, NEARBY_PAGE);
    };
    const own = `${prefix.slice(slash + 1)}/`;
    const [inside, beside] = await Promise.all([names(this.root), parent === undefined ? [] : names(parent)]);
    return { parent: parent === undefined ? undefined : `s3://${bucket}/${parent}`, inside, beside: beside.filter((n) => n !== own) };
  }

  /** One page of a listing, retried over the retry window. */
  private async listPage(prefix: string, token: string | undefined, where: string, signal: AbortSignal) {
    const retry = new RetryWindow(this.retryPolicy);
    for (;;) {
      const command = limitListing(new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: prefix, ContinuationToken: token }));
      try {
        return await this.client.send(command, { abortSignal: signal });
      } catch (err) {
        signal.throwIfAborted();
        if ((err as Error)?.name === ListingTooLargeError.name) {
          throw new TemporaryError(`listing ${where}: the store sent a page of more than ${MAX_LISTING_PAGE_BYTES >> 20} MiB; abandoned (a broken or hostile store?)`);
        }
        if (isUnreadableListing(err)) {
          throw new TemporaryError(`listing ${where}: the store's answer is not a listing that can be read (${firstLine(err)}); a broken S3-compatible store or a proxy in between?`, {
            cause: err,
          });
        }
        await this.backoff(err, retry, `listing ${where}`, signal);
      }
    }
  }

  /**
   * After a failure: waits for the next attempt, or throws the mapped error
   * when the failure is not transient or the retry window is spent.
   */
  private async backoff(err: unknown, retry: RetryWindow, what: string, signal: AbortSignal): Promise<void> {
    const next = isTransient(err) ? retry.failed() : undefined;
    if (!next) {
      const attempts = isTransient(err) ? retry.attempts : 0;
      throw mapS3Error(err, what, this.options.bucket, attempts > 0 ? { attempts, elapsedMs: retry.elapsedMs } : undefined);
    }
    const report = { what, error: errorSummary(err), attempt: retry.attempts, ...next };
    this.options.log?.warn({ event: 'retry', ...report }, describeRetry(report));
    await sleep(next.delayMs, undefined, { signal });
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
   * Bytes [start, end) in a buffer of their own, so that the whole part can be
   * handed on, e.g. transferred to a worker. Each socket chunk is freed once
   * copied: left to the collector, those of a busy download piled up to about
   * 12 MiB more at peak (measured on a 1 GiB v0.5 restore).
   */
  private async rangeInto(info: ObjectInfo, start: number, end: number, options: ReadOptions): Promise<Buffer> {
    // range() yields exactly end - start bytes or throws.
    const into = Buffer.allocUnsafeSlow(end - start);
    let at = 0;
    for await (const chunk of this.range(info, start, end, options)) {
      at += chunk.copy(into, at);
      release(chunk);
    }
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
    const retry = new RetryWindow(this.retryPolicy);
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
          retry.progress();
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
        // The window counts from the first failure since bytes last arrived.
        await this.backoff(err, retry, `downloading ${info.key}`, signal);
      }
    }
  }
}

/** A 2xx answer the SDK could not parse as a listing (not XML, an impossible date...): retrying would get the same. */
function isUnreadableListing(err: unknown): boolean {
  const e = err as { $response?: unknown; $metadata?: { httpStatusCode?: number } } | undefined;
  const status = e?.$metadata?.httpStatusCode;
  return e?.$response !== undefined && status !== undefined && status >= 200 && status < 300;
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0] ?? '';
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

