// The decompressors for each compression a plan step may name: as streams,
// and as synchronous decoders for a consumer that uses each piece of output at
// once (the snapshot worker), which saves a copy and the stream machinery.
import { PassThrough, type Transform } from 'node:stream';
import type { Compression } from './layout/layout.js';
import { createLz4FrameDecoder, createTransientLz4Decoder } from './lz4/frame.js';
import { createZstdDecoder, createZstdTransform } from './layout/zlayer/zstd.js';

export async function createDecoder(compression: Compression, name: string): Promise<Transform> {
  if (compression === 'zstd') return createZstdTransform({ name });
  return compression === 'lz4' ? createLz4FrameDecoder({ name }) : new PassThrough();
}

export interface SyncDecoder {
  /** Decodes `chunk`, which the caller may reuse afterwards; `sink` gets views that are only valid during its call. */
  write(chunk: Uint8Array, sink: (data: Uint8Array) => void): void;
  /** Throws when the input did not end cleanly. */
  end(): void;
}

export async function createSyncDecoder(compression: Compression, name: string): Promise<SyncDecoder> {
  if (compression === 'lz4') {
    const lz4 = await createTransientLz4Decoder({ name });
    return { write: (chunk, sink) => lz4.decodeTransient(chunk, sink), end: () => lz4.finish() };
  }
  if (compression === 'zstd') {
    const zstd = await createZstdDecoder({ name });
    return {
      write(chunk, sink) {
        // The decoder keeps unconsumed input; the caller may reuse `chunk`.
        zstd.push(new Uint8Array(chunk));
        for (let out = zstd.read(); out; out = zstd.read()) sink(out);
      },
      end: () => void zstd.end(),
    };
  }
  return { write: (chunk, sink) => sink(chunk), end: () => undefined };
}
