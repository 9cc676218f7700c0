// The one small interface every backup layout reads through. Keys are relative
// to the replica root (the URL's path), always with "/" separators.
import type { Readable } from 'node:stream';

export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
  /** Used to pin resumed reads to the same object version. */
  readonly etag?: string | undefined;
}

export interface ReadOptions {
  readonly signal: AbortSignal;
  /** Called with the size of every chunk received, for progress reporting. */
  readonly onBytes?: (n: number) => void;
}

export interface Store {
  /** A human-readable location, safe to log. */
  readonly location: string;
  /** Every object whose key starts with `prefix`, in no particular order. */
  list(prefix: string, signal: AbortSignal): AsyncIterable<ObjectInfo>;
  /**
   * The object's bytes. Implementations retry and resume on their own; the
   * stream errors with a RestoreError once they give up, and ends only after
   * exactly `info.size` bytes.
   */
  read(info: ObjectInfo, options: ReadOptions): Readable;
  /**
   * The whole object in one buffer, with the same retries: for small objects,
   * without a stream's per-object cost. Optional (callers fall back to read()).
   */
  readAll?(info: ObjectInfo, options: ReadOptions): Promise<Buffer>;
  /** Bytes [start, end) of the object, with the same retries; optional (readHead falls back to read()). */
  readRange?(info: ObjectInfo, start: number, end: number, options: ReadOptions): Readable;
}

/** The first `length` bytes of an object (fewer if it is shorter), e.g. a file header. */
export async function readHead(store: Store, info: ObjectInfo, length: number, signal: AbortSignal): Promise<Buffer> {
  const end = Math.min(length, info.size);
  if (end === 0) return Buffer.alloc(0);
  const stream = store.readRange ? store.readRange(info, 0, end, { signal }) : store.read(info, { signal });
  const chunks: Buffer[] = [];
  let got = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      got += (chunk as Buffer).length;
      if (got >= end) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, end);
}
