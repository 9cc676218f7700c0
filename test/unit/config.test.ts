import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONFIG_VARIABLES, loadConfig, parseReplicaUrl, type Config } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRETzz';

const base = {
  SQLITE_RESTORE_REPLICA_URL: 's3://my-bucket/db/app.db',
  SQLITE_RESTORE_DB_PATH: '/data/app.db',
  AWS_SECRET_ACCESS_KEY: SECRET,
  AWS_ACCESS_KEY_ID: 'AKIAEXAMPLEEXAMPLE12',
};

function load(overrides: Record<string, string | undefined> = {}): Config {
  const env: Record<string, string | undefined> = { ...base, ...overrides };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return loadConfig(env);
}

/** Every message produced by a ConfigError in these tests, to check none leaks the secret. */
const messages: string[] = [];

function configError(fn: () => unknown, mentions?: string | RegExp): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected ConfigError, got ${String(caught)}`);
  assert.equal(caught.exitCode, 78);
  assert.equal(caught.kind, 'config');
  messages.push(caught.message);
  if (mentions !== undefined) {
    if (typeof mentions === 'string') assert.ok(caught.message.includes(mentions), `"${caught.message}" should mention ${mentions}`);
    else assert.match(caught.message, mentions);
  }
  return caught;
}

// ---------------------------------------------------------------------------
// Required variables

test('missing SQLITE_RESTORE_REPLICA_URL is a ConfigError naming it', () => {
  configError(() => load({ SQLITE_RESTORE_REPLICA_URL: undefined }), 'SQLITE_RESTORE_REPLICA_URL');
  configError(() => loadConfig({}), 'SQLITE_RESTORE_REPLICA_URL');
});

test('missing SQLITE_RESTORE_DB_PATH is a ConfigError naming it', () => {
  configError(() => load({ SQLITE_RESTORE_DB_PATH: undefined }), 'SQLITE_RESTORE_DB_PATH');
});

test('an empty required variable is a ConfigError', () => {
  configError(() => load({ SQLITE_RESTORE_REPLICA_URL: '' }), 'SQLITE_RESTORE_REPLICA_URL');
  configError(() => load({ SQLITE_RESTORE_DB_PATH: '' }), 'SQLITE_RESTORE_DB_PATH');
});

// ---------------------------------------------------------------------------
// Replica URL

test('parseReplicaUrl: s3 bucket and prefix, trailing slashes trimmed', () => {
  assert.deepEqual(parseReplicaUrl('s3://my-bucket/db/app.db'), {
    kind: 's3',
    bucket: 'my-bucket',
    prefix: 'db/app.db',
    url: 's3://my-bucket/db/app.db',
  });
  const trailing = parseReplicaUrl('s3://my-bucket/path/to///');
  assert.equal(trailing.kind, 's3');
  assert.ok(trailing.kind === 's3');
  assert.equal(trailing.bucket, 'my-bucket');
  assert.equal(trailing.prefix, 'path/to');
  assert.equal(trailing.url, 's3://my-bucket/path/to');
  for (const raw of ['s3://my-bucket', 's3://my-bucket/', 's3://my-bucket//']) {
    const r = parseReplicaUrl(raw);
    assert.ok(r.kind === 's3', raw);
    assert.equal(r.bucket, 'my-bucket');
    assert.equal(r.prefix, '', raw);
  }
  const dotted = parseReplicaUrl('s3://backups.example.com/a');
  assert.ok(dotted.kind === 's3');
  assert.equal(dotted.bucket, 'backups.example.com');
});

test('parseReplicaUrl: percent-encoded prefix is decoded', () => {
  const r = parseReplicaUrl('s3://my-bucket/my%20db/x');
  assert.ok(r.kind === 's3');
  assert.equal(r.prefix, 'my db/x');
});

test('parseReplicaUrl: file:///dir', () => {
  assert.deepEqual(parseReplicaUrl('file:///var/backups/app'), { kind: 'file', dir: '/var/backups/app', url: 'file:///var/backups/app' });
  const local = parseReplicaUrl('file://localhost/var/backups');
  assert.ok(local.kind === 'file');
  assert.equal(local.dir, '/var/backups');
  const trailing = parseReplicaUrl('file:///var/backups/app/');
  assert.ok(trailing.kind === 'file');
  assert.equal(trailing.dir, '/var/backups/app');
});

test('parseReplicaUrl: bad URLs are ConfigErrors', () => {
  for (const raw of [
    'ftp://host/dir',
    'http://my-bucket/x',
    'my-bucket/x',
    '/absolute/path',
    's3://',
    's3:///no-bucket/path',
    's3://MyBucket/x', // uppercase bucket
    's3://my_bucket/x',
    's3://ab/x', // too short
    `s3://${'a'.repeat(64)}/x`, // too long
    's3://-bucket/x',
    's3://user:pass@my-bucket/x', // credentials
    's3://AKIAEXAMPLE@my-bucket/x',
    's3://my-bucket/x?versionId=1',
    's3://my-bucket/x#frag',
    's3://my-bucket/a%2F..%2Fb', // encoded slashes around a dot-dot segment
    'file://remote-host/dir',
    'not a url',
  ]) {
    configError(() => parseReplicaUrl(raw), 'SQLITE_RESTORE_REPLICA_URL');
  }
});

test('parseReplicaUrl: "." and ".." path segments are refused, not resolved away', () => {
  // The URL parser resolves dot segments before the code can see them, so
  // "s3://my-bucket/a/../b" would silently become the prefix "b".
  for (const raw of ['s3://my-bucket/a/../b', 's3://my-bucket/a/%2e%2e/b', 's3://my-bucket/./a', 's3://my-bucket/a/..']) {
    configError(() => parseReplicaUrl(raw), 'SQLITE_RESTORE_REPLICA_URL');
  }
});

test('parseReplicaUrl: a URL with credentials does not echo them', () => {
  const err = configError(() => parseReplicaUrl(`s3://AKIAEXAMPLE:${encodeURIComponent(SECRET)}@my-bucket/x`));
  assert.ok(!err.message.includes('AKIAEXAMPLE'));
  assert.ok(!err.message.includes(encodeURIComponent(SECRET)));
});

test('parseReplicaUrl: a malformed percent escape in the path is a ConfigError', () => {
  // new URL() keeps "%zz" as is; decoding it must not escape as a URIError.
  configError(() => parseReplicaUrl('s3://my-bucket/a%zz/b'), 'SQLITE_RESTORE_REPLICA_URL');
});

test('loadConfig reports a bad replica URL as a ConfigError', () => {
  configError(() => load({ SQLITE_RESTORE_REPLICA_URL: 'ftp://x/y' }), 'SQLITE_RESTORE_REPLICA_URL');
  const c = load({ SQLITE_RESTORE_REPLICA_URL: 'file:///srv/replica' });
  assert.deepEqual(c.replica, { kind: 'file', dir: '/srv/replica', url: 'file:///srv/replica' });
});

// ---------------------------------------------------------------------------
// Defaults and derived settings

test('defaults', () => {
  const c = load();
  assert.deepEqual(c.replica, { kind: 's3', bucket: 'my-bucket', prefix: 'db/app.db', url: 's3://my-bucket/db/app.db' });
  assert.equal(c.dbPath, '/data/app.db');
  assert.equal(c.ifExists, 'skip');
  assert.equal(c.ifNoBackup, 'fail');
  assert.equal(c.verify, 'quick');
  assert.equal(c.markerPath, '/data/app.db.restore.json');
  assert.equal(c.concurrency, 8);
  assert.equal(c.timeoutSeconds, 900);
  assert.equal(c.logLevel, 'info');
  assert.equal(c.s3.endpoint, undefined);
  assert.equal(c.s3.forcePathStyle, false);
  assert.equal(c.s3.checksumMode, undefined);
  assert.equal(c.s3.region, 'us-east-1');
  assert.equal(c.s3.maxAttempts, undefined);
  assert.equal(c.s3.retryWindowMs, 60_000);
});

test('explicit settings are read', () => {
  const c = load({
    SQLITE_RESTORE_IF_EXISTS: 'overwrite',
    SQLITE_RESTORE_IF_NO_BACKUP: 'allow',
    SQLITE_RESTORE_VERIFY: 'full',
    SQLITE_RESTORE_MARKER_PATH: '/state/marker.json',
    SQLITE_RESTORE_CONCURRENCY: '3',
    SQLITE_RESTORE_TIMEOUT_SECONDS: '60',
    SQLITE_RESTORE_S3_REGION: 'eu-west-1',
    SQLITE_RESTORE_LOG_LEVEL: 'debug',
  });
  assert.equal(c.ifExists, 'overwrite');
  assert.equal(c.ifNoBackup, 'allow');
  assert.equal(c.verify, 'full');
  assert.equal(c.markerPath, '/state/marker.json');
  assert.equal(c.concurrency, 3);
  assert.equal(c.timeoutSeconds, 60);
  assert.equal(c.s3.region, 'eu-west-1');
  assert.equal(c.logLevel, 'debug');
});

test('region falls back to AWS_REGION then AWS_DEFAULT_REGION', () => {
  assert.equal(load({ AWS_REGION: 'ap-south-1', AWS_DEFAULT_REGION: 'sa-east-1' }).s3.region, 'ap-south-1');
  assert.equal(load({ AWS_DEFAULT_REGION: 'sa-east-1' }).s3.region, 'sa-east-1');
});

test('the db path is normalised and the marker path follows it', () => {
  const c = load({ SQLITE_RESTORE_DB_PATH: '/data//sub/../app.db' });
  assert.equal(c.dbPath, '/data/app.db');
  assert.equal(c.markerPath, '/data/app.db.restore.json');
});

test('force path style is true only with an endpoint (unless set)', () => {
  assert.equal(load().s3.forcePathStyle, false);
  const withEndpoint = load({ SQLITE_RESTORE_S3_ENDPOINT: 'http://minio:9000/' });
  assert.equal(withEndpoint.s3.forcePathStyle, true);
  assert.equal(withEndpoint.s3.endpoint, 'http://minio:9000');
  assert.equal(load({ SQLITE_RESTORE_S3_ENDPOINT: 'http://minio:9000', SQLITE_RESTORE_S3_FORCE_PATH_STYLE: 'false' }).s3.forcePathStyle, false);
  assert.equal(load({ SQLITE_RESTORE_S3_FORCE_PATH_STYLE: 'true' }).s3.forcePathStyle, true);
  configError(() => load({ SQLITE_RESTORE_S3_FORCE_PATH_STYLE: 'yes' }), 'SQLITE_RESTORE_S3_FORCE_PATH_STYLE');
  configError(() => load({ SQLITE_RESTORE_S3_ENDPOINT: 'not a url' }), 'SQLITE_RESTORE_S3_ENDPOINT');
});

test('checksum mode: WHEN_REQUIRED only for a custom endpoint, unless the SDK variables or the override say otherwise', () => {
  const endpoint = { SQLITE_RESTORE_S3_ENDPOINT: 'https://s3.example.net' };
  assert.equal(load().s3.checksumMode, undefined);
  assert.equal(load(endpoint).s3.checksumMode, 'WHEN_REQUIRED');
  assert.equal(load({ ...endpoint, AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_SUPPORTED' }).s3.checksumMode, undefined);
  assert.equal(load({ ...endpoint, AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_SUPPORTED' }).s3.checksumMode, undefined);
  assert.equal(load({ ...endpoint, SQLITE_RESTORE_S3_CHECKSUMS: 'when_supported' }).s3.checksumMode, 'WHEN_SUPPORTED');
  assert.equal(load({ ...endpoint, SQLITE_RESTORE_S3_CHECKSUMS: 'auto' }).s3.checksumMode, 'WHEN_REQUIRED');
  assert.equal(load({ SQLITE_RESTORE_S3_CHECKSUMS: 'when_required' }).s3.checksumMode, 'WHEN_REQUIRED');
  assert.equal(
    load({ SQLITE_RESTORE_S3_CHECKSUMS: 'when_required', AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_SUPPORTED' }).s3.checksumMode,
    'WHEN_REQUIRED',
  );
  configError(() => load({ SQLITE_RESTORE_S3_CHECKSUMS: 'sometimes' }), 'SQLITE_RESTORE_S3_CHECKSUMS');
});

// ---------------------------------------------------------------------------
// Invalid values

test('non-numeric, zero, negative or too large concurrency is a ConfigError naming the variable', () => {
  for (const value of ['abc', '0', '-1', '1.5', '65', '8 workers']) {
    configError(() => load({ SQLITE_RESTORE_CONCURRENCY: value }), 'SQLITE_RESTORE_CONCURRENCY');
  }
  assert.equal(load({ SQLITE_RESTORE_CONCURRENCY: '1' }).concurrency, 1);
  assert.equal(load({ SQLITE_RESTORE_CONCURRENCY: '64' }).concurrency, 64);
});

test('zero or non-numeric timeout and max attempts are ConfigErrors', () => {
  for (const value of ['0', 'soon', '-5']) {
    configError(() => load({ SQLITE_RESTORE_TIMEOUT_SECONDS: value }), 'SQLITE_RESTORE_TIMEOUT_SECONDS');
    configError(() => load({ SQLITE_RESTORE_MAX_ATTEMPTS: value }), 'SQLITE_RESTORE_MAX_ATTEMPTS');
  }
});

test('enum variables reject unknown values', () => {
  configError(() => load({ SQLITE_RESTORE_IF_EXISTS: 'replace' }), 'SQLITE_RESTORE_IF_EXISTS');
  configError(() => load({ SQLITE_RESTORE_IF_NO_BACKUP: 'ignore' }), 'SQLITE_RESTORE_IF_NO_BACKUP');
  configError(() => load({ SQLITE_RESTORE_VERIFY: 'paranoid' }), 'SQLITE_RESTORE_VERIFY');
  configError(() => load({ SQLITE_RESTORE_LOG_LEVEL: 'verbose' }), 'SQLITE_RESTORE_LOG_LEVEL');
});

test('relative db or marker paths are ConfigErrors', () => {
  configError(() => load({ SQLITE_RESTORE_DB_PATH: 'data/app.db' }), 'SQLITE_RESTORE_DB_PATH');
  configError(() => load({ SQLITE_RESTORE_DB_PATH: './app.db' }), 'SQLITE_RESTORE_DB_PATH');
  configError(() => load({ SQLITE_RESTORE_DB_PATH: '/data/' }), 'SQLITE_RESTORE_DB_PATH');
  configError(() => load({ SQLITE_RESTORE_MARKER_PATH: 'marker.json' }), 'SQLITE_RESTORE_MARKER_PATH');
  configError(() => load({ SQLITE_RESTORE_MARKER_PATH: '/data/app.db' }), 'SQLITE_RESTORE_MARKER_PATH');
});

test('the config object is frozen, deeply', () => {
  const c = load({ SQLITE_RESTORE_S3_ENDPOINT: 'http://minio:9000' });
  assert.ok(Object.isFrozen(c));
  assert.ok(Object.isFrozen(c.s3));
  assert.ok(Object.isFrozen(c.replica));
  assert.throws(() => {
    (c as { concurrency: number }).concurrency = 99;
  }, TypeError);
  assert.throws(() => {
    (c.s3 as { region: string }).region = 'x';
  }, TypeError);
  assert.equal(c.concurrency, 8);
});

test('the config holds no credentials', () => {
  const c = load();
  const text = JSON.stringify(c);
  assert.ok(!text.includes(SECRET));
  assert.ok(!text.includes(base.AWS_ACCESS_KEY_ID));
});

test('CONFIG_VARIABLES lists every SQLITE_RESTORE_* variable used here', () => {
  for (const name of [
    'SQLITE_RESTORE_REPLICA_URL',
    'SQLITE_RESTORE_DB_PATH',
    'SQLITE_RESTORE_S3_ENDPOINT',
    'SQLITE_RESTORE_S3_CHECKSUMS',
    'SQLITE_RESTORE_CONCURRENCY',
    'SQLITE_RESTORE_MARKER_PATH',
  ]) {
    assert.ok((CONFIG_VARIABLES as readonly string[]).includes(name), name);
  }
});

test('no error message contains the value of AWS_SECRET_ACCESS_KEY, even when it was pasted into the wrong variable', () => {
  const attempts: Array<Record<string, string | undefined>> = [
    { SQLITE_RESTORE_REPLICA_URL: undefined },
    { SQLITE_RESTORE_DB_PATH: undefined },
    { SQLITE_RESTORE_REPLICA_URL: SECRET },
    { SQLITE_RESTORE_REPLICA_URL: `s3://AKIAEXAMPLE:${SECRET}@my-bucket/x` },
    { SQLITE_RESTORE_REPLICA_URL: `s3://my-bucket/x?secret=${SECRET}` },
    { SQLITE_RESTORE_REPLICA_URL: `ftp://${SECRET}` },
    { SQLITE_RESTORE_DB_PATH: SECRET },
    { SQLITE_RESTORE_MARKER_PATH: SECRET },
    { SQLITE_RESTORE_CONCURRENCY: SECRET },
    { SQLITE_RESTORE_TIMEOUT_SECONDS: SECRET },
    { SQLITE_RESTORE_MAX_ATTEMPTS: SECRET },
    { SQLITE_RESTORE_IF_EXISTS: SECRET },
    { SQLITE_RESTORE_IF_NO_BACKUP: SECRET },
    { SQLITE_RESTORE_VERIFY: SECRET },
    { SQLITE_RESTORE_LOG_LEVEL: SECRET },
    { SQLITE_RESTORE_S3_CHECKSUMS: SECRET },
    { SQLITE_RESTORE_S3_FORCE_PATH_STYLE: SECRET },
    { SQLITE_RESTORE_S3_ENDPOINT: SECRET },
  ];
  for (const overrides of attempts) {
    const err = configError(() => load(overrides));
    assert.ok(!err.message.includes(SECRET), `message leaks the secret: ${err.message}`);
    assert.ok(!String(err.stack).includes(SECRET), 'stack leaks the secret');
  }
  // And none of the messages collected by the other tests in this file.
  for (const message of messages) assert.ok(!message.includes(SECRET), message);
});
