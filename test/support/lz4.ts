// Minimal LZ4 *frame* codec for inspecting and tampering with Litestream v0.3
// objects in tests. The decoder handles everything Litestream writes (linked or
// independent blocks, optional block/content checksums, content size). The
// encoder stores data in uncompressed blocks with a valid content checksum: a
// well-formed frame whose payload we control exactly.
import xxhash from 'xxhash-wasm';

const MAGIC = 0x184d2204;
const hasher = await xxhash();
const xxh32 = (data: Uint8Array): number => hasher.h32Raw(data, 0) >>> 0;

export function lz4Decode(frame: Buffer): Buffer {
  if (frame.length < 7 || frame.readUInt32LE(0) !== MAGIC) throw new Error('lz4: bad magic');
  const flg = frame[4]!;
  if (flg >> 6 !== 1) throw new Error('lz4: unsupported frame version');
  const blockChecksum = (flg & 0x10) !== 0;
  const hasContentSize = (flg & 0x08) !== 0;
  const contentChecksum = (flg & 0x04) !== 0;
  const hasDictId = (flg & 0x01) !== 0;
  let pos = 6 + (hasContentSize ? 8 : 0) + (hasDictId ? 4 : 0);
  const hc = frame[pos];
  if (hc !== ((xxh32(frame.subarray(4, pos)) >>> 8) & 0xff)) throw new Error('lz4: bad header checksum');
  pos += 1;

  const out = new Output();
  for (;;) {
    if (pos + 4 > frame.length) throw new Error('lz4: truncated frame');
    const word = frame.readUInt32LE(pos);
    pos += 4;
    if (word === 0) break;
    const size = word & 0x7fffffff;
    if (pos + size > frame.length) throw new Error('lz4: truncated block');
    const block = frame.subarray(pos, pos + size);
    pos += size;
    if (blockChecksum) {
      if (pos + 4 > frame.length) throw new Error('lz4: truncated block checksum');
      if (frame.readUInt32LE(pos) !== xxh32(block)) throw new Error('lz4: bad block checksum');
      pos += 4;
    }
    if (word & 0x80000000) {
      out.reserve(block.length);
      block.copy(out.buf, out.len);
      out.len += block.length;
    } else {
      decodeBlock(block, out);
    }
  }
  const content = out.buf.subarray(0, out.len);
  if (contentChecksum) {
    if (pos + 4 > frame.length) throw new Error('lz4: truncated content checksum');
    if (frame.readUInt32LE(pos) !== xxh32(content)) throw new Error('lz4: bad content checksum');
  }
  return content;
}

/** Growable output buffer; `len` bytes are valid. */
class Output {
  buf = Buffer.alloc(1 << 20);
  len = 0;
  reserve(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const bigger = Buffer.alloc(size);
    this.buf.copy(bigger, 0, 0, this.len);
    this.buf = bigger;
  }
}

/** Decodes one LZ4 block, appending to `out`; matches may reach into earlier blocks. */
function decodeBlock(src: Buffer, out: Output): void {
  let ip = 0;
  for (;;) {
    const token = src[ip++];
    if (token === undefined) throw new Error('lz4: truncated sequence');
    let lit = token >> 4;
    if (lit === 15) {
      let b: number | undefined;
      do {
        b = src[ip++];
        if (b === undefined) throw new Error('lz4: truncated literal length');
        lit += b;
      } while (b === 255);
    }
    if (ip + lit > src.length) throw new Error('lz4: literal overrun');
    out.reserve(lit);
    src.copy(out.buf, out.len, ip, ip + lit);
    ip += lit;
    out.len += lit;
    if (ip === src.length) return; // the last sequence has literals only
    if (ip + 2 > src.length) throw new Error('lz4: truncated offset');
    const offset = src.readUInt16LE(ip);
    ip += 2;
    if (offset === 0 || offset > out.len) throw new Error('lz4: bad match offset');
    let len = token & 15;
    if (len === 15) {
      let b: number | undefined;
      do {
        b = src[ip++];
        if (b === undefined) throw new Error('lz4: truncated match length');
        len += b;
      } while (b === 255);
    }
    len += 4;
    out.reserve(len);
    const buf = out.buf;
    let op = out.len;
    for (let i = 0; i < len; i++, op++) buf[op] = buf[op - offset]!;
    out.len = op;
  }
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
