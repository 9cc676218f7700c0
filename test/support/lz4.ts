// LZ4 frames for tampering with Litestream v0.3 objects in tests: decoding
// uses the product's decoder (not under test here, only a tool); the encoder
// stores data in uncompressed blocks with a valid content checksum, a
// well-formed frame whose payload we control exactly.
import xxhash from 'xxhash-wasm';
import { createLz4FrameDecoder } from '../../src/codec/lz4-frame.js';

const MAGIC = 0x184d2204;
const hasher = await xxhash();
const xxh32 = (data: Uint8Array): number => hasher.h32Raw(data, 0) >>> 0;

export async function lz4Decode(frame: Buffer): Promise<Buffer> {
  const decoder = await createLz4FrameDecoder();
  const chunks: Buffer[] = [];
  decoder.push(frame);
  for (let piece = decoder.read(); piece; piece = decoder.read()) chunks.push(Buffer.from(piece));
  decoder.end();
  return Buffer.concat(chunks);
}

/** Encodes `data` as an LZ4 frame of uncompressed 4 MiB blocks with a content checksum. */
export function lz4EncodeStored(data: Buffer): Buffer {
  const blockMax = 4 << 20;
  const header = Buffer.alloc(7);
  header.writeUInt32LE(MAGIC, 0);
  header[4] = 0x40 | 0x20 | 0x04; // version 01, independent blocks, content checksum
  header[5] = 7 << 4; // 4 MiB max block size
  header[6] = (xxh32(header.subarray(4, 6)) >>> 8) & 0xff;
  const parts: Buffer[] = [header];
  for (let off = 0; off < data.length; off += blockMax) {
    const block = data.subarray(off, Math.min(off + blockMax, data.length));
    const size = Buffer.alloc(4);
    size.writeUInt32LE((block.length | 0x80000000) >>> 0, 0);
    parts.push(size, block);
  }
  const tail = Buffer.alloc(8);
  tail.writeUInt32LE(0, 0);
  tail.writeUInt32LE(xxh32(data), 4);
  parts.push(tail);
  return Buffer.concat(parts);
}
