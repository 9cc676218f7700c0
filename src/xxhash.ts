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
