// The README's configuration table is the user's reference: it must list
// exactly the variables the code reads, and its opening commands must stay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CONFIG_VARIABLES } from '../../src/config.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

test('README configuration table lists exactly the variables config.ts reads', () => {
  const documented = [...readme.matchAll(/^\| `(SQLITE_RESTORE_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual([...documented].sort(), [...CONFIG_VARIABLES].sort());
});

test('README opens with the demo and test commands', () => {
  const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  assert.equal(firstBlock, 'npm ci && npm run demo\nnpm ci && npm test\n');
});
