import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  CONFIG_VARIABLES,
  fallbackTerminationLog,
  loadConfig,
  MAX_DB_NAME_BYTES,
  MAX_FILE_NAME_BYTES,
  MAX_TIMER_SECONDS,
  parseReplicaUrl,
  type Config,
} from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { editDistance, unknownVariables } from '../../src/unknown-variables.js';

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
  assert.equal(c.concurrency, 32);
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
  assert.equal(c.concurrency, 32);
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

// ---------------------------------------------------------------------------
// Hostile and unlucky values (issue 9, item 8): each is a ConfigError naming the
// variable, never an internal error later, a storage error, or a silent ignore.

test('timeouts above what a Node timer holds are ConfigErrors; the maximum is accepted', () => {
  for (const name of ['SQLITE_RESTORE_TIMEOUT_SECONDS', 'SQLITE_RESTORE_IDLE_TIMEOUT_SECONDS']) {
    for (const value of [String(MAX_TIMER_SECONDS + 1), '99999999999', '4294967296']) {
      configError(() => load({ [name]: value }), name);
    }
  }
  assert.equal(MAX_TIMER_SECONDS, 2147483);
  assert.ok(MAX_TIMER_SECONDS * 1000 <= 2 ** 31 - 1, 'a timer of the maximum must not overflow');
  assert.equal(load({ SQLITE_RESTORE_TIMEOUT_SECONDS: String(MAX_TIMER_SECONDS) }).timeoutSeconds, MAX_TIMER_SECONDS);
  assert.equal(load({ SQLITE_RESTORE_IDLE_TIMEOUT_SECONDS: String(MAX_TIMER_SECONDS) }).s3.idleTimeoutMs, MAX_TIMER_SECONDS * 1000);
  configError(() => load({ SQLITE_RESTORE_IDLE_TIMEOUT_SECONDS: '0' }), 'SQLITE_RESTORE_IDLE_TIMEOUT_SECONDS');
});

test('a uid or gid of 4294967295 ("no change" to chown) or above is a ConfigError; 0 and 4294967294 are kept', () => {
  for (const name of ['SQLITE_RESTORE_FILE_UID', 'SQLITE_RESTORE_FILE_GID']) {
    for (const value of ['4294967295', '4294967296', '99999999999', '-1', 'root', '1e3', ' 1000']) {
      configError(() => load({ [name]: value }), name);
    }
  }
  const c = load({ SQLITE_RESTORE_FILE_UID: '0', SQLITE_RESTORE_FILE_GID: '4294967294' });
  assert.equal(c.file.uid, 0);
  assert.equal(c.file.gid, 4294967294);
});

test('an endpoint must be http(s), without credentials, query or fragment', () => {
  for (const value of ['ftp://host:21', 'file:///tmp/x', 's3://bucket', 'javascript:alert(1)', 'ws://host']) {
    const err = configError(() => load({ SQLITE_RESTORE_S3_ENDPOINT: value }), 'SQLITE_RESTORE_S3_ENDPOINT');
    assert.match(err.message, /http/);
  }
  for (const value of ['http://host:9000/?X-Amz-Security-Token=abc', 'http://host:9000/#x']) {
    configError(() => load({ SQLITE_RESTORE_S3_ENDPOINT: value }), 'SQLITE_RESTORE_S3_ENDPOINT');
  }
  assert.equal(load({ SQLITE_RESTORE_S3_ENDPOINT: 'HTTPS://S3.Example.NET:9443/' }).s3.endpoint, 'https://s3.example.net:9443');
});

test('an endpoint with userinfo is refused, naming the AWS_* variables, without echoing any of it', () => {
  const password = 'Pa55-endpoint-P@ss:word';
  for (const value of [
    `http://minio-user:${encodeURIComponent(password)}@minio:9000`,
    `https://AKIAENDPOINTUSER0001@s3.example.net`,
    `ftp://minio-user:${encodeURIComponent(password)}@minio:9000`,
  ]) {
    const err = configError(() => load({ SQLITE_RESTORE_S3_ENDPOINT: value }), 'SQLITE_RESTORE_S3_ENDPOINT');
    assert.match(err.message, /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
    for (const part of ['minio-user', 'AKIAENDPOINTUSER0001', password, encodeURIComponent(password), 'Pa55']) {
      assert.ok(!err.message.includes(part), `"${err.message}" echoes ${part}`);
    }
  }
});

test('a NUL byte in a file replica URL, an S3 prefix or any path variable is a ConfigError', () => {
  configError(() => load({ SQLITE_RESTORE_REPLICA_URL: 'file:///a%00b' }), 'SQLITE_RESTORE_REPLICA_URL');
  configError(() => load({ SQLITE_RESTORE_REPLICA_URL: 's3://my-bucket/a%00b' }), 'SQLITE_RESTORE_REPLICA_URL');
  for (const name of ['SQLITE_RESTORE_DB_PATH', 'SQLITE_RESTORE_MARKER_PATH', 'SQLITE_RESTORE_TERMINATION_LOG', 'SQLITE_RESTORE_VERIFY_DIR']) {
    configError(() => load({ [name]: '/data/a\0b' }), name);
  }
});

test('other file replica URLs the URL parser or Node would trip over are ConfigErrors', () => {
  // fileURLToPath throws a TypeError on an encoded "/": that was exit 70.
  configError(() => load({ SQLITE_RESTORE_REPLICA_URL: 'file:///a%2fb' }), 'SQLITE_RESTORE_REPLICA_URL');
  configError(() => load({ SQLITE_RESTORE_REPLICA_URL: 'file://user:pw@localhost/x' }), 'SQLITE_RESTORE_REPLICA_URL');
  // A port on an s3:// URL used to be dropped without a word.
  configError(() => load({ SQLITE_RESTORE_REPLICA_URL: 's3://my-bucket:9000/x' }), 'SQLITE_RESTORE_REPLICA_URL');
});

test('a database or marker path ending in "/." or "/.." (a directory once normalised) is a ConfigError', () => {
  for (const value of ['/data/.', '/data/..', '/.', '/..', '/', '/data/app.db/.', '/data/app.db/..']) {
    configError(() => load({ SQLITE_RESTORE_DB_PATH: value }), 'SQLITE_RESTORE_DB_PATH');
    configError(() => load({ SQLITE_RESTORE_MARKER_PATH: value }), 'SQLITE_RESTORE_MARKER_PATH');
    configError(() => load({ SQLITE_RESTORE_TERMINATION_LOG: value }), 'SQLITE_RESTORE_TERMINATION_LOG');
  }
  // "." and ".." inside the path are still resolved.
  assert.equal(load({ SQLITE_RESTORE_DB_PATH: '/data/./x/../app.db' }).dbPath, '/data/app.db');
});

test('the marker may not be the database or one of its SQLite files', () => {
  for (const suffix of ['', '-wal', '-shm', '-journal']) {
    configError(() => load({ SQLITE_RESTORE_MARKER_PATH: `/data/app.db${suffix}` }), 'SQLITE_RESTORE_MARKER_PATH');
    configError(() => load({ SQLITE_RESTORE_MARKER_PATH: `/data/./x/../app.db${suffix}` }), 'SQLITE_RESTORE_MARKER_PATH');
  }
  assert.equal(load({ SQLITE_RESTORE_MARKER_PATH: '/data/app.db-walrus' }).markerPath, '/data/app.db-walrus');
});

test('the termination log may not overwrite the database, its SQLite files or the marker', () => {
  for (const value of ['/data/app.db', '/data/app.db-wal', '/data/app.db-shm', '/data/app.db-journal', '/data/app.db.restore.json']) {
    configError(() => load({ SQLITE_RESTORE_TERMINATION_LOG: value }), 'SQLITE_RESTORE_TERMINATION_LOG');
  }
  configError(
    () => load({ SQLITE_RESTORE_MARKER_PATH: '/state/m.json', SQLITE_RESTORE_TERMINATION_LOG: '/state/m.json' }),
    'SQLITE_RESTORE_TERMINATION_LOG',
  );
  configError(() => load({ SQLITE_RESTORE_TERMINATION_LOG: 'termination-log' }), 'SQLITE_RESTORE_TERMINATION_LOG');
  assert.equal(load().terminationLogPath, '/dev/termination-log');
  assert.equal(load({ SQLITE_RESTORE_TERMINATION_LOG: '/tmp//t-log' }).terminationLogPath, '/tmp/t-log');
});

test('fallbackTerminationLog: the configured path when usable on its own, else the default', () => {
  assert.equal(fallbackTerminationLog({}), '/dev/termination-log');
  assert.equal(fallbackTerminationLog({ SQLITE_RESTORE_TERMINATION_LOG: '/tmp/t' }), '/tmp/t');
  assert.equal(fallbackTerminationLog({ SQLITE_RESTORE_TERMINATION_LOG: ' ' }), '/dev/termination-log');
  assert.equal(fallbackTerminationLog({ SQLITE_RESTORE_TERMINATION_LOG: 'relative' }), '/dev/termination-log');
  // Even when the configuration is otherwise invalid, the database is never written over.
  const env = { SQLITE_RESTORE_DB_PATH: '/data/app.db', SQLITE_RESTORE_CONCURRENCY: 'x' };
  for (const file of ['/data/app.db', '/data//app.db-wal', '/data/app.db.restore.json']) {
    assert.equal(fallbackTerminationLog({ ...env, SQLITE_RESTORE_TERMINATION_LOG: file }), '/dev/termination-log', file);
  }
  assert.equal(
    fallbackTerminationLog({ ...env, SQLITE_RESTORE_MARKER_PATH: '/m.json', SQLITE_RESTORE_TERMINATION_LOG: '/m.json' }),
    '/dev/termination-log',
  );
});

test('over-long paths and names are ConfigErrors, not ENAMETOOLONG later (exit 70)', () => {
  // The database's name leaves room for the default marker's, and both for the temporary files'.
  assert.equal(MAX_DB_NAME_BYTES, 178);
  configError(() => load({ SQLITE_RESTORE_DB_PATH: `/data/${'a'.repeat(MAX_DB_NAME_BYTES + 1)}` }), 'SQLITE_RESTORE_DB_PATH');
  const longest = load({ SQLITE_RESTORE_DB_PATH: `/data/${'a'.repeat(MAX_DB_NAME_BYTES)}` });
  assert.equal(longest.dbPath.length, 6 + MAX_DB_NAME_BYTES);
  assert.equal(path.basename(longest.markerPath).length, MAX_FILE_NAME_BYTES);
  // Bytes, not characters: 60 three-byte characters are 180 bytes.
  configError(() => load({ SQLITE_RESTORE_DB_PATH: `/data/${'€'.repeat(60)}` }), 'SQLITE_RESTORE_DB_PATH');
  configError(() => load({ SQLITE_RESTORE_MARKER_PATH: `/data/${'m'.repeat(MAX_FILE_NAME_BYTES + 1)}` }), 'SQLITE_RESTORE_MARKER_PATH');
  configError(() => load({ SQLITE_RESTORE_DB_PATH: `/${'d'.repeat(256)}/app.db` }), 'SQLITE_RESTORE_DB_PATH');
  const deep = `/${Array.from({ length: 20 }, () => 'x'.repeat(200)).join('/')}`;
  configError(() => load({ SQLITE_RESTORE_DB_PATH: `${deep}/app.db` }), 'SQLITE_RESTORE_DB_PATH');
  configError(() => load({ SQLITE_RESTORE_VERIFY_DIR: deep }), 'SQLITE_RESTORE_VERIFY_DIR');
  // Unicode names within the limits are fine.
  assert.equal(load({ SQLITE_RESTORE_DB_PATH: '/data/données €.db' }).dbPath, '/data/données €.db');
});

test('an empty or blank optional variable counts as unset; an empty required one is named', () => {
  const blank = Object.fromEntries(
    CONFIG_VARIABLES.filter((n) => n !== 'SQLITE_RESTORE_REPLICA_URL' && n !== 'SQLITE_RESTORE_DB_PATH').map((n) => [n, ' ']),
  );
  const c = load({ ...blank, AWS_REGION: '', AWS_DEFAULT_REGION: '\t' });
  const d = load();
  assert.deepEqual(c, d);
  configError(() => load({ SQLITE_RESTORE_REPLICA_URL: '  ' }), /SQLITE_RESTORE_REPLICA_URL.*empty/);
  configError(() => load({ SQLITE_RESTORE_DB_PATH: '' }), /SQLITE_RESTORE_DB_PATH.*empty/);
  // Only restore needs a database path: list and verify ignore an empty one.
  assert.equal(loadConfig({ SQLITE_RESTORE_REPLICA_URL: 's3://my-bucket/x', SQLITE_RESTORE_DB_PATH: '' }, 'list').replica.kind, 's3');
});

test('every variable, given garbage, either loads or is a ConfigError naming it: never another error', () => {
  const garbage = ['x', '-1', '0', '1e309', '９', 'NaN', '\u202e', '../../etc/passwd', 'a'.repeat(10_000), 'true\n', '%00', 'file:///x'];
  for (const name of CONFIG_VARIABLES) {
    for (const value of garbage) {
      try {
        load({ [name]: value });
      } catch (err) {
        assert.ok(err instanceof ConfigError, `${name}=${JSON.stringify(value.slice(0, 20))}: ${String(err)}`);
        assert.ok(err.message.includes(name) || /only one kind of restore target|TARGET/.test(err.message), `${name}: ${err.message}`);
        assert.ok(!err.message.includes('\n'), err.message);
      }
    }
  }
});

test("env-var's own messages never echo a value (pinned against an upgrade)", () => {
  // The values below are distinctive; env-var 7.5.0 reports only the variable and what it expected.
  const value = 'Zq9-distinctive-VALUE-xY7';
  for (const name of CONFIG_VARIABLES) {
    try {
      load({ [name]: value });
    } catch (err) {
      assert.ok(!(err as Error).message.includes(value), `${name}: ${(err as Error).message}`);
      assert.ok(!(err as Error).message.includes('Zq9'), `${name}: ${(err as Error).message}`);
    }
  }
});

// ---------------------------------------------------------------------------
// Unknown variables

test('editDistance counts insertions, deletions, substitutions and adjacent transpositions', () => {
  assert.equal(editDistance('', ''), 0);
  assert.equal(editDistance('abc', ''), 3);
  assert.equal(editDistance('VERIFY', 'VERYFY'), 1);
  assert.equal(editDistance('RESTORE', 'RESOTRE'), 1);
  assert.equal(editDistance('kitten', 'sitting'), 3);
});

test('unknownVariables names each set SQLITE_RESTORE_* variable the tool does not read, with the closest known one', () => {
  const env = {
    ...base,
    SQLITE_RESTORE_VERYFY: 'full',
    SQLITE_RESTORE_TIMEOUT: '60',
    sqlite_restore_log_level: 'debug',
    SQLITE_RESOTRE_IF_EXISTS: 'overwrite', // a typo in the prefix
    SQLITE_RESTORE_DBPATH: '/x',
    SQLITE_RESTORE_: '',
    PATH: '/usr/bin',
    HOSTNAME: 'pod-0',
    SQLITE_S3_RESTORE_CACHE: '/cache', // the test suite's own variable: not a near miss
    SQLITE_TMPDIR: '/tmp',
    MY_SERVICE_PORT_9000_TCP_ADDR: '10.0.0.1',
  };
  assert.deepEqual(unknownVariables(env, CONFIG_VARIABLES), [
    { name: 'SQLITE_RESOTRE_IF_EXISTS', closest: 'SQLITE_RESTORE_IF_EXISTS' },
    { name: 'SQLITE_RESTORE_', closest: 'SQLITE_RESTORE_LAYOUT' },
    { name: 'SQLITE_RESTORE_DBPATH', closest: 'SQLITE_RESTORE_DB_PATH' },
    { name: 'SQLITE_RESTORE_TIMEOUT', closest: 'SQLITE_RESTORE_TIMEOUT_SECONDS' },
    { name: 'SQLITE_RESTORE_VERYFY', closest: 'SQLITE_RESTORE_VERIFY' },
    { name: 'sqlite_restore_log_level', closest: 'SQLITE_RESTORE_LOG_LEVEL' },
  ]);
  assert.deepEqual(unknownVariables({ ...base, SQLITE_RESTORE_VERIFY: 'full' }, CONFIG_VARIABLES), []);
  // loadConfig itself ignores them: a warning, never a failure.
  assert.equal(load({ SQLITE_RESTORE_VERYFY: 'full' }).verify, 'quick');
});

test('unknownVariables copes with a huge name and a large environment quickly', () => {
  const env: Record<string, string> = { [`SQLITE_RESTORE_${'X'.repeat(100_000)}`]: '1' };
  for (let i = 0; i < 2_000; i++) env[`SERVICE_${i}_PORT_8080_TCP_ADDR`] = '10.0.0.1';
  const t0 = performance.now();
  const found = unknownVariables(env, CONFIG_VARIABLES);
  const ms = performance.now() - t0;
  assert.equal(found.length, 1);
  assert.ok(ms < 1_000, `took ${ms} ms`);
});

test('a region the SDK would refuse (not a hostname label) is a ConfigError naming where it came from', () => {
  for (const value of ['x/y', 'us east 1', 'ü', '-us', 'us-', 'a'.repeat(64), 'de_fra']) {
    configError(() => load({ SQLITE_RESTORE_S3_REGION: value }), 'SQLITE_RESTORE_S3_REGION');
    configError(() => load({ AWS_REGION: value }), 'AWS_REGION');
    configError(() => load({ AWS_DEFAULT_REGION: value }), 'AWS_DEFAULT_REGION');
  }
  for (const value of ['us-east-1', 'auto', 'garage', 'eu-central-003']) assert.equal(load({ SQLITE_RESTORE_S3_REGION: value }).s3.region, value);
});
