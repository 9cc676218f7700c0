import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import xxhash from 'xxhash-wasm';
import { createLz4FrameDecoder } from '../../src/codec/lz4-frame.js';
import { decodeBlock, Lz4BlockError } from '../../src/codec/lz4-block.js';
import { CorruptBackupError } from '../../src/errors.js';

const { h32Raw } = await xxhash();

const fixtureDir = new URL('../../../test/fixtures/lz4/', import.meta.url);

// ---------------------------------------------------------------------------
// Helpers that build LZ4 frames byte by byte.

function concat(...parts: ArrayLike<number>[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let i = 0;
  for (const p of parts) {
    out.set(p, i);
    i += p.length;
  }
  return out;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** LZ4 length extension bytes for a value that did not fit in a nibble. */
function lenExt(rest: number): number[] {
  const out: number[] = [];
  while (rest >= 255) {
    out.push(255);
    rest -= 255;
  }
  out.push(rest);
  return out;
}

/** One sequence: literals then a match. */
function seq(literals: Uint8Array, offset: number, matchLen: number): Uint8Array {
  const ml = matchLen - 4;
  assert.ok(ml >= 0);
  const token = (Math.min(literals.length, 15) << 4) | Math.min(ml, 15);
  return concat(
    [token],
    literals.length >= 15 ? lenExt(literals.length - 15) : [],
    literals,
    [offset & 0xff, offset >>> 8],
    ml >= 15 ? lenExt(ml - 15) : [],
  );
}

/** The last sequence of a block: literals only. */
function lastSeq(literals: Uint8Array): Uint8Array {
  return concat(
    [Math.min(literals.length, 15) << 4],
    literals.length >= 15 ? lenExt(literals.length - 15) : [],
    literals,
  );
}

type Block = { compressed: Uint8Array } | { stored: Uint8Array };

interface FrameOptions {
  independent?: boolean; // default true
  blockChecksum?: boolean; // default false
  contentChecksum?: boolean; // default true
  contentSize?: boolean; // default false
  blockSizeCode?: number; // 4..7, default 4 (64 KiB)
  /** Decoded content, needed for the content checksum and size. */
  content: Uint8Array;
}

function frame(blocks: Block[], o: FrameOptions): Uint8Array {
  const independent = o.independent ?? true;
  const blockChecksum = o.blockChecksum ?? false;
  const contentChecksum = o.contentChecksum ?? true;
  const contentSize = o.contentSize ?? false;
  const flg =
    (1 << 6) |
    (independent ? 0x20 : 0) |
    (blockChecksum ? 0x10 : 0) |
    (contentSize ? 0x08 : 0) |
    (contentChecksum ? 0x04 : 0);
  const bd = (o.blockSizeCode ?? 4) << 4;
  const desc = concat([flg, bd], contentSize ? u64(o.content.length) : []);
  const hc = (h32Raw(desc, 0) >>> 8) & 0xff;
  const parts: Uint8Array[] = [u32(0x184d2204), desc, new Uint8Array([hc])];
  for (const b of blocks) {
    const data = 'compressed' in b ? b.compressed : b.stored;
    parts.push(u32(data.length | ('stored' in b ? 0x80000000 : 0)), data);
    if (blockChecksum) parts.push(u32(h32Raw(data, 0)));
  }
  parts.push(u32(0));
  if (contentChecksum) parts.push(u32(h32Raw(o.content, 0)));
  return concat(...parts);
}

function skippable(magicLow: number, payload: Uint8Array): Uint8Array {
  return concat(u32(0x184d2a50 + magicLow), u32(payload.length), payload);
}

/** Feeds `input` in chunks of `chunkSize` bytes (each a reused buffer, as a caller may) and collects the output. */
async function decode(input: Uint8Array, chunkSize = input.length || 1, name?: string): Promise<Buffer> {
  const dec = await createLz4FrameDecoder(name === undefined ? undefined : { name });
  const out: Buffer[] = [];
  const chunk = new Uint8Array(chunkSize);
  for (let i = 0; i < input.length; i += chunkSize) {
    const part = input.subarray(i, i + chunkSize);
    chunk.set(part);
    dec.push(chunk.subarray(0, part.length));
    // A piece is only valid until the next read: copy it.
    for (let piece = dec.read(); piece; piece = dec.read()) out.push(Buffer.from(piece));
    chunk.fill(0xa5); // the decoder must not rely on a chunk once it asked for more
  }
  dec.end();
  return Buffer.concat(out);
}

/** Decodes with several chunkings (whole, 1 byte, 7 bytes) and checks each. */
async function assertDecodes(input: Uint8Array, expected: Uint8Array): Promise<void> {
  for (const chunk of [input.length || 1, 1, 7]) {
    const got = await decode(input, chunk);
    assert.equal(got.length, expected.length, `length with chunk size ${chunk}`);
    assert.ok(got.equals(expected), `content with chunk size ${chunk}`);
  }
}

async function assertCorrupt(input: Uint8Array, pattern: RegExp, chunkSize?: number): Promise<void> {
  await assert.rejects(decode(input, chunkSize), (err: unknown) => {
    assert.ok(err instanceof CorruptBackupError, `expected CorruptBackupError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'));
    return true;
  });
}

function repeat(s: string, n: number): Uint8Array {
  return text(s.repeat(n));
}

// ---------------------------------------------------------------------------
// Valid input

test('literal-only block with content checksum', async () => {
  const content = text('hello, lz4 frame');
  await assertDecodes(frame([{ compressed: lastSeq(content) }], { content }), content);
});

test('stored (uncompressed) blocks, no content checksum, every block size code', async () => {
  const a = text('stored block one;');
  const b = text(' and two');
  const content = concat(a, b);
  for (const code of [4, 5, 6, 7]) {
    const f = frame([{ stored: a }, { stored: b }], { content, contentChecksum: false, blockSizeCode: code });
    await assertDecodes(f, content);
  }
});

test('empty stored block', async () => {
  const content = text('ab');
  const f = frame([{ stored: text('a') }, { stored: new Uint8Array(0) }, { stored: text('b') }], { content, independent: false });
  await assertDecodes(f, content);
  // A stream that stops right after an empty stored block still lacks its EndMark.
  await assertCorrupt(f.subarray(0, f.length - 4 - 4 - 5), /before its EndMark \(after 2 blocks\)/);
});

test('empty frame (EndMark right after the header) decodes to nothing', async () => {
  const content = new Uint8Array(0);
  await assertDecodes(frame([], { content, contentSize: true }), content);
});

test('overlapping match with offset 1 (run length)', async () => {
  const block = concat(seq(text('x'), 1, 300), lastSeq(text('y')));
  const content = text('x'.repeat(301) + 'y');
  await assertDecodes(frame([{ compressed: block }], { content }), content);
});

test('overlapping matches with short and long periods', async () => {
  // offset 3, length 10 (byte loop) and offset 5, length 1000 (doubling copy)
  const block = concat(seq(text('abc'), 3, 10), seq(text('VWXYZ'), 5, 1000), lastSeq(text('!')));
  const content = text('abc'.repeat(5).slice(0, 13) + 'VWXYZ'.repeat(201) + '!');
  await assertDecodes(frame([{ compressed: block }], { content }), content);
});

test('non-overlapping short and long matches', async () => {
  const lit = text('0123456789abcdefghijklmnopqrstuvwxyz'.repeat(3)); // 108 bytes
  const block = concat(seq(lit, 108, 5), seq(new Uint8Array(0), 100, 100), lastSeq(text('.')));
  const expected = concat(lit, lit.subarray(0, 5), concat(lit, lit.subarray(0, 5)).subarray(13, 113), text('.'));
  await assertDecodes(frame([{ compressed: block }], { content: expected }), expected);
});

test('long literal and match length extensions (>= 15 + 255)', async () => {
  for (const litLen of [15, 269, 270, 15 + 255 + 10, 15 + 255 * 2, 1000]) {
    for (const matchLen of [19, 4 + 15 + 255, 4 + 15 + 255 + 3, 4 + 15 + 255 * 2]) {
      const lit = new Uint8Array(litLen);
      for (let i = 0; i < litLen; i++) lit[i] = (i * 7 + 3) & 0xff;
      const block = concat(seq(lit, litLen, matchLen), lastSeq(lit.subarray(0, 20)));
      const matched = new Uint8Array(matchLen);
      for (let i = 0; i < matchLen; i++) matched[i] = lit[i % litLen]!;
      const content = concat(lit, matched, lit.subarray(0, 20));
      const got = await decode(frame([{ compressed: block }], { content }));
      assert.ok(got.equals(content), `literals ${litLen}, match ${matchLen}`);
    }
  }
});

test('last sequence may be empty (token 0x00)', async () => {
  const block = concat(seq(text('abcd'), 4, 4), new Uint8Array([0]));
  const content = text('abcdabcd');
  await assertDecodes(frame([{ compressed: block }], { content }), content);
});

test('linked blocks use the previous blocks as dictionary', async () => {
  const b1 = text('The quick brown fox jumps over the lazy dog. ');
  // Block 2 copies 20 bytes from block 1, block 3 copies from both.
  const block2 = concat(seq(text('>>'), 47, 20), lastSeq(text('<<')));
  const out2 = concat(text('>>'), b1.subarray(0, 20), text('<<'));
  const prev = concat(b1, out2);
  const block3 = concat(seq(new Uint8Array(0), prev.length, prev.length), lastSeq(new Uint8Array(0)));
  const content = concat(b1, out2, prev);
  const f = frame([{ stored: b1 }, { compressed: block2 }, { compressed: block3 }], {
    content,
    independent: false,
    blockChecksum: true,
    contentSize: true,
  });
  await assertDecodes(f, content);

  // The same blocks in a frame that declares independent blocks must fail.
  const g = frame([{ stored: b1 }, { compressed: block2 }], { content: concat(b1, out2), independent: true });
  await assertCorrupt(g, /offset 47 reaches before the start/);
});

test('linked blocks: dictionary is the last 64 KiB, across many small blocks', async () => {
  // 70 stored blocks of 1000 bytes, then a block copying from 65535 bytes back.
  const parts: Uint8Array[] = [];
  const blocks: Block[] = [];
  for (let i = 0; i < 70; i++) {
    const b = new Uint8Array(1000);
    for (let j = 0; j < 1000; j++) b[j] = (i * 31 + j * 13) & 0xff;
    parts.push(b);
    blocks.push({ stored: b });
  }
  const before = concat(...parts);
  const far = before.subarray(before.length - 65535, before.length - 65535 + 300);
  blocks.push({ compressed: concat(seq(new Uint8Array(0), 65535, 300), lastSeq(new Uint8Array(0))) });
  const content = concat(before, far);
  await assertDecodes(frame(blocks, { content, independent: false }), content);

  // A full 64 KiB block followed by a block reaching its first byte.
  const big = new Uint8Array(65536);
  for (let j = 0; j < big.length; j++) big[j] = (j * 17) >>> 3;
  const content2 = concat(big, big.subarray(1, 101));
  const f2 = frame([{ stored: big }, { compressed: concat(seq(new Uint8Array(0), 65535, 100), lastSeq(new Uint8Array(0))) }], {
    content: content2,
    independent: false,
  });
  await assertDecodes(f2, content2);
});

test('multiple concatenated frames and skippable frames', async () => {
  const c1 = text('first frame, ');
  const c2 = text('second frame, ');
  const c3 = repeat('third ', 3);
  const input = concat(
    skippable(0, text('metadata')),
    frame([{ compressed: lastSeq(c1) }], { content: c1 }),
    skippable(15, new Uint8Array(0)),
    frame([{ stored: c2 }], { content: c2, contentChecksum: false, blockChecksum: true }),
    skippable(7, new Uint8Array(100)),
    frame([{ compressed: concat(seq(text('third '), 6, 12), lastSeq(new Uint8Array(0))) }], { content: c3, independent: false }),
  );
  await assertDecodes(input, concat(c1, c2, c3));
});

test('read() hands out one block at a time, each valid until the next read', async () => {
  const blocks: Block[] = [];
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 5; i++) {
    const lit = repeat(String(i), 100);
    parts.push(lit);
    blocks.push({ compressed: lastSeq(lit) });
  }
  const content = concat(...parts);
  const dec = await createLz4FrameDecoder();
  dec.push(frame(blocks, { content, independent: false }));
  let pieces = 0;
  for (let piece = dec.read(); piece; piece = dec.read()) {
    assert.ok(Buffer.from(piece).equals(Buffer.from(parts[pieces]!)), `block ${pieces}`);
    pieces += 1;
  }
  dec.end();
  assert.equal(pieces, 5);
});

test('nothing is decoded ahead of the reader: a bomb costs one block of memory per read', async () => {
  // 64 blocks of 4 MiB of zeros, about 16 KiB each compressed (LZ4's ratio tops out near 255): 256 MiB from 1 MiB.
  const zeros = new Uint8Array(4 << 20);
  const block = concat(seq(new Uint8Array([0]), 1, zeros.length - 1 - 5), lastSeq(new Uint8Array(5)));
  const input = frame(Array.from({ length: 64 }, () => ({ compressed: block })), { blockSizeCode: 7, content: new Uint8Array(0), contentChecksum: false });
  assert.ok(input.length < (256 << 20) / 200);
  const dec = await createLz4FrameDecoder();
  dec.push(input);
  const first = dec.read();
  assert.equal(first?.length, 4 << 20, 'one block per read');
  let total = first?.length ?? 0;
  for (let piece = dec.read(); piece; piece = dec.read()) total += piece.length;
  assert.equal(total, 64 * (4 << 20));
  dec.end();
});

// ---------------------------------------------------------------------------
// Real frames

function expectedSha(file: string): string {
  const line = readFileSync(new URL('expected-sha256.txt', fixtureDir), 'utf8')
    .split('\n')
    .find((l) => l.endsWith(`  ${file}`));
  assert.ok(line, `no expected sha256 for ${file}`);
  return line.split(' ')[0]!;
}

const GO_FIXTURE = 'litestream-pierrec-v4.1.18-default.lz4';
const CLI_FIXTURE = 'lz4cli-linked-64k-blockcrc.lz4';

/** Regenerates the fixture input as described in test/fixtures/lz4/README.txt. */
function fixtureInput(): Buffer {
  const lines: string[] = [];
  let s = 12345;
  let len = 0;
  for (let i = 0; len < 204800; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const line = `INSERT INTO events(id, kind, user, note) VALUES (${i}, 'kind-${s >>> 28}', 'user${(s >>> 16) % 97}@example.com', 'lorem ipsum dolor sit amet');\n`;
    lines.push(line);
    len += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, 204800);
}

for (const file of [GO_FIXTURE, CLI_FIXTURE]) {
  test(`real frame ${file} decodes to the expected sha256`, async () => {
    const input = readFileSync(new URL(file, fixtureDir));
    const want = expectedSha(file);
    for (const chunk of [input.length, 65536, 1000, 1]) {
      const out = await decode(input, chunk, file);
      assert.equal(createHash('sha256').update(out).digest('hex'), want, `chunk size ${chunk}`);
    }
    assert.ok((await decode(input)).equals(fixtureInput()));
  });
}

test('Go (pierrec/lz4 defaults) frame options are as documented', () => {
  const input = readFileSync(new URL(GO_FIXTURE, fixtureDir));
  assert.equal(input.readUInt32LE(0), 0x184d2204);
  assert.equal(input[4], 0x64); // version 1, independent blocks, content checksum
  assert.equal(input[5], 0x70); // 4 MiB maximum block size
});

test('the CLI fixture really references earlier blocks', async () => {
  const input = Buffer.from(readFileSync(new URL(CLI_FIXTURE, fixtureDir)));
  // Flip the frame to "independent blocks" (with a valid header checksum): decoding must fail.
  input[4] = input[4]! | 0x20;
  const desc = input.subarray(4, 4 + 2 + 8);
  input[14] = (h32Raw(desc, 0) >>> 8) & 0xff;
  await assertCorrupt(input, /reaches before the start of the available history/);
});

// ---------------------------------------------------------------------------
// Errors

const good = (() => {
  const content = text('abcdabcdabcdXYZ');
  return {
    content,
    bytes: frame([{ compressed: concat(seq(text('abcd'), 4, 8), lastSeq(text('XYZ'))) }], { content, blockChecksum: true }),
  };
})();

test('empty input is an error', async () => {
  await assertCorrupt(new Uint8Array(0), /^empty LZ4 input/);
  await assert.rejects(decode(new Uint8Array(0), 1, 'wal/x.lz4'), /^CorruptBackupError: wal\/x\.lz4: empty LZ4 input/);
});

test('input holding only skippable frames is an error', async () => {
  await assertCorrupt(skippable(1, text('x')), /no LZ4 frame/);
});

test('bad magic', async () => {
  await assertCorrupt(text('not lz4 at all'), /bad magic number 0x20746f6e/);
  // Garbage after a valid frame.
  await assertCorrupt(concat(good.bytes, text('junk')), /bad magic number .* at input offset \d+/);
  await assertCorrupt(concat(u32(0x184c2102), new Uint8Array(8)), /legacy LZ4 format/);
});

test('errors start with the name option', async () => {
  await assert.rejects(decode(text('nope'), 1, 'generations/abc/wal/00000001_00000000.wal.lz4'), (err: unknown) => {
    assert.ok(err instanceof CorruptBackupError);
    assert.match(err.message, /^generations\/abc\/wal\/00000001_00000000\.wal\.lz4: not an LZ4 frame: bad magic number/);
    assert.equal(err.exitCode, 65);
    return true;
  });
});

test('bad header checksum', async () => {
  const bad = Buffer.from(good.bytes);
  bad[6] = bad[6]! ^ 0x01;
  await assertCorrupt(bad, /LZ4 frame header checksum mismatch in frame 1/);
});

test('bad descriptor fields', async () => {
  const withDesc = (flg: number, bd: number): Uint8Array => {
    const desc = new Uint8Array([flg, bd]);
    return concat(u32(0x184d2204), desc, [(h32Raw(desc, 0) >>> 8) & 0xff], u32(0));
  };
  await assertCorrupt(withDesc(0x00, 0x40), /unsupported LZ4 frame version 0/);
  await assertCorrupt(withDesc(0x80, 0x40), /unsupported LZ4 frame version 2/);
  await assertCorrupt(withDesc(0x42, 0x40), /reserved bit set in the LZ4 frame flags/);
  await assertCorrupt(withDesc(0x40, 0x41), /reserved bit set in the LZ4 block descriptor/);
  await assertCorrupt(withDesc(0x40, 0x30), /invalid LZ4 maximum block size code 3/);
  const dict = new Uint8Array([0x41, 0x40, 1, 2, 3, 4]);
  await assertCorrupt(concat(u32(0x184d2204), dict, [(h32Raw(dict, 0) >>> 8) & 0xff], u32(0)), /external dictionary/);
});

test('flipped byte in a compressed block', async () => {
  const input = readFileSync(new URL(GO_FIXTURE, fixtureDir));
  for (const pos of [7 + 4 + 100, 7 + 4 + 5000, input.length - 20]) {
    const bad = Buffer.from(input);
    bad[pos] = bad[pos]! ^ 0x40;
    await assertCorrupt(bad, /LZ4 (content checksum mismatch|block|corrupt)/);
  }
});

test('random corruption never escapes as anything but CorruptBackupError', async () => {
  const input = readFileSync(new URL(CLI_FIXTURE, fixtureDir));
  const go = readFileSync(new URL(GO_FIXTURE, fixtureDir));
  let seed = 42;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed % n;
  };
  for (let i = 0; i < 150; i++) {
    const src = i % 2 === 0 ? input : go;
    const bad = Buffer.from(src);
    const flips = 1 + rnd(3);
    for (let k = 0; k < flips; k++) {
      const p = rnd(bad.length);
      bad[p] = bad[p]! ^ (1 + rnd(255));
    }
    await assertCorrupt(bad, /./);
  }
});

test('content checksum mismatch', async () => {
  const content = text('some content');
  const bad = frame([{ compressed: lastSeq(content) }], { content: text('other content') });
  await assertCorrupt(bad, /^LZ4 content checksum mismatch in frame 1 at input offset \d+ \(expected 0x[0-9a-f]{8}, got 0x[0-9a-f]{8}\)$/);
});

test('block checksum mismatch', async () => {
  const bad = Buffer.from(good.bytes);
  // Last block byte before the block checksum: 'Z' of the literals.
  const end = bad.length - 4 /* content checksum */ - 4 /* EndMark */ - 4; /* block checksum */
  bad[end - 1] = 'Q'.charCodeAt(0);
  await assertCorrupt(bad, /LZ4 block checksum mismatch in block 1 of frame 1 .*\(expected 0x[0-9a-f]{8}, got 0x[0-9a-f]{8}\)/);
});

test('content size mismatch', async () => {
  const content = text('twelve bytes');
  const f = frame([{ stored: content }], { content, contentSize: true });
  const withSize = (n: number): Uint8Array => {
    const bytes = Buffer.from(f);
    bytes.writeUInt32LE(n, 6);
    bytes[14] = (h32Raw(bytes.subarray(4, 14), 0) >>> 8) & 0xff;
    return bytes;
  };
  await assertDecodes(withSize(12), content);
  await assertCorrupt(withSize(13), /content size mismatch .*says 13 bytes, the blocks hold 12/);
  await assertCorrupt(withSize(5), /content size mismatch .*says 5 bytes but the blocks hold more/);
});

test('truncated stream at every length is an error', async () => {
  const content = concat(good.content, good.content);
  const full = concat(
    frame([{ compressed: concat(seq(text('abcd'), 4, 8), lastSeq(text('XYZ'))) }, { stored: good.content }], {
      content,
      blockChecksum: true,
      contentSize: true,
    }),
    skippable(2, text('tail')),
  );
  await assertDecodes(full, content);
  const frameEnd = full.length - 12;
  for (let n = 1; n < full.length; n++) {
    if (n === frameEnd) continue; // a complete frame; the rest is a whole skippable frame
    for (const chunk of [1, 5, n]) {
      await assertCorrupt(full.subarray(0, n), /^truncated LZ4 input: it ends .* \(after \d+ bytes\)$/, chunk);
    }
  }
  await assertCorrupt(full.subarray(0, full.length - 4), /in a skippable frame/);
  await assertCorrupt(good.bytes.subarray(0, good.bytes.length - 4), /in the content checksum of frame 1/);
  await assertCorrupt(good.bytes.subarray(0, good.bytes.length - 8), /before its EndMark \(after 1 blocks\)/);
});

test('block larger than the frame maximum', async () => {
  const big = new Uint8Array(65537);
  await assertCorrupt(frame([{ stored: big }], { content: big }), /is 65537 bytes, more than the frame's maximum block size of 65536/);
});

test('decoded block larger than the frame maximum', async () => {
  const content = new Uint8Array(65536 + 10);
  const block = concat(seq(new Uint8Array([0]), 1, 65536 + 5), lastSeq(new Uint8Array(4)));
  await assertCorrupt(frame([{ compressed: block }], { content }), /exceeds the maximum block size \(65536 bytes\)/);
  // The same block is fine with a 256 KiB maximum.
  await assertDecodes(frame([{ compressed: block }], { content, blockSizeCode: 5 }), content);
});

test('offset beyond history and offset 0', async () => {
  const c = text('abcd');
  await assertCorrupt(frame([{ compressed: concat(seq(c, 5, 4), lastSeq(c)) }], { content: c }), /match offset 5 reaches before the start of the available history \(4 bytes\)/);
  await assertCorrupt(frame([{ compressed: concat(seq(c, 0, 4), lastSeq(c)) }], { content: c }), /invalid match offset 0/);
  // Linked frames: history never spans frames.
  const twoFrames = concat(
    frame([{ stored: c }], { content: c, independent: false }),
    frame([{ compressed: concat(seq(new Uint8Array(0), 4, 4), lastSeq(new Uint8Array(0))) }], { content: c, independent: false }),
  );
  await assertCorrupt(twoFrames, /frame 2 .*match offset 4 reaches before the start/);
});

// ---------------------------------------------------------------------------
// decodeBlock directly

test('decodeBlock: truncated blocks and bounds', () => {
  const dst = new Uint8Array(64);
  const cases: [number[], RegExp][] = [
    [[], /expected a sequence token/],
    [[0xf0], /literal length extension/],
    [[0xf0, 255], /literal length extension/],
    [[0x50, 1, 2], /5 literal bytes announced but only 2 remain/],
    [[0x10, 1, 4], /match offset runs past/],
    [[0x1f, 1, 1, 0], /match length extension/],
    [[0x14, 1, 1, 0], /expected a sequence token/], // a block cannot end with a match
  ];
  for (const [bytes, re] of cases) {
    assert.throws(() => decodeBlock(new Uint8Array(bytes), dst, 0, dst.length), (e: unknown) => e instanceof Lz4BlockError && re.test(e.message));
  }
  // Output limit is respected exactly and nothing is written past it.
  const guard = new Uint8Array(16).fill(0xee);
  assert.equal(decodeBlock(new Uint8Array([0x40, 1, 2, 3, 4]), guard, 4, 8), 8);
  assert.deepEqual([...guard.subarray(0, 9)], [0xee, 0xee, 0xee, 0xee, 1, 2, 3, 4, 0xee]);
  assert.throws(() => decodeBlock(new Uint8Array([0x50, 1, 2, 3, 4, 5]), guard, 4, 8), /exceeds the maximum block size/);
  assert.throws(() => decodeBlock(new Uint8Array([0x10, 9, 1, 0, 0x10, 7]), guard, 4, 8), /exceeds the maximum block size/);
  assert.equal(guard[8], 0xee);
  // History before dstStart is usable (dictionary).
  const d2 = new Uint8Array(16);
  d2.set([7, 8, 9], 0);
  assert.equal(decodeBlock(new Uint8Array([0x02, 3, 0, 0x00]), d2, 3, 16), 9);
  assert.deepEqual([...d2.subarray(3, 9)], [7, 8, 9, 7, 8, 9]);
});

test('a 4 MiB block with a block checksum (hashed in slices) decodes, and a flipped byte deep inside is caught', async () => {
  const big = new Uint8Array(4 << 20);
  for (let i = 0; i < big.length; i += 1) big[i] = (i * 2654435761) >>> 24;
  const f = frame([{ stored: big }], { content: big, blockChecksum: true, blockSizeCode: 7 });
  await assertDecodes(f, big);
  const bad = Uint8Array.from(f);
  bad[7 + 4 + 3_000_000] = (bad[7 + 4 + 3_000_000] as number) ^ 1; // header, block size, then 3 MB into the block
  await assertCorrupt(bad, /LZ4 block checksum mismatch in block 1 of frame 1/);
});
