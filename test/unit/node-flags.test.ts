import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CLI_NODE_FLAGS } from '../../bench/node-flags.js';

test('the benchmark starts the CLI with the node flags of the image entrypoint', () => {
  const dockerfile = readFileSync(new URL('../../../Dockerfile', import.meta.url), 'utf8');
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
  assert.ok(entrypoint, 'the Dockerfile has an exec-form ENTRYPOINT');
  const argv = JSON.parse(entrypoint) as string[];
  assert.equal(argv.at(-1), '/app/dist/src/cli.js');
  assert.deepEqual(argv.slice(1, -1), CLI_NODE_FLAGS);
});
