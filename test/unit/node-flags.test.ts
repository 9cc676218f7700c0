import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CLI_ENV, CLI_NODE_FLAGS } from '../../bench/node-flags.js';

test('the benchmark starts the CLI with the node flags of the image entrypoint', () => {
  const dockerfile = readFileSync(new URL('../../../Dockerfile', import.meta.url), 'utf8');
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
  assert.ok(entrypoint, 'the Dockerfile has an exec-form ENTRYPOINT');
  const argv = JSON.parse(entrypoint) as string[];
  assert.equal(argv.at(-1), '/app/dist/src/cli.js');
  assert.deepEqual(argv.slice(1, -1), CLI_NODE_FLAGS);
});

test('the benchmark and the memory tests run the CLI with the environment the image sets', () => {
  const dockerfile = readFileSync(new URL('../../../Dockerfile', import.meta.url), 'utf8');
  // The runtime stage's ENV instructions, continuation lines joined.
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM ')).replace(/\\\n\s*/g, ' ');
  const env: Record<string, string> = {};
  for (const line of runtime.split('\n').filter((l) => l.startsWith('ENV '))) {
    for (const [, key, value] of line.slice(4).matchAll(/(\w+)=(\S+)/g)) env[key as string] = value as string;
  }
  assert.ok(Object.keys(CLI_ENV).length > 0);
  for (const [key, value] of Object.entries(CLI_ENV)) assert.equal(env[key], value, `the image sets ${key}=${value}`);
});

test('the base images are pinned by digest, and the licence the image declares is the one in LICENSE', () => {
  const dockerfile = readFileSync(new URL('../../../Dockerfile', import.meta.url), 'utf8');
  for (const arg of ['BUILD_IMAGE', 'RUNTIME_IMAGE']) {
    const value = new RegExp(`^ARG ${arg}=(\\S+)$`, 'm').exec(dockerfile)?.[1];
    assert.match(value ?? '', /^[a-z0-9./-]+(:[\w.-]+)?@sha256:[0-9a-f]{64}$/, `${arg} is pinned by digest`);
  }
  const license = readFileSync(new URL('../../../LICENSE', import.meta.url), 'utf8');
  assert.match(license, /Apache License\s+Version 2\.0, January 2004/);
  assert.match(dockerfile, /org\.opencontainers\.image\.licenses="Apache-2\.0"/);
  assert.match(dockerfile, /org\.opencontainers\.image\.revision="\$\{REVISION\}"/);
  assert.match(dockerfile, /org\.opencontainers\.image\.source="\$\{SOURCE\}"/);
});
