// The retry schedule of store requests (src/store/retry.ts), with a fake
// clock, and SQLITE_RESTORE_RETRY_WINDOW_SECONDS / _MAX_ATTEMPTS in the config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { backoffMs, BASE_DELAY_MS, describeRetry, MAX_DELAY_MS, RetryWindow } from '../../src/store/retry.js';
import { errorSummary, isTransient, mapS3Error } from '../../src/store/s3-errors.js';

/** Fails until the window says stop, sleeping on a fake clock; returns the delays. */
function exhaust(window: RetryWindow, clock: { t: number }): number[] {
  const delays: number[] = [];
  for (;;) {
    const next = window.failed();
    if (!next) return delays;
    delays.push(next.delayMs);
    clock.t += next.delayMs;
  }
}

test('backoff doubles from 0.25 s to 5 s, jittered into [half, full]', () => {
  assert.equal(backoffMs(1, () => 1), BASE_DELAY_MS);
  assert.equal(backoffMs(1, () => 0), BASE_DELAY_MS / 2);
  assert.equal(backoffMs(2, () => 1), 2 * BASE_DELAY_MS);
  assert.equal(backoffMs(5, () => 1), 16 * BASE_DELAY_MS);
  assert.equal(backoffMs(6, () => 1), MAX_DELAY_MS);
  assert.equal(backoffMs(1000, () => 1), MAX_DELAY_MS);
  for (let i = 0; i < 100; i++) {
    const d = backoffMs(3);
    assert.ok(d >= 2 * BASE_DELAY_MS && d <= 4 * BASE_DELAY_MS, String(d));
  }
});

test('a failing request is retried until the window is spent, the last attempt at its end', () => {
  const clock = { t: 1_000 };
  const window = new RetryWindow({ windowMs: 60_000 }, () => clock.t, () => 1);
  const delays = exhaust(window, clock);
  assert.equal(delays.reduce((a, b) => a + b, 0), 60_000, 'the delays fill the window exactly');
  assert.deepEqual(delays.slice(0, 6), [250, 500, 1000, 2000, 4000, 5000]);
  assert.ok(delays.length >= 15 && delays.length <= 20, `${delays.length} retries in 60 s`);
  assert.equal(window.attempts, delays.length + 1);
  assert.equal(window.elapsedMs, 60_000);
});

test('progress starts a new window', () => {
  const clock = { t: 0 };
  const window = new RetryWindow({ windowMs: 10_000 }, () => clock.t, () => 1);
  for (let i = 0; i < 4; i++) clock.t += (window.failed() as { delayMs: number }).delayMs;
  clock.t += 8_000; // a long transfer that makes progress
  window.progress();
  assert.equal(window.attempts, 0);
  const again = window.failed();
  assert.deepEqual(again, { delayMs: 250, windowLeftMs: 9_750 }, 'the backoff and the window start over');
});

test('MAX_ATTEMPTS ends the retries first when it is reached within the window; a zero window never retries', () => {
  const clock = { t: 0 };
  assert.equal(exhaust(new RetryWindow({ windowMs: 60_000, maxAttempts: 3 }, () => clock.t), clock).length, 2);
  assert.equal(exhaust(new RetryWindow({ windowMs: 60_000, maxAttempts: 1 }, () => clock.t), clock).length, 0);
  assert.equal(exhaust(new RetryWindow({ windowMs: 0 }, () => clock.t), clock).length, 0);
});

test('the retry line says what failed, the attempt, the delay and the time left', () => {
  assert.equal(
    describeRetry({ what: 'listing s3://b/p/generations/', error: 'Error, ECONNREFUSED', attempt: 3, delayMs: 1000, windowLeftMs: 57_250 }),
    'listing s3://b/p/generations/ failed (Error, ECONNREFUSED), attempt 3: retrying in 1.0 s, 57.3 s left in the retry window',
  );
});

test('transient: network errors, DNS, timeouts, 5xx, 429 and throttling, a corrected clock skew; not: 4xx, credentials, bugs', () => {
  const sdk = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(name), { name, ...(status ? { $metadata: { httpStatusCode: status, ...extra } } : {}) });
  const sys = (code: string) => Object.assign(new Error(code), { code });
  for (const err of [sys('ECONNREFUSED'), sys('ECONNRESET'), sys('ENOTFOUND'), sys('EAI_AGAIN'), sys('ETIMEDOUT'), sdk('SlowDown', 503), sdk('TooManyRequests', 429), sdk('InternalError', 500), sdk('TimeoutError'), sdk('RequestTimeTooSkewed', 403, { clockSkewCorrected: true })]) {
    assert.equal(isTransient(err), true, `${err.name} ${(err as { code?: string }).code ?? ''}`);
  }
  for (const err of [sdk('AccessDenied', 403), sdk('NoSuchBucket', 404), sdk('CredentialsProviderError'), new TypeError('x is undefined'), Object.assign(new Error('aborted'), { name: 'AbortError' })]) {
    assert.equal(isTransient(err), false, err.name);
  }
});

test('the error in a retry line: a system error by its code, an S3 error by its name and status', () => {
  assert.equal(errorSummary(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' })), 'ECONNREFUSED');
  assert.equal(errorSummary(Object.assign(new Error('Please reduce'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } })), 'SlowDown, HTTP 503');
  assert.equal(errorSummary(Object.assign(new Error('no data'), { name: 'IdleTimeoutError' })), 'IdleTimeoutError');
});

test('giving up names the window; a name that does not resolve hints at a typo in the endpoint', () => {
  const err = Object.assign(new Error('getaddrinfo ENOTFOUND minio.mnio'), { code: 'ENOTFOUND' });
  const mapped = mapS3Error(err, 'listing s3://b/p/generations/', 'b', { attempts: 17, elapsedMs: 60_000 });
  assert.equal(mapped.exitCode, 75);
  assert.match(mapped.message, /after 17 attempts in 60\.0 s \(SQLITE_RESTORE_RETRY_WINDOW_SECONDS\)/);
  assert.match(mapped.message, /ENOTFOUND.*does not resolve: check SQLITE_RESTORE_S3_ENDPOINT/);
});

const base = { SQLITE_RESTORE_REPLICA_URL: 's3://my-bucket/db/app.db', SQLITE_RESTORE_DB_PATH: '/data/app.db' };

test('SQLITE_RESTORE_RETRY_WINDOW_SECONDS: default 60, 0 to 3600, anything else is a configuration error', () => {
  assert.equal(loadConfig(base).s3.retryWindowMs, 60_000);
  assert.equal(loadConfig(base).s3.maxAttempts, undefined);
  assert.equal(loadConfig({ ...base, SQLITE_RESTORE_RETRY_WINDOW_SECONDS: '0' }).s3.retryWindowMs, 0);
  assert.equal(loadConfig({ ...base, SQLITE_RESTORE_RETRY_WINDOW_SECONDS: '3600' }).s3.retryWindowMs, 3_600_000);
  assert.equal(loadConfig({ ...base, SQLITE_RESTORE_MAX_ATTEMPTS: '3' }).s3.maxAttempts, 3);
  for (const bad of ['3601', '-1', '1.5', '60s', 'soon', '1e3']) {
    assert.throws(
      () => loadConfig({ ...base, SQLITE_RESTORE_RETRY_WINDOW_SECONDS: bad }),
      (err: unknown) => err instanceof ConfigError && err.exitCode === 78 && /SQLITE_RESTORE_RETRY_WINDOW_SECONDS/.test(err.message),
      bad,
    );
  }
  assert.throws(() => loadConfig({ ...base, SQLITE_RESTORE_MAX_ATTEMPTS: '0' }), /SQLITE_RESTORE_MAX_ATTEMPTS must be at least 1/);
});
