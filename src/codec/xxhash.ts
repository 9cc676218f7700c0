// The xxhash wasm module (XXH32 for LZ4 frames, XXH64 for zstd frames),
// initialised once per process and shared by every decoder.
import xxhash from 'xxhash-wasm';

export type XXHashApi = Awaited<ReturnType<typeof xxhash>>;

let xxhashPromise: Promise<XXHashApi> | undefined;

export function getXxhash(): Promise<XXHashApi> {
  if (!xxhashPromise) {
    xxhashPromise = xxhash();
    // Let a failed initialisation be retried by the next caller.
    xxhashPromise.catch(() => {
      xxhashPromise = undefined;
    });
  }
  return xxhashPromise;
}

const SLICE = 256 << 10;

/**
 * Feeds `data` to a streaming hasher in slices: xxhash-wasm copies each input
 * into its linear memory, which grows to the largest input and never shrinks
 * (4 MiB per thread for Litestream's LZ4 blocks).
 */
export function updateInSlices(hasher: { update(data: Uint8Array): unknown }, data: Uint8Array): void {
  for (let at = 0; at < data.length; at += SLICE) hasher.update(data.subarray(at, Math.min(at + SLICE, data.length)));
}

/** XXH32 (seed 0) of `data`, in slices when it is large; see updateInSlices(). */
export function xxh32(xx: XXHashApi, data: Uint8Array): number {
  if (data.length <= SLICE) return xx.h32Raw(data, 0) >>> 0;
  const hasher = xx.create32(0);
  updateInSlices(hasher, data);
  return hasher.digest() >>> 0;
}
