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
}
