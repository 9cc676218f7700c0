// Decoder for one raw LZ4 block (the "block format", not the frame format).
//
// A block is a sequence of sequences. Each sequence is:
//   token (1 byte): high nibble = literal length, low nibble = match length - 4
//   literal length extension: if the nibble is 15, add bytes until one is < 255
//   literals
//   offset (2 bytes, little endian, 1..65535)      -- absent in the last sequence
//   match length extension: as for literals        -- absent in the last sequence
// The last sequence of a block holds literals only: the block ends right after
// its literals.
//
// Everything read from `src` is untrusted: every length and offset is checked
// so a malformed block throws Lz4BlockError instead of reading or writing out
// of bounds, and the loop always advances through `src`, so it terminates.

/** Thrown by decodeBlock for malformed input. The message has no prefix. */
export class Lz4BlockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Lz4BlockError';
  }
}

/** Minimum match length of the LZ4 block format. */
export const MIN_MATCH = 4;

// Matches shorter than this are copied with a byte loop even when they do not
// overlap: for short runs the loop beats the call overhead of copyWithin.
const SHORT_MATCH = 16;
// Same trade-off for literal runs and set(subarray()).
const SHORT_LITERALS = 16;

/**
 * Decodes one LZ4 block from `src` into `dst` starting at `dstStart`.
 *
 * `dst[0..dstStart)` is history that matches may refer to (the previous output
 * of linked blocks, at most 64 KiB is ever referenced); pass 0 for independent
 * blocks. Output is never written at or beyond `dstLimit` (which must be
 * <= dst.length). Returns the end position of the decoded data in `dst`, so the
 * block decoded to `dst.subarray(dstStart, result)`.
 *
 * Throws Lz4BlockError when the block is malformed: truncated input, a zero
 * offset, an offset reaching before `dst[0]`, or output that would exceed
 * `dstLimit`.
 */
export function decodeBlock(src: Uint8Array, dst: Uint8Array, dstStart: number, dstLimit: number): number {
  if (!(dstStart >= 0 && dstStart <= dstLimit && dstLimit <= dst.length)) {
    throw new RangeError(`decodeBlock: bad output range ${dstStart}..${dstLimit} for a buffer of ${dst.length} bytes`);
  }
  const srcEnd = src.length;
  let s = 0;
  let d = dstStart;

  for (;;) {
    if (s >= srcEnd) {
      throw new Lz4BlockError(`truncated block: expected a sequence token at input offset ${s}`);
    }
    const token = src[s++]!;

    // ---- literals
    let litLen = token >>> 4;
    if (litLen === 15) {
      let b: number;
      do {
        if (s >= srcEnd) throw new Lz4BlockError('truncated block: literal length extension runs past the end of the block');
        b = src[s++]!;
        litLen += b;
      } while (b === 255);
    }
    if (litLen !== 0) {
      if (litLen > srcEnd - s) {
        throw new Lz4BlockError(`truncated block: ${litLen} literal bytes announced but only ${srcEnd - s} remain`);
      }
      if (litLen > dstLimit - d) {
        throw new Lz4BlockError(`decoded data exceeds the maximum block size (${dstLimit - dstStart} bytes)`);
      }
      if (litLen < SHORT_LITERALS) {
        const end = s + litLen;
        while (s < end) dst[d++] = src[s++]!;
      } else {
        dst.set(src.subarray(s, s + litLen), d);
        s += litLen;
        d += litLen;
      }
    }

    // The last sequence has literals only.
    if (s === srcEnd) return d;

    // ---- match
    if (srcEnd - s < 2) throw new Lz4BlockError('truncated block: match offset runs past the end of the block');
    const offset = src[s]! | (src[s + 1]! << 8);
    s += 2;
    if (offset === 0) throw new Lz4BlockError(`invalid match offset 0 at input offset ${s - 2}`);
    if (offset > d) {
      throw new Lz4BlockError(
        `match offset ${offset} reaches before the start of the available history (${d} bytes) at input offset ${s - 2}`,
      );
    }

    let matchLen = token & 15;
    if (matchLen === 15) {
      let b: number;
      do {
        if (s >= srcEnd) throw new Lz4BlockError('truncated block: match length extension runs past the end of the block');
        b = src[s++]!;
        matchLen += b;
      } while (b === 255);
    }
    matchLen += MIN_MATCH;
    if (matchLen > dstLimit - d) {
      throw new Lz4BlockError(`decoded data exceeds the maximum block size (${dstLimit - dstStart} bytes)`);
    }

    let m = d - offset;
    if (offset >= matchLen) {
      // Source and destination do not overlap.
      if (matchLen < SHORT_MATCH) {
        const end = d + matchLen;
        while (d < end) dst[d++] = dst[m++]!;
      } else {
        dst.copyWithin(d, m, m + matchLen);
        d += matchLen;
      }
    } else if (offset === 1) {
      // Run of one byte.
      dst.fill(dst[m]!, d, d + matchLen);
      d += matchLen;
    } else if (matchLen < SHORT_MATCH) {
      // Overlapping: the match repeats the last `offset` bytes; byte order matters.
      const end = d + matchLen;
      while (d < end) dst[d++] = dst[m++]!;
    } else {
      // Long overlapping match: dst[m..d) is one period of the pattern. Copy
      // the whole already-written stretch each time, doubling it, so every
      // copyWithin has source and destination apart.
      const end = d + matchLen;
      while (d < end) {
        const n = Math.min(d - m, end - d);
        dst.copyWithin(d, m, m + n);
        d += n;
      }
    }
  }
}
