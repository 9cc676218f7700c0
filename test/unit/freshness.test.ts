// SQLITE_RESTORE_MAX_AGE: parsing, and when a backup counts as stale (src/freshness.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { formatAge, parseMaxAge, staleness } from '../../src/freshness.js';

test('durations as in Litestream configs, or whole seconds', () => {
  assert.equal(parseMaxAge('90s', 'X'), 90_000);
  assert.equal(parseMaxAge('15m', 'X'), 900_000);
  assert.equal(parseMaxAge('1h30m', 'X'), 5_400_000);
  assert.equal(parseMaxAge('2d', 'X'), 172_800_000);
  assert.equal(parseMaxAge('1.5h', 'X'), 5_400_000);
  assert.equal(parseMaxAge(' 3600 ', 'X'), 3_600_000);
  for (const bad of ['', '4 hours', '-1h', 'h', '1w', '0', '0s', '500ms', '366d', '1e3']) {
    assert.throws(() => parseMaxAge(bad, 'SQLITE_RESTORE_MAX_AGE'), (err: unknown) => err instanceof ConfigError && /SQLITE_RESTORE_MAX_AGE/.test(err.message), bad);
  }
});

test('ages for people', () => {
  assert.equal(formatAge(0), '0s');
  assert.equal(formatAge(42_400), '42s');
  assert.equal(formatAge(18_192_000), '5h3m12s');
  assert.equal(formatAge(86_400_000 + 60_000), '1d1m');
});

test('stale only past the maximum, and never without one', () => {
  const now = Date.parse('2026-11-30T12:00:00Z');
  assert.equal(staleness(now - 3_600_000, undefined, now), undefined);
  assert.equal(staleness(now - 3_600_000, 3_600_000, now), undefined);
  assert.equal(
    staleness(now - 3_601_000, 3_600_000, now),
    'the newest backup was written 1h1s ago (2026-11-30T10:59:59.000Z), more than SQLITE_RESTORE_MAX_AGE (1h): has its writer (Litestream) stopped? An idle database uploads nothing, so allow for the snapshot interval',
  );
});

test('SQLITE_RESTORE_MAX_AGE in the configuration: unset means no check', () => {
  const env = { SQLITE_RESTORE_REPLICA_URL: 's3://bucket/db', SQLITE_RESTORE_DB_PATH: '/data/app.db' };
  assert.equal(loadConfig(env).maxAgeMs, undefined);
  assert.equal(loadConfig({ ...env, SQLITE_RESTORE_MAX_AGE: '26h' }).maxAgeMs, 26 * 3_600_000);
  assert.equal(loadConfig({ ...env, SQLITE_RESTORE_MAX_AGE: '26h' }, 'verify').maxAgeMs, 26 * 3_600_000);
  assert.throws(() => loadConfig({ ...env, SQLITE_RESTORE_MAX_AGE: 'soon' }), ConfigError);
});
