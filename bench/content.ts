// Deterministic content for the benchmark's databases: a seeded generator, so
// the same workload can be replayed transaction for transaction against a
// second copy of the source (Litestream v0.5 replicates that copy while v0.3
// replicated the first), and both end in the same logical state.
//
// Realistic, partly compressible, fast: text from a fixed vocabulary, blobs
// half incompressible (slices of a 16 MiB pseudo-random pool; LZ4's 64 KiB
// window cannot find repeats in it) and half a repeated pattern.

/** mulberry32: tiny, fast, good enough for test data; the same seed gives the same sequence. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  uint32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** In [0, 1). */
  float(): number {
    return this.uint32() / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }
}

const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'ti', 'vo', 'ze', 'ba', 'do', 'fu', 'gi', 'ha', 'je', 'pe'];
const WORDS: string[] = [];
for (let i = 0; i < 400; i++) {
  let w = '';
  for (let n = 2 + (i % 3), x = i * 7919; n > 0; n--, x = Math.floor(x / 16) + 13) w += SYLLABLES[x % SYLLABLES.length];
  WORDS.push(w);
}

const POOL_BYTES = 16 << 20;
let pool: Buffer | undefined;
/** Pseudo-random bytes, the same in every process (built on first use, about 30 ms). */
function noisePool(): Buffer {
  if (!pool) {
    const rng = new Rng(0x5eed_b10b);
    const words = new Uint32Array(POOL_BYTES / 4);
    for (let i = 0; i < words.length; i++) words[i] = rng.uint32();
    pool = Buffer.from(words.buffer);
  }
  return pool;
}

export class Content {
  constructor(readonly rng: Rng) {}

  int(n: number): number {
    return this.rng.int(n);
  }

  word(): string {
    return WORDS[this.rng.int(WORDS.length)] as string;
  }

  sentence(minChars: number, maxChars: number): string {
    const target = minChars + this.rng.int(maxChars - minChars + 1);
    let s = '';
    while (s.length < target) s += (s ? ' ' : '') + this.word();
    return s.slice(0, target);
  }

  /** A price with two decimals. */
  price(): number {
    return Math.round(this.rng.float() * 1e6) / 100;
  }

  /** About half incompressible bytes, half a repeated pattern. */
  mixedBlob(size: number): Buffer {
    const noise = noisePool();
    const b = Buffer.allocUnsafe(size);
    const noisy = size >> 1;
    const off = this.rng.int(noise.length - noisy);
    noise.copy(b, 0, off, off + noisy);
    b.fill(`${this.word()}:${size};`, noisy);
    return b;
  }
}
