// Runs a stream pipeline into an async sink and, when it fails, reports the
// sink's own error (a full disk, a corrupt WAL frame) rather than whatever
// error the teardown of the other streams produced last (often an AbortError).
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export type Sink = (source: AsyncIterable<Buffer>) => Promise<void>;

export async function pump(source: Readable, transform: Transform | undefined, sink: Sink, signal: AbortSignal): Promise<void> {
  let sinkError: { error: unknown } | undefined;
  const guarded: Sink = async (chunks) => {
    try {
      await sink(chunks);
    } catch (error) {
      sinkError = { error };
      throw error;
    }
  };
  try {
    if (transform) await pipeline(source, transform, guarded, { signal });
    else await pipeline(source, guarded, { signal });
  } catch (err) {
    throw sinkError ? sinkError.error : err;
  }
}
