// CRC-64 as Go's hash/crc64 computes it with the ISO table, which is what LTX
// files use for their file checksum and for page checksums (some LTX docs say
// ECMA; real files say ISO). Reflected polynomial 0xD800000000000000, initial
// value and final XOR all ones ("CRC-64/GO-ISO", check value 0xb90956c775a41001).
//
// JavaScript has no fast 64-bit integers, so the state is two uint32 halves and
// the tables are split the same way; slicing-by-8 keeps it near memory speed.

const POLY_HI = 0xd8000000;
const POLY_LO = 0x00000000;

// TABLES_x[k * 256 + b]: slice k of the classic byte table, high and low halves.
// Int32Array, not Uint32Array: V8 keeps int32 values unboxed, so the hot loop
// stays in small-integer arithmetic (uint32 values above 2^31 would be doubles).
const TABLES_HI = new Int32Array(8 * 256);
const TABLES_LO = new Int32Array(8 * 256);

for (let b = 0; b < 256; b += 1) {
  let hi = 0;
  let lo = b;
  for (let bit = 0; bit < 8; bit += 1) {
    const carry = lo & 1;
    lo = ((lo >>> 1) | (hi << 31)) >>> 0;
    hi >>>= 1;
    if (carry) {
      hi = (hi ^ POLY_HI) >>> 0;
      lo = (lo ^ POLY_LO) >>> 0;
    }
  }
  TABLES_HI[b] = hi;
  TABLES_LO[b] = lo;
}
for (let k = 1; k < 8; k += 1) {
  for (let b = 0; b < 256; b += 1) {
    // One more zero byte through the table: shift right 8 and fold the low byte back in.
    const prevHi = TABLES_HI[(k - 1) * 256 + b] as number;
    const prevLo = TABLES_LO[(k - 1) * 256 + b] as number;
    const idx = prevLo & 0xff;
    TABLES_HI[k * 256 + b] = (prevHi >>> 8) ^ (TABLES_HI[idx] as number);
    TABLES_LO[k * 256 + b] = ((prevLo >>> 8) | (prevHi << 24)) ^ (TABLES_LO[idx] as number);
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** An incremental CRC-64/GO-ISO. */
export class Crc64 {
  // The running register, kept inverted as Go does between calls.
  private hi = -1;
  private lo = -1;

  update(data: Uint8Array): this {
    const T_HI = TABLES_HI;
    const T_LO = TABLES_LO;
    let hi = this.hi;
    let lo = this.lo;
    let i = 0;
    const n = data.length;
    const fast = n - (n % 8);
    if (LITTLE_ENDIAN && (data.byteOffset & 3) === 0 && fast > 0) {
      // Aligned input (page buffers are): read whole 32-bit words at once.
      const words = new Int32Array(data.buffer, data.byteOffset, fast >>> 2);
      for (let w = 0; w < words.length; w += 2) {
        const a = lo ^ words[w]!;
        const b = hi ^ words[w + 1]!;
        hi = T_HI[7 * 256 + (a & 0xff)]! ^ T_HI[6 * 256 + ((a >>> 8) & 0xff)]! ^ T_HI[5 * 256 + ((a >>> 16) & 0xff)]! ^ T_HI[4 * 256 + (a >>> 24)]! ^
          T_HI[3 * 256 + (b & 0xff)]! ^ T_HI[2 * 256 + ((b >>> 8) & 0xff)]! ^ T_HI[256 + ((b >>> 16) & 0xff)]! ^ T_HI[b >>> 24]!;
        lo = T_LO[7 * 256 + (a & 0xff)]! ^ T_LO[6 * 256 + ((a >>> 8) & 0xff)]! ^ T_LO[5 * 256 + ((a >>> 16) & 0xff)]! ^ T_LO[4 * 256 + (a >>> 24)]! ^
          T_LO[3 * 256 + (b & 0xff)]! ^ T_LO[2 * 256 + ((b >>> 8) & 0xff)]! ^ T_LO[256 + ((b >>> 16) & 0xff)]! ^ T_LO[b >>> 24]!;
      }
      i = fast;
    }
    while (i < fast) {
      const a = lo ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
      const b = hi ^ (data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24));
      const i7 = 7 * 256 + (a & 0xff);
      const i6 = 6 * 256 + ((a >>> 8) & 0xff);
      const i5 = 5 * 256 + ((a >>> 16) & 0xff);
      const i4 = 4 * 256 + (a >>> 24);
      const i3 = 3 * 256 + (b & 0xff);
      const i2 = 2 * 256 + ((b >>> 8) & 0xff);
      const i1 = 256 + ((b >>> 16) & 0xff);
      const i0 = b >>> 24;
      hi = T_HI[i7]! ^ T_HI[i6]! ^ T_HI[i5]! ^ T_HI[i4]! ^ T_HI[i3]! ^ T_HI[i2]! ^ T_HI[i1]! ^ T_HI[i0]!;
      lo = T_LO[i7]! ^ T_LO[i6]! ^ T_LO[i5]! ^ T_LO[i4]! ^ T_LO[i3]! ^ T_LO[i2]! ^ T_LO[i1]! ^ T_LO[i0]!;
      i += 8;
    }
    while (i < n) {
      const idx = (lo ^ data[i]!) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ T_LO[idx]!;
      hi = (hi >>> 8) ^ T_HI[idx]!;
      i += 1;
    }
    this.hi = hi;
    this.lo = lo;
    return this;
  }

  /** The checksum of everything so far, as [high 32 bits, low 32 bits]. */
  digestParts(): [hi: number, lo: number] {
    return [~this.hi >>> 0, ~this.lo >>> 0];
  }

  digest(): bigint {
    const [hi, lo] = this.digestParts();
    return (BigInt(hi) << 32n) | BigInt(lo);
  }
}

export function crc64(data: Uint8Array): bigint {
  return new Crc64().update(data).digest();
}
