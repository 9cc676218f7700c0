// The worker-side half of an applier: a module that decodes a plan's first
// object into writes of the database file. The worker imports it by URL, so
// the worker itself knows no format; a layout names its own module (or the
// image source below) and plain, structured-cloneable parameters.

export interface SnapshotWrite {
  /** Byte offset in the database file. */
  readonly position: number;
  /** Only valid until the next read() or push(). */
  readonly data: Uint8Array;
}

export interface SnapshotEnd {
  /** The database file's size in bytes; anything not written up to it reads as zeros. */
  readonly size: number;
  /** What the layout wants to check once the file is written (structured-cloneable). */
  readonly details?: unknown;
}

/**
 * Pull-based, like the codecs: push() input, read() writes until undefined,
 * end() after the last input. Writes ascend and end within the size end()
 * reports: the fold writes pages the snapshot has passed straight into the file.
 */
export interface SnapshotSource {
  push(chunk: Uint8Array): void;
  read(): SnapshotWrite | undefined;
  end(): SnapshotEnd;
}

/** A module exporting `createSnapshotSource(params, name): Promise<SnapshotSource>`, and its parameters. */
export interface SnapshotSourceSpec {
  readonly module: string;
  readonly params: unknown;
}

export type CreateSnapshotSource = (params: unknown, name: string) => Promise<SnapshotSource>;
