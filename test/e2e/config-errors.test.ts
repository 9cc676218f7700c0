// Invalid configuration exits 78 before touching anything, with a one-line
// reason naming the offending variable in the termination log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { makeTempDir, removeDir } from '../support/paths.js';
import { explain, readTerminationLog, runRestore } from '../support/run-cli.js';
import { assertExit, assertJsonLogs } from '../support/assertions.js';

let work: string;
let replicaDir: string;

before(async () => {
  work = await makeTempDir('e2e-config');
  replicaDir = path.join(work, 'replica');
  await mkdir(replicaDir);
});

after(async () => {
  if (work) await removeDir(work);
});

async function expectConfigError(name: string, env: Record<string, string>, variable: string): Promise<void> {
  const dir = path.join(work, name);
  await mkdir(dir);
  const terminationLog = path.join(dir, 'termination-log');
  const r = await runRestore({ SQLITE_RESTORE_TERMINATION_LOG: terminationLog, ...env }, { timeoutMs: 30_000 });
  assertExit(r, 78);
  assertJsonLogs(r);
  const message = await readTerminationLog(terminationLog);
  assert.ok(message.includes(variable), `the reason should name ${variable}: ${message}\n${explain(r)}`);
  assert.deepEqual(await readdir(dir), ['termination-log'], 'nothing else may be created');
}

test('missing SQLITE_RESTORE_DB_PATH → 78', async () => {
  await expectConfigError('no-db-path', { SQLITE_RESTORE_REPLICA_URL: `file://${replicaDir}` }, 'SQLITE_RESTORE_DB_PATH');
});

test('malformed replica URL (ftp://x) → 78', async () => {
  await expectConfigError(
    'bad-url',
    { SQLITE_RESTORE_REPLICA_URL: 'ftp://x', SQLITE_RESTORE_DB_PATH: path.join(work, 'bad-url', 'app.db') },
    'SQLITE_RESTORE_REPLICA_URL',
  );
});

test('non-numeric SQLITE_RESTORE_CONCURRENCY → 78', async () => {
  await expectConfigError(
    'bad-concurrency',
    {
      SQLITE_RESTORE_REPLICA_URL: `file://${replicaDir}`,
      SQLITE_RESTORE_DB_PATH: path.join(work, 'bad-concurrency', 'app.db'),
      SQLITE_RESTORE_CONCURRENCY: 'abc',
    },
    'SQLITE_RESTORE_CONCURRENCY',
  );
});
