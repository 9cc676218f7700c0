// One table of settings (src/settings.ts) behind the README's configuration
// table, --help, the charts' schemas, values and env list: any drift fails here
// (`npm run settings` rewrites the derived files).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config.js';
import { defaultOf, SETTINGS } from '../../src/settings.js';
import { cliPath } from '../support/paths.js';
import { syncSettings } from '../support/settings-sync.js';

test('the README table, both schemas, the values, the defaults and the env lists match src/settings.ts', async () => {
  assert.deepEqual(await syncSettings(false), [], 'run `npm run settings` and commit the result');
});

test('--help names every variable with its default', () => {
  const r = spawnSync(process.execPath, [cliPath, '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  for (const s of SETTINGS) {
    const line = r.stdout.split('\n').find((l) => l.trimStart().startsWith(`${s.name} `));
    assert.ok(line, `${s.name} missing from --help`);
    if (s.default !== undefined) assert.ok(line.endsWith(`(default ${s.default})`), line);
  }
});

test('the configuration reads exactly the table, with its defaults', () => {
  assert.deepEqual([...CONFIG_VARIABLES], SETTINGS.map((s) => s.name));
  const config = loadConfig({ SQLITE_RESTORE_REPLICA_URL: 's3://bucket/db', SQLITE_RESTORE_DB_PATH: '/data/app.db' });
  assert.equal(config.concurrency, Number(defaultOf('SQLITE_RESTORE_CONCURRENCY')));
  assert.equal(config.timeoutSeconds, Number(defaultOf('SQLITE_RESTORE_TIMEOUT_SECONDS')));
  assert.equal(config.verify, defaultOf('SQLITE_RESTORE_VERIFY'));
  assert.equal(config.progressIntervalMs, 1000 * Number(defaultOf('SQLITE_RESTORE_PROGRESS_SECONDS')));
  for (const s of SETTINGS) assert.ok(s.summary.length <= 110 && !s.summary.includes('\n'), `${s.name}: one short summary line`);
});
