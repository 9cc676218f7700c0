import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHECK_RESERVE_BYTES, memoryLimit, pageCacheRoom, verifyFromDiskWarning } from '../../src/local/page-cache-room.js';

const MiB = 1 << 20;
const GiB = 1 << 30;

test('no cgroup limit: the machine memory bounds the page cache (Node 20 says 2^64, later versions 0)', () => {
  for (const constrained of [0, 2 ** 64]) {
    assert.equal(memoryLimit({ constrained, total: 16 * GiB }), 16 * GiB);
    assert.equal(pageCacheRoom({ constrained, total: 16 * GiB, rss: 150 * MiB }), 16 * GiB - 150 * MiB - CHECK_RESERVE_BYTES);
  }
});

test("a container's limit leaves the page cache what this process and the check do not use", () => {
  assert.equal(pageCacheRoom({ constrained: 384 * MiB, total: 16 * GiB, rss: 150 * MiB }), 384 * MiB - 150 * MiB - CHECK_RESERVE_BYTES);
  assert.equal(pageCacheRoom({ constrained: 128 * MiB, total: 16 * GiB, rss: 150 * MiB }), 0);
});

test('the verify-from-disk warning: only when the database does not fit, naming the limit and the way out', () => {
  const chart = { constrained: 384 * MiB, total: 16 * GiB, rss: 150 * MiB };
  assert.equal(verifyFromDiskWarning(100 * MiB, 'quick_check', chart), undefined);
  const warning = verifyFromDiskWarning(GiB, 'quick_check', chart);
  assert.match(warning ?? '', /^the database \(1\.00 GiB\) does not fit in the page cache under this container's memory limit \(384\.0 MiB\)/);
  assert.match(warning ?? '', /quick_check reads it back from disk/);
  assert.match(warning ?? '', /memory limit above the database size plus 300 MiB/);
  assert.match(verifyFromDiskWarning(16 * GiB, 'integrity_check', { ...chart, constrained: 0 }) ?? '', /under this machine's memory \(16\.00 GiB\).*integrity_check/);
});
