// release() frees a downloaded buffer at once (not at the next major
// collection), and only buffers that own their whole memory; ReleasingChunks
// frees a stream's chunks only once its consumer cannot hold a view of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReleasingChunks, ownsBuffer, release } from '../../src/codec/release.js';

const MiB = 1 << 20;
const arrayBuffers = () => process.memoryUsage().arrayBuffers;

test('release frees the memory of a buffer that owns it, synchronously', () => {
  const big = Buffer.allocUnsafeSlow(64 * MiB).fill(7);
  const before = arrayBuffers();
  release(big);
  assert.equal(big.length, 0, 'the buffer is detached');
  assert.ok(before - arrayBuffers() >= 64 * MiB, `64 MiB freed without a collection (${((before - arrayBuffers()) / MiB).toFixed(1)} MiB)`);
});

test('buffers that share their memory, or are small, are left alone', () => {
  const whole = Buffer.allocUnsafeSlow(MiB).fill(1);
  const part = whole.subarray(0, MiB / 2);
  release(part);
  assert.equal(whole.length, MiB, 'a view of part of a buffer does not free it');
  assert.equal(part[0], 1);
  const small = Buffer.alloc(1024, 2); // may be a slice of the shared pool
  release(small);
  assert.equal(small[0], 2);
  assert.equal(ownsBuffer(Buffer.allocUnsafeSlow(32 << 10)), false);
  release(undefined);
  release(whole);
  release(whole); // already freed: nothing happens
  assert.equal(whole.length, 0);
});

test('ReleasingChunks frees a chunk once the next is asked for, the last on releaseRest()', async () => {
  const chunks = [0, 1, 2, 3].map((i) => Buffer.allocUnsafeSlow(MiB).fill(i));
  async function* source() {
    yield* chunks;
  }
  const releasing = new ReleasingChunks(source());
  const seen: number[][] = [];
  for await (const chunk of releasing) {
    assert.equal(chunk[0], seen.length, 'each chunk arrives intact');
    seen.push(chunks.map((c) => c.length));
  }
  assert.deepEqual(seen, [
    [MiB, MiB, MiB, MiB],
    [0, MiB, MiB, MiB],
    [0, 0, MiB, MiB],
    [0, 0, 0, MiB],
  ]);
  releasing.releaseRest();
  assert.deepEqual(chunks.map((c) => c.length), [0, 0, 0, 0]);
});
