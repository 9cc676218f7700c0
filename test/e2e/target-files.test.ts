// What the restore does to files around the target, on the small real
// Litestream replica kept in demo/replica: mode and owner of the published
// database, removal of an earlier run's leftovers, and of a stale -wal that
// SQLite would otherwise replay into the new file.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, stat, writeFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { assertExit } from '../support/assertions.js';
import { makeTempDir, removeDir, repoRoot } from '../support/paths.js';
import { cliEnv, readMarker, runRestore } from '../support/run-cli.js';

const replicaUrl = `file://${path.join(repoRoot, 'demo/replica')}`;
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await removeDir(d);
});

async function target(name: string): Promise<{ dir: string; db: string; env: (extra?: Record<string, string>) => Record<string, string> }> {
  const dir = await makeTempDir(`e2e-${name}`);
  dirs.push(dir);
  const db = path.join(dir, 'data', 'app.db');
  await mkdir(path.dirname(db), { recursive: true });
  return {
    dir,
    db,
    env: (extra = {}) => cliEnv({ replicaUrl, dbPath: db, terminationLog: path.join(dir, 'termination-log'), extra }),
  };
}

test('the restored file gets SQLITE_RESTORE_FILE_MODE and, as root, the requested owner', async () => {
  const t = await target('ownership');
  const r = await runRestore(t.env({ SQLITE_RESTORE_FILE_MODE: '0660', SQLITE_RESTORE_FILE_UID: '4321', SQLITE_RESTORE_FILE_GID: '4322' }));
  assertExit(r, 0);
  const s = await stat(t.db);
  assert.equal(s.mode & 0o777, 0o660);
  if (process.getuid?.() === 0) {
    assert.equal(s.uid, 4321);
    assert.equal(s.gid, 4322);
  }
});

test('a malformed file mode is a configuration error', async () => {
  const t = await target('bad-mode');
  const r = await runRestore(t.env({ SQLITE_RESTORE_FILE_MODE: 'rw-rw----' }));
  assertExit(r, 78);
});

test("an interrupted run's temp files are removed by the next run", async () => {
  const t = await target('leftovers');
  const dataDir = path.dirname(t.db);
  for (const name of ['.app.db.restoring-0123456789ab', '.app.db.restoring-0123456789ab.spill', '.app.db.restore.json.restoring-ffeeddccbbaa']) {
    await writeFile(path.join(dataDir, name), 'partial');
  }
  await writeFile(path.join(dataDir, 'unrelated.restoring-keep'), 'not ours');
  const r = await runRestore(t.env());
  assertExit(r, 0);
  const names = await readdir(dataDir);
  assert.deepEqual(names.filter((n) => n.startsWith('.app.db')), [], 'temp files of this target are gone');
  assert.ok(names.includes('unrelated.restoring-keep'), 'files of other databases are left alone');
  assert.equal((await readMarker(`${t.db}.restore.json`)).outcome, 'restored');
});

test('overwriting removes the old database’s -wal and -shm so SQLite cannot replay them', async () => {
  const t = await target('stale-wal');
  await writeFile(t.db, Buffer.alloc(0));
  await writeFile(`${t.db}-wal`, Buffer.alloc(4096, 7));
  await writeFile(`${t.db}-shm`, Buffer.alloc(32768, 7));
  const r = await runRestore(t.env());
  assertExit(r, 0);
  const names = await readdir(path.dirname(t.db));
  assert.ok(!names.includes('app.db-wal') && !names.includes('app.db-shm'), `left: ${names.join(', ')}`);
});
