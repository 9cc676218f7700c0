// Which values count as secrets, and that scrubbing keeps log lines valid JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { createScrubber, readTokenFile, REDACTED, secretsIn } from '../../src/secrets.js';

test('secretsIn: variables named like secrets, token files, and URL userinfo; not locations or identifiers', () => {
  const files: Record<string, string> = { '/var/run/secrets/token': 'eyJhbGciOiJSUzI1NiJ9.web-identity.sig\n' };
  const found = secretsIn(
    {
      AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG',
      AWS_SESSION_TOKEN: 'IQoJb3JpZ2luX2VjE-session',
      AWS_CONTAINER_AUTHORIZATION_TOKEN: 'container-auth-token',
      AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/secrets/token',
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: '/nowhere',
      MINIO_ROOT_PASSWORD: 'minio-root-pw',
      SQLITE_RESTORE_S3_ENDPOINT: 'http://endpoint-user:endp%40ss-word@minio:9000',
      SQLITE_RESTORE_REPLICA_URL: 's3://replica-user:replica-pw@bucket/x',
      HTTPS_PROXY: 'http://proxy-user:proxy-pass@proxy:3128',
      AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
      AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/restore',
      AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.23/v1/credentials',
      SHORT_TOKEN: 'abc',
      PATH: '/usr/bin',
    },
    (file) => files[file],
  );
  for (const secret of [
    'wJalrXUtnFEMI/K7MDENG',
    'IQoJb3JpZ2luX2VjE-session',
    'container-auth-token',
    'eyJhbGciOiJSUzI1NiJ9.web-identity.sig',
    'minio-root-pw',
    'endpoint-user',
    'endp%40ss-word',
    'endp@ss-word',
    'replica-user',
    'replica-pw',
    'proxy-pass',
  ]) {
    assert.ok(found.includes(secret), `${secret} should be a secret`);
  }
  for (const notSecret of ['AKIAIOSFODNN7EXAMPLE', 'arn:aws:iam::123456789012:role/restore', 'http://169.254.170.23/v1/credentials', '/usr/bin', 'abc', '/var/run/secrets/token']) {
    assert.ok(!found.includes(notSecret), `${notSecret} is not a secret`);
  }
});

test('readTokenFile: a regular file (through a symlink, as Kubernetes projects it); never blocks on a FIFO', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'secrets-'));
  try {
    writeFileSync(path.join(dir, 'token'), 'the-token');
    symlinkSync(path.join(dir, 'token'), path.join(dir, 'link'));
    execFileSync('mkfifo', [path.join(dir, 'fifo')]);
    assert.equal(readTokenFile(path.join(dir, 'token')), 'the-token');
    assert.equal(readTokenFile(path.join(dir, 'link')), 'the-token');
    assert.equal(readTokenFile(path.join(dir, 'fifo')), undefined);
    assert.equal(readTokenFile(dir), undefined);
    assert.equal(readTokenFile(path.join(dir, 'missing')), undefined);
    assert.equal(readTokenFile('relative/token'), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the scrubber replaces a secret as written, JSON-escaped and %-encoded', () => {
  const secret = 'p@ss"word\\with/odd\nchars';
  const scrub = createScrubber([secret]);
  assert.equal(scrub.text(`a ${secret} b`), `a ${REDACTED} b`);
  assert.equal(scrub.text(`http://u:${encodeURIComponent(secret)}@h`), `http://u:${REDACTED}@h`);
  const line = `${JSON.stringify({ level: 'error', msg: `failed with ${secret}`, nested: { [secret]: [secret] } })}\n`;
  const out = scrub.jsonLine(line);
  assert.ok(out.endsWith('\n'));
  const parsed = JSON.parse(out) as { msg: string; nested: Record<string, string[]> };
  assert.equal(parsed.msg, `failed with ${REDACTED}`);
  assert.deepEqual(parsed.nested, { [REDACTED]: [REDACTED] });
  assert.ok(!out.includes('p@ss'));
});

test('the scrubber keeps a line valid JSON even when the secret looks like its structure', () => {
  // A numeric secret matches a number outside any string; a plain replacement would break the line.
  const scrub = createScrubber(['1234567', 'level":"']);
  const out = scrub.jsonLine(`${JSON.stringify({ level: 'info', bytes: 1234567, msg: 'x 1234567 y' })}\n`);
  assert.deepEqual(JSON.parse(out), { level: 'info', bytes: REDACTED, msg: `x ${REDACTED} y` });
});

test('the scrubber leaves lines without secrets untouched, and ignores values too short to be secrets', () => {
  const scrub = createScrubber(['abc', 'longer-secret']);
  const line = '{"msg":"abc def"}\n';
  assert.equal(scrub.jsonLine(line), line);
  assert.equal(scrub.text('abc'), 'abc');
});
