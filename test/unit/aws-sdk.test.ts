import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as sdk from '../../src/store/aws-sdk.js';

const bundle = fileURLToPath(new URL('../../src/store/aws-sdk.js', import.meta.url));
/** The scopes of the SDK's packages and of their own dependencies. */
const SDK_SCOPES = '@(?:aws-sdk|smithy|aws-crypto)/';

test('the built aws-sdk module exports what the S3 store uses', () => {
  for (const name of ['S3Client', 'GetObjectCommand', 'ListObjectsV2Command', 'SignatureV4', 'fromNodeProviderChain'] as const) {
    assert.equal(typeof sdk[name], 'function', name);
  }
});

test('the built aws-sdk module is one bundle: loading it reads no file of the SDK packages', () => {
  // Loaded from the packages, the SDK is hundreds of CommonJS files, each one
  // in the loader's cache; the bundle is one ES module and fills none.
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(bundle)});
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    const sdk = new RegExp(${JSON.stringify(`node_modules/${SDK_SCOPES}`)});
    console.log(JSON.stringify(loaded.filter((f) => sdk.test(f)).length));
  `;
  const sdkFiles = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } })) as number;
  assert.equal(sdkFiles, 0);
});

test('no other product module loads an SDK package at run time: the image ships the bundle, not the packages', async () => {
  const src = fileURLToPath(new URL('../../../src/', import.meta.url));
  const offenders: string[] = [];
  for (const entry of await readdir(src, { recursive: true })) {
    if (!entry.endsWith('.ts') || entry === 'store/aws-sdk.ts') continue;
    const text = await readFile(`${src}${entry}`, 'utf8');
    // `import type` is erased by tsc; any other import or import() of these packages stays.
    for (const [line] of text.matchAll(new RegExp(`^.*['"]${SDK_SCOPES}[^'"]*['"].*$`, 'gm'))) {
      if (!/^\s*import type /.test(line) && !/^\s*(\/\/|\*)/.test(line)) offenders.push(`src/${entry}: ${line.trim()}`);
    }
  }
  assert.deepEqual(offenders, []);
});
