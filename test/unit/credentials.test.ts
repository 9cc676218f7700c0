// Which AWS credential source the store says it uses (src/store/credentials.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configuredSources, predictedSource, reportCredentials, resolvedSource, warnIfSeveralSources } from '../../src/store/credentials.js';

// HOME without ~/.aws, so that the machine's own files do not count.
const env = (vars: Record<string, string>): NodeJS.ProcessEnv => ({ HOME: '/nonexistent', ...vars });
const KEYS = { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'very-secret-value' };
const IRSA = { AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/app', AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token' };
const POD_IDENTITY = { AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.23/v1/credentials', AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: '/t' };

function recorder() {
  const lines: Array<{ level: string; obj: object; msg: string }> = [];
  return {
    lines,
    info: (obj: object, msg: string) => lines.push({ level: 'info', obj, msg }),
    warn: (obj: object, msg: string) => lines.push({ level: 'warn', obj, msg }),
  };
}

test('the configured sources come in the order of the SDK chain', () => {
  assert.deepEqual(configuredSources(env({ ...IRSA, ...KEYS, ...POD_IDENTITY })).map((s) => s.id), ['environment', 'web-identity', 'container']);
  // AWS_PROFILE makes the chain skip the environment keys.
  assert.deepEqual(configuredSources(env({ ...KEYS, AWS_PROFILE: 'backup' })).map((s) => s.id), ['profile', 'environment']);
  // Half a source is none.
  assert.deepEqual(configuredSources(env({ AWS_ACCESS_KEY_ID: 'x', AWS_ROLE_ARN: 'arn' })), []);
  assert.equal(predictedSource(env({}))?.id, 'instance-metadata');
  assert.equal(predictedSource(env({ AWS_EC2_METADATA_DISABLED: 'true' })), undefined);
});

test('static keys beside IRSA: a warning that names the keys as the winner, and never a secret', () => {
  const log = recorder();
  warnIfSeveralSources(log, env({ ...KEYS, ...IRSA }));
  assert.equal(log.lines.length, 1);
  const [line] = log.lines;
  assert.equal(line?.level, 'warn');
  assert.match(line?.msg ?? '', /more than one AWS credential source is configured: static keys from the environment .*; web identity, e\.g\. IRSA .*here static keys from the environment/);
  assert.deepEqual(line?.obj, { event: 'credentials-ambiguous', configured: ['environment', 'web-identity'], expected: 'environment' });
  const text = JSON.stringify(log.lines);
  for (const value of [...Object.values(KEYS), ...Object.values(IRSA)]) assert.ok(!text.includes(value), `${value} must not be logged`);
  // One source: nothing to warn about.
  const quiet = recorder();
  warnIfSeveralSources(quiet, env(IRSA));
  assert.equal(quiet.lines.length, 0);
});

test('the source the SDK stamped on the credentials wins over the prediction', () => {
  assert.equal(resolvedSource({ accessKeyId: 'a', $source: { CREDENTIALS_ENV_VARS: 'g' } })?.id, 'environment');
  assert.equal(resolvedSource({ $source: { CREDENTIALS_ENV_VARS_STS_WEB_ID_TOKEN: 'h', CREDENTIALS_STS_ASSUME_ROLE_WEB_ID: 'k' } })?.id, 'web-identity');
  assert.equal(resolvedSource({ $source: { CREDENTIALS_PROFILE: 'n' } })?.id, 'profile');
  assert.equal(resolvedSource({ $source: { CREDENTIALS_HTTP: 'z' } })?.id, 'container');
  assert.equal(resolvedSource({ accessKeyId: 'a' }), undefined);
  const log = recorder();
  reportCredentials(log, { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 's', $source: { CREDENTIALS_PROFILE: 'n' } }, env({ ...KEYS }));
  assert.deepEqual(log.lines, [
    { level: 'info', obj: { event: 'credentials', source: 'profile', how: 'reported by the SDK' }, msg: 'AWS credentials from static keys in a profile of the shared config files' },
  ]);
  const predicted = recorder();
  reportCredentials(predicted, { accessKeyId: 'x', secretAccessKey: 'y' }, env({}));
  assert.match(predicted.lines[0]?.msg ?? '', /EC2 instance metadata/);
  assert.equal((predicted.lines[0]?.obj as { how: string }).how, "predicted from the provider chain's order");
});
