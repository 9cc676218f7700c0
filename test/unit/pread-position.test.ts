import { test } from 'node:test';
import assert from 'node:assert/strict';
import { preadOffset, pread64Number } from '../../src/sqlite/pread-position.js';

test('the offset of a pread64 on one of the files, from a /proc/<pid>/task/<tid>/syscall line', () => {
  const fds = new Set([18]);
  assert.equal(preadOffset('17 0x12 0x7f2a4c001000 0x1000 0x40a3d000 0x0 0x0 0x7ffd5c1b0e48 0x7f2a5e31a7d1\n', 17, fds), 0x40a3d000);
  assert.equal(preadOffset('17 0x13 0x7f2a4c001000 0x1000 0x40a3d000 0x0 0x0 0x7ffd5c1b0e48 0x7f2a5e31a7d1', 17, fds), undefined, 'another file');
  assert.equal(preadOffset('0 0x12 0x7f2a4c001000 0x1000 0x0 0x0 0x0 0x7ffd5c1b0e48 0x7f2a5e31a7d1', 17, fds), undefined, 'another call');
  assert.equal(preadOffset('running\n', 17, fds), undefined);
  assert.equal(preadOffset('-1 0x7ffd5c1b0e48 0x7f2a5e31a7d1', 17, fds), undefined, 'blocked outside a call');
  assert.equal(pread64Number('x64'), 17);
  assert.equal(pread64Number('arm64'), 67);
  assert.equal(pread64Number('s390x'), undefined);
});
