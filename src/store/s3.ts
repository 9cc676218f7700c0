// S3 and S3-compatible stores. One shared client; the SDK retries requests,
// and this module resumes bodies the SDK cannot (a dropped or stalled stream
// after the headers arrived) with a ranged GET pinned to the object's ETag.
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { S3Settings } from '../config.js';
import { CorruptBackupError } from '../errors.js';
import { isTransient, mapS3Error } from './s3-errors.js';
import type { ObjectInfo, ReadOptions, Store } from './store.js';

export interface S3StoreOptions {
  readonly bucket: string;
  readonly prefix: string;
  readonly settings: S3Settings;
  readonly concurrency: number;
  /** A body that delivers nothing for this long is dropped and resumed. */
  readonly idleTimeoutMs?: number;
}

class IdleTimeoutError extends Error {
  override name = 'IdleTimeoutError';
}

export class S3Store implements Store {
  readonly location: string;
  private readonly client: S3Client;
  private readonly root: string;
  private readonly idleTimeoutMs: number;

  constructor(private readonly options: S3StoreOptions) {
    const { settings } = options;
    this.root = options.prefix ? `${options.prefix}/` : '';
    this.location = `s3://${options.bucket}/${options.prefix}${settings.endpoint ? ` at ${settings.endpoint}` : ''}`;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
    const agent = { keepAlive: true, maxSockets: options.concurrency + 2 };
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
      requestHandler: { connectionTimeout: 5_000, httpAgent: agent, httpsAgent: agent },
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
    return Readable.from(this.chunks(info, options), { objectMode: false });
  }

  /** Yields the object's bytes, resuming after transient failures. */
  private async *chunks(info: ObjectInfo, { signal, onBytes }: ReadOptions): AsyncGenerator<Buffer> {
    const key = this.root + info.key;
    let position = 0;
    let failures = 0;
    let etag = info.etag;
    while (position < info.size || (position === 0 && info.size === 0)) {
      signal.throwIfAborted();
      let body: Readable | undefined;
      try {
        const response = await this.client.send(
          new GetObjectCommand({
            Bucket: this.options.bucket,
            Key: key,
            Range: position > 0 ? `bytes=${position}-` : undefined,
            IfMatch: position > 0 ? etag : undefined,
          }),
          { abortSignal: signal },
        );
        etag ??= response.ETag;
        body = response.Body as Readable;
        for await (const chunk of withIdleTimeout(body, this.idleTimeoutMs)) {
          position += chunk.length;
          failures = 0;
          onBytes?.(chunk.length);
          if (position > info.size) break;
          yield chunk;
        }
        if (position !== info.size) {
          throw new CorruptBackupError(`${info.key}: object is ${position} bytes, but was listed as ${info.size}`);
        }
        return;
      } catch (err) {
        body?.destroy();
        signal.throwIfAborted();
        failures += 1;
        if (!isTransient(err) || failures >= this.options.settings.maxAttempts) {
          throw mapS3Error(err, `downloading ${info.key}`, this.options.bucket);
        }
        // Exponential backoff with jitter, per consecutive failure.
        await sleep(Math.min(10_000, 200 * 2 ** failures) * (0.5 + Math.random() / 2), undefined, { signal });
      }
    }
  }
}

/** Iterates a body, destroying it when no data arrives for `ms`. */
async function* withIdleTimeout(body: Readable, ms: number): AsyncGenerator<Buffer> {
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => body.destroy(new IdleTimeoutError(`no data for ${ms} ms`)), ms);
  };
  try {
    arm();
    for await (const chunk of body) {
      arm();
      yield chunk as Buffer;
    }
  } finally {
    clearTimeout(timer);
  }
}

