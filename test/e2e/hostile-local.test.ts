// Hostile and unlucky states of the target directory (issue 9): a database
// whose newest commits live only in its -wal or behind a hot -journal, a marker
// path that cannot be written, two restores on one path, directories the app
// must be able to write, and paths that are not what they should be. Real
// SQLite builds each state; the CLI runs as a real child process.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, copyFile, lstat, mkdir, readFile, readdir, readlink, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { closeSync, ftruncateSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { makeBackup, type SourceBackup } from '../support/backup.js';
import { createBucket, s3Env, startMinio, type Minio } from '../support/minio.js';
import { makeTempDir, removeDir, repoRoot, restoringLeftovers } from '../support/paths.js';
import { sleep, waitFor } from '../support/process.js';
import { cliEnv, explain, readMarker, readTerminationLog, runCli, runRestore, type RunResult } from '../support/run-cli.js';
import { startThrottle, type Throttle } from '../support/throttle.js';
import { fillRandom, writeSmallDb } from '../support/workload.js';
import { assertExit, assertFileBytes, assertJsonLogs, assertNoLeftovers, assertSameDatabase } from '../support/assertions.js';

const replicaUrl = `file://${path.join(repoRoot, 'demo/replica')}`;
let work: string;
const mounts: string[] = [];

before(async () => {
  work = await makeTempDir('e2e-hostile-local');
  // A child process under another uid must reach the databases in here.
  await chmod(work, 0o755);
});

after(async () => {
  while (mounts.length > 0) unmount(mounts.pop() as string);
  if (work) await removeDir(work);
});

interface Target {
  dir: string;
  db: string;
  markerPath: string;
  terminationLog: string;
  env: (extra?: Record<string, string>) => Record<string, string>;
}

async function newTarget(name: string, opts: { replica?: string; s3?: Record<string, string> } = {}): Promise<Target> {
  const dir = path.join(work, name);
  await mkdir(dir, { recursive: true });
  const db = path.join(dir, 'app.db');
  const markerPath = `${db}.restore.json`;
  const terminationLog = path.join(work, `${name}.termination-log`);
  return {
    dir,
    db,
    markerPath,
    terminationLog,
    env: (extra = {}) =>
      cliEnv({ replicaUrl: opts.replica ?? replicaUrl, dbPath: db, terminationLog, ...(opts.s3 ? { s3: opts.s3 } : {}), extra }),
  };
}

function logEvents(r: RunResult, event: string): Record<string, unknown>[] {
  return r.logs.filter((l) => l.event === event);
}

/** Files in `dir` other than the given ones: the run must have left nothing (lock and holder files included). */
async function assertOnly(dir: string, expected: string[]): Promise<void> {
  assert.deepEqual((await readdir(dir)).sort(), [...expected].sort(), `files left in ${dir}`);
}

function tryMount(args: string[]): string | undefined {
  try {
    execFileSync('mount', args, { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return String((err as { stderr?: Buffer }).stderr ?? err).trim();
  }
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  }
}

// --- the database in place, judged with its -wal and -journal ---------------------------

/**
 * A WAL-mode database with 2,000 rows committed only to its -wal, copied while
 * the writer's connection is open, then caught mid-checkpoint: the newest
 * committed page 1 (which counts the new pages) is already in the main file,
 * the pages it counts are not.
 */
function makeMidCheckpoint(dir: string, db: string): { headerPages: number; filePages: number } {
  const src = path.join(dir, 'writer.db');
  const writer = new Database(src);
  try {
    writer.pragma('journal_mode = WAL');
    writer.pragma('wal_autocheckpoint = 0');
    writer.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    writer.pragma('wal_checkpoint(TRUNCATE)');
    const insert = writer.prepare('INSERT INTO t (v) VALUES (?)');
    writer.transaction(() => {
      for (let i = 0; i < 2000; i++) insert.run(`row ${i} ${'x'.repeat(20)}`);
    })();
    execFileSync('cp', [src, db]);
    execFileSync('cp', [`${src}-wal`, `${db}-wal`]);
  } finally {
    writer.close();
  }
  const wal = readFileSync(`${db}-wal`);
  const pageSize = wal.readUInt32BE(8);
  const frameSize = 24 + pageSize;
  let page1: number | undefined;
  let committedPage1: number | undefined;
  for (let at = 32; at + frameSize <= wal.length; at += frameSize) {
    if (wal.readUInt32BE(at) === 1) page1 = at;
    if (wal.readUInt32BE(at + 4) !== 0) committedPage1 = page1;
  }
  assert.ok(committedPage1 !== undefined, 'the WAL holds a committed page 1');
  const fd = openSync(db, 'r+');
  try {
    writeSync(fd, wal, committedPage1 + 24, pageSize, 0);
  } finally {
    closeSync(fd);
  }
  const main = readFileSync(db);
  return { headerPages: main.readUInt32BE(28), filePages: main.length / pageSize };
}

/** Row count of `db` as SQLite opens it, on a copy (SQLite's own open must not touch the case under test). */
async function rowsAsSqliteSees(db: string, table: string): Promise<number> {
  const dir = await makeTempDir('sqlite-copy');
  try {
    for (const suffix of ['', '-wal', '-journal']) await copyFile(`${db}${suffix}`, path.join(dir, `copy.db${suffix}`)).catch(() => undefined);
    const copy = new Database(path.join(dir, 'copy.db'), { fileMustExist: true });
    try {
      assert.deepEqual(copy.pragma('quick_check', { simple: true }), 'ok');
      return (copy.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    } finally {
      copy.close();
    }
  } finally {
    await removeDir(dir);
  }
}

test('a database caught mid-checkpoint, its newest rows only in its -wal, is kept byte for byte by skip', async () => {
  const t = await newTarget('mid-checkpoint');
  const { headerPages, filePages } = makeMidCheckpoint(t.dir, t.db);
  // The state that fooled a header-only check: page 1 counts pages the main file does not hold yet.
  assert.notEqual(headerPages, filePages, `header ${headerPages} pages, file ${filePages}`);
  assert.equal(await rowsAsSqliteSees(t.db, 't'), 2000, 'SQLite opens it with 2,000 rows');
  const db = await readFile(t.db);
  const wal = await readFile(`${t.db}-wal`);

  const r = await runRestore(t.env());
  assertExit(r, 0);
  assertJsonLogs(r);
  assert.equal((await readMarker(t.markerPath)).outcome, 'skipped');
  await assertFileBytes(t.db, db, 'skip must keep the database');
  await assertFileBytes(`${t.db}-wal`, wal, 'skip must keep its -wal');
  assert.deepEqual(logEvents(r, 'existing-kept'), [], 'the cheap check alone finds it valid');
  await assertOnly(t.dir, ['app.db', 'app.db-wal', 'app.db.restore.json', 'writer.db']);
  assert.equal(await rowsAsSqliteSees(t.db, 't'), 2000);
});

test('a database the cheap check doubts but SQLite opens and passes is kept, with a warning naming what looked odd', async () => {
  const t = await newTarget('doubtful');
  writeSmallDb(t.db);
  // Trailing bytes: not a multiple of the page size, yet SQLite reads it fine.
  await writeFile(t.db, Buffer.alloc(100, 0x55), { flag: 'a' });
  const before = await readFile(t.db);
  const r = await runRestore(t.env());
  assertExit(r, 0);
  assert.equal((await readMarker(t.markerPath)).outcome, 'skipped');
  await assertFileBytes(t.db, before, 'a database SQLite passes must be kept');
  const kept = logEvents(r, 'existing-kept');
  assert.equal(kept.length, 1, explain(r));
  assert.match(String(kept[0]?.reason), /not a multiple of the page size.*SQLite opens it and quick_check passes/);
  // SQLite's read-only open made a -shm: removed again.
  await assertOnly(t.dir, ['app.db', 'app.db.restore.json']);
});

test('a hot -journal is rolled back as SQLite would on open, and the database kept when SQLite then passes it', async () => {
  const t = await newTarget('hot-journal');
  // A writer killed mid-transaction, with pages spilled: the main file holds
  // uncommitted pages, the -journal the originals.
  const code = `
    const Database = require(${JSON.stringify(path.join(repoRoot, 'node_modules/better-sqlite3'))});
    const db = new Database(${JSON.stringify(t.db)});
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    db.transaction(() => { for (let i = 0; i < 1000; i++) insert.run('x'.repeat(100)); })();
    db.pragma('cache_size = 2');
    db.exec('BEGIN');
    for (let i = 0; i < 3000; i++) insert.run('y'.repeat(200));
    process.kill(process.pid, 'SIGKILL');`;
  const killed = spawnSync(process.execPath, ['-e', code], { cwd: repoRoot });
  assert.equal(killed.signal, 'SIGKILL', String(killed.stderr));
  const main = await readFile(t.db);
  assert.ok((await stat(`${t.db}-journal`)).size > 0, 'a hot journal is left');
  assert.notEqual(main.readUInt32BE(28), main.length / 4096, 'the main file alone looks inconsistent');
  assert.equal(await rowsAsSqliteSees(t.db, 't'), 1000, 'SQLite rolls back to 1,000 rows');

  const r = await runRestore(t.env());
  assertExit(r, 0);
  assert.equal((await readMarker(t.markerPath)).outcome, 'skipped');
  assert.match(String(logEvents(r, 'existing-kept')[0]?.reason), /hot -journal.*rolls it back/, explain(r));
  // What the app's own first open would have left: the rolled-back database, no journal.
  await assertOnly(t.dir, ['app.db', 'app.db.restore.json']);
  assert.equal(await rowsAsSqliteSees(t.db, 't'), 1000);
});

test('a crafted sparse database of 2^31 pages is not quick_checked into the memory limit: kept, saying why', async () => {
  const t = await newTarget('sparse');
  const db = new Database(t.db);
  db.pragma('page_size = 512');
  db.exec('CREATE TABLE t (v TEXT)');
  db.close();
  // 1 TiB of holes, its header counting every page; one trailing byte makes the cheap check doubt it.
  const pages = 2 ** 31 - 2;
  const header = Buffer.alloc(100);
  const fd = openSync(t.db, 'r+');
  try {
    readSync(fd, header, 0, 100, 0);
    header.writeUInt32BE(pages, 28);
    writeSync(fd, header, 0, 100, 0);
    ftruncateSync(fd, pages * 512 + 1);
  } finally {
    closeSync(fd);
  }
  const r = await runRestore(t.env());
  assertExit(r, 0);
  assert.equal((await readMarker(t.markerPath)).outcome, 'skipped');
  assert.match(String(logEvents(r, 'existing-kept')[0]?.reason), /2147483646 pages, more than quick_check may check/, explain(r));
  // quick_check would have allocated a 256 MiB page bitmap and then read 1 TiB.
  assert.ok(r.durationMs < 10_000, `${r.durationMs} ms`);
  assert.equal((await stat(t.db)).size, pages * 512 + 1);
});

test('a file SQLite refuses is still replaced by a restore', async () => {
  const t = await newTarget('truncated');
  writeSmallDb(t.db, 2000);
  // Cut to 2 pages: the header still counts the rest, and SQLite finds the tree broken.
  await truncate(t.db, 2 * 4096);
  const r = await runRestore(t.env());
  assertExit(r, 0);
  assert.equal((await readMarker(t.markerPath)).outcome, 'restored');
  assert.match(String(logEvents(r, 'existing-invalid')[0]?.reason), /SQLite rejects it/, explain(r));
  await assertOnly(t.dir, ['app.db', 'app.db.restore.json']);
});

// --- the marker path, checked before anything is published --------------------------------

test('a directory at the marker path → 74 naming it, before anything is published', async () => {
  const t = await newTarget('marker-dir');
  await mkdir(t.markerPath);
  const r = await runRestore(t.env());
  assertExit(r, 74);
  const message = await readTerminationLog(t.terminationLog);
  assert.ok(message.includes(t.markerPath), message);
  await assertOnly(t.dir, ['app.db.restore.json']);
  assert.ok((await stat(t.markerPath)).isDirectory());
});

test('a marker directory on a read-only mount → 74 naming the marker path, target untouched', async (ctx) => {
  const t = await newTarget('marker-ro');
  const existing = Buffer.from('not a database, so it would be replaced');
  await writeFile(t.db, existing);
  const markerDir = path.join(t.dir, 'ro');
  await mkdir(markerDir);
  const failure = tryMount(['--bind', '-o', 'ro', markerDir, markerDir]);
  if (failure) {
    ctx.skip(`mount --bind -o ro is not permitted here (${failure})`);
    return;
  }
  mounts.push(markerDir);
  await assert.rejects(writeFile(path.join(markerDir, 'probe'), 'x'), /EROFS/, 'the bind mount must really be read-only');
  const markerPath = path.join(markerDir, 'marker.json');
  const r = await runRestore(t.env({ SQLITE_RESTORE_MARKER_PATH: markerPath }));
  assertExit(r, 74);
  const message = await readTerminationLog(t.terminationLog);
  assert.ok(message.includes(markerPath), message);
  await assertFileBytes(t.db, existing, 'the target must be untouched');
  await assertOnly(t.dir, ['app.db', 'ro']);
  await assertOnly(markerDir, []);
});

test('a valid database on a read-only mount is still kept by skip: nobody can write there, so no lock is needed', async (ctx) => {
  const t = await newTarget('db-ro');
  const dbDir = path.join(t.dir, 'ro');
  await mkdir(dbDir);
  const db = path.join(dbDir, 'app.db');
  writeSmallDb(db);
  const before = await readFile(db);
  const failure = tryMount(['--bind', '-o', 'ro', dbDir, dbDir]);
  if (failure) {
    ctx.skip(`mount --bind -o ro is not permitted here (${failure})`);
    return;
  }
  mounts.push(dbDir);
  const markerPath = path.join(t.dir, 'marker.json');
  const r = await runRestore(cliEnv({ replicaUrl, dbPath: db, terminationLog: t.terminationLog, extra: { SQLITE_RESTORE_MARKER_PATH: markerPath } }));
  assertExit(r, 0);
  assert.equal((await readMarker(markerPath)).outcome, 'skipped');
  assert.equal(logEvents(r, 'lock-skipped').length, 1, explain(r));
  await assertFileBytes(db, before, 'kept');
});

// --- ownership of the directories the restore creates -------------------------------------

test('directories the restore creates get FILE_UID/GID: the app under that uid can write in WAL mode', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
  const t = await newTarget('ownership');
  const uid = 4321;
  const gid = 4322;
  const db = path.join(t.dir, 'nested', 'deeper', 'app.db');
  const r = await runRestore(
    cliEnv({ replicaUrl, dbPath: db, terminationLog: t.terminationLog, extra: { SQLITE_RESTORE_FILE_UID: String(uid), SQLITE_RESTORE_FILE_GID: String(gid) } }),
  );
  assertExit(r, 0);
  for (const dir of [path.join(t.dir, 'nested'), path.dirname(db)]) {
    const s = await stat(dir);
    assert.deepEqual([s.uid, s.gid, s.mode & 0o777], [uid, gid, 0o755], dir);
  }
  assert.equal((await stat(t.dir)).uid, 0, 'a directory that existed keeps its owner');
  // The app, as that uid: WAL mode needs to create app.db-wal and app.db-shm in the new directory.
  const app = spawnSync(
    process.execPath,
    [
      '-e',
      `const Database = require(${JSON.stringify(path.join(repoRoot, 'node_modules/better-sqlite3'))});
       const db = new Database(${JSON.stringify(db)});
       db.pragma('journal_mode = WAL');
       db.exec("CREATE TABLE IF NOT EXISTS app_rows (v TEXT)");
       db.prepare('INSERT INTO app_rows (v) VALUES (?)').run('written by the app');
       process.stdout.write(String(db.prepare('SELECT count(*) AS n FROM app_rows').get().n));`,
    ],
    { uid, gid, cwd: '/', encoding: 'utf8' },
  );
  assert.equal(app.status, 0, `the app could not write: ${app.stderr}`);
  assert.equal(app.stdout, '1');
});

// --- paths that are not what they should be ------------------------------------------------

test('the parent of the database path is a regular file → 74 naming it', async () => {
  const t = await newTarget('parent-file');
  const file = path.join(t.dir, 'data');
  await writeFile(file, 'a file, not a directory');
  const r = await runRestore(cliEnv({ replicaUrl, dbPath: path.join(file, 'app.db'), terminationLog: t.terminationLog }));
  assertExit(r, 74);
  const message = await readTerminationLog(t.terminationLog);
  assert.match(message, /SQLITE_RESTORE_DB_PATH/);
  assert.ok(message.includes(`${file} is a regular file`), message);
  assert.equal(await readFile(file, 'utf8'), 'a file, not a directory');
});

test('SQLITE_RESTORE_VERIFY_DIR or its parent is a regular file → verify exits 74 naming it', async () => {
  const t = await newTarget('verify-parent-file');
  const file = path.join(t.dir, 'not-a-dir');
  await writeFile(file, 'a file');
  for (const verifyDir of [file, path.join(file, 'scratch')]) {
    const r = await runCli(['verify'], {
      SQLITE_RESTORE_REPLICA_URL: replicaUrl,
      SQLITE_RESTORE_VERIFY_DIR: verifyDir,
      SQLITE_RESTORE_TERMINATION_LOG: t.terminationLog,
    });
    assertExit(r, 74);
    const message = await readTerminationLog(t.terminationLog);
    assert.ok(message.includes(`SQLITE_RESTORE_VERIFY_DIR: ${file} is a regular file`), message);
  }
  assert.equal(await readFile(file, 'utf8'), 'a file');
});

test('a directory named like a temporary file of this tool → 74 naming it; neither it nor the target is touched', async () => {
  const t = await newTarget('temp-named-dir');
  writeSmallDb(t.db);
  const before = await readFile(t.db);
  const impostor = path.join(t.dir, '.app.db.restoring-0123456789ab');
  await mkdir(impostor);
  await writeFile(path.join(impostor, 'precious'), 'keep me');
  const r = await runRestore(t.env({ SQLITE_RESTORE_IF_EXISTS: 'overwrite' }));
  assertExit(r, 74);
  const message = await readTerminationLog(t.terminationLog);
  assert.ok(message.includes(impostor), message);
  assert.equal(await readFile(path.join(impostor, 'precious'), 'utf8'), 'keep me');
  await assertFileBytes(t.db, before, 'the target must be untouched');
  await assertOnly(t.dir, ['app.db', '.app.db.restoring-0123456789ab']);
});

test('links planted at the lock and marker names are never written through', async () => {
  const t = await newTarget('links');
  const victim = path.join(work, 'links-victim');
  await writeFile(victim, 'precious');
  // At the lock's name: refused, naming it.
  const lock = path.join(t.dir, '.app.db.restore-lock');
  await symlink(victim, lock);
  let r = await runRestore(t.env());
  assertExit(r, 74);
  assert.ok((await readTerminationLog(t.terminationLog)).includes(lock));
  assert.equal(await readFile(victim, 'utf8'), 'precious');
  assert.equal(await readlink(lock), victim);
  await assertOnly(t.dir, ['.app.db.restore-lock']);
  // At the marker's name: the marker replaces the link, the file it pointed to stays.
  await removeDir(lock);
  await symlink(victim, t.markerPath);
  r = await runRestore(t.env());
  assertExit(r, 0);
  assert.equal(await readFile(victim, 'utf8'), 'precious');
  assert.ok((await lstat(t.markerPath)).isFile());
  assert.equal((await readMarker(t.markerPath)).outcome, 'restored');
  // At the database's name: refused, never followed.
  await writeFile(path.join(t.dir, 'real.db'), await readFile(t.db));
  await removeDir(t.db);
  await symlink(path.join(t.dir, 'real.db'), t.db);
  r = await runRestore(t.env({ SQLITE_RESTORE_IF_EXISTS: 'overwrite' }));
  assertExit(r, 74);
  assert.match(await readTerminationLog(t.terminationLog), /is a symbolic link/);
  assert.ok((await lstat(t.db)).isSymbolicLink());
});

// --- one restore per database path -----------------------------------------------------------

describe('one restore per database path at a time', () => {
  let minio: Minio;
  let throttle: Throttle;
  let backup: SourceBackup;
  let s3: Record<string, string>;
  const snapshotMiB = 32;

  before(
    async () => {
      minio = await startMinio();
      await createBucket(minio, 'backups');
      const source = path.join(work, 'lock-source');
      await mkdir(source);
      backup = await makeBackup({
        workDir: source,
        replicas: [{ type: 's3', s3: minio, bucket: 'backups', path: 'big' }],
        prefill: (db) => fillRandom(db, snapshotMiB),
        workload: async (db) => {
          db.prepare("INSERT INTO kv (k, v) VALUES ('after-snapshot', 'yes')").run();
          await sleep(300);
        },
      });
      // About 8 s per restore: long enough to start a second run against a live one.
      throttle = await startThrottle(minio.endpoint, 4 * 1024 * 1024);
      s3 = s3Env(minio, { endpoint: throttle.endpoint });
    },
    { timeout: 300_000 },
  );

  after(async () => {
    await throttle?.stop();
    await minio?.stop();
  });

  /** Starts a restore and resolves with its child process once it is downloading (its temporary database exists). */
  async function startHolder(t: Target): Promise<{ child: ChildProcess; done: Promise<RunResult> }> {
    let child: ChildProcess | undefined;
    const done = runRestore(t.env(), { onSpawn: (c) => (child = c) });
    const building = async () => ((await restoringLeftovers(t.dir)).some((n) => /^\.app\.db\.restoring-[0-9a-f]{12}$/.test(n)) ? true : undefined);
    await waitFor('the first restore to be downloading', building, { timeoutMs: 60_000, intervalMs: 20 });
    return { child: child as ChildProcess, done };
  }

  test('a second run on the same path waits for the first, then skips; nobody’s files are removed', { timeout: 180_000 }, async () => {
    const t = await newTarget('lock-two', { replica: 's3://backups/big', s3 });
    const holder = await startHolder(t);
    const second = await runRestore(t.env());
    const first = await holder.done;
    assertExit(first, 0);
    assertExit(second, 0);
    assert.equal(logEvents(first, 'done')[0]?.outcome, 'restored');
    const waits = logEvents(second, 'lock-wait');
    assert.ok(waits.length > 0, `the second run must wait\n${explain(second)}`);
    assert.match(String(waits[0]?.holder), new RegExp(`^pid ${holder.child.pid} on host ${os.hostname()} since `));
    assert.equal(logEvents(second, 'done')[0]?.outcome, 'skipped');
    assert.deepEqual(logEvents(second, 'cleanup'), [], 'the second run removed nothing');
    await assertOnly(t.dir, ['app.db', 'app.db.restore.json']);
    assertSameDatabase(t.db, backup.digest);
  });

  test('a holder killed with SIGKILL releases the lock: the next run takes it at once and removes the dead run’s files', { timeout: 180_000 }, async () => {
    const t = await newTarget('lock-sigkill', { replica: 's3://backups/big', s3 });
    const holder = await startHolder(t);
    holder.child.kill('SIGKILL');
    const dead = await holder.done;
    assert.equal(dead.signal, 'SIGKILL');
    const left = await readdir(t.dir);
    assert.ok(left.includes('.app.db.restore-lock'), `the dead run left its lock file: ${left.join(', ')}`);
    const temps = await restoringLeftovers(t.dir);
    assert.ok(temps.length > 0, 'and its temporary files');

    const next = await runRestore(t.env());
    assertExit(next, 0);
    assert.deepEqual(logEvents(next, 'lock-wait'), [], `the lock is free at once\n${explain(next)}`);
    assert.deepEqual([...((logEvents(next, 'cleanup')[0]?.files as string[] | undefined) ?? [])].sort(), temps.sort());
    assert.equal(logEvents(next, 'done')[0]?.outcome, 'restored');
    await assertOnly(t.dir, ['app.db', 'app.db.restore.json']);
    assertSameDatabase(t.db, backup.digest);
  });

  test('a run still waiting at its timeout exits 75 naming the holder; SIGTERM while waiting is 143', { timeout: 180_000 }, async () => {
    const t = await newTarget('lock-timeout', { replica: 's3://backups/big', s3 });
    const holder = await startHolder(t);
    const timedOutLog = path.join(work, 'lock-timeout.waiter-1');
    let sentAt = 0;
    let exitedAt = 0;
    const [timedOut, terminated] = await Promise.all([
      runRestore(t.env({ SQLITE_RESTORE_TIMEOUT_SECONDS: '3', SQLITE_RESTORE_TERMINATION_LOG: timedOutLog })),
      // SIGTERM while waiting: acted on at once (the wait polls asynchronously).
      runRestore(t.env({ SQLITE_RESTORE_TERMINATION_LOG: path.join(work, 'lock-timeout.waiter-2') }), {
        onSpawn: (child) => {
          child.on('exit', () => (exitedAt = Date.now()));
          child.stdout?.on('data', (chunk: Buffer) => {
            if (!sentAt && chunk.toString('utf8').includes('"event":"lock-wait"')) {
              sentAt = Date.now();
              child.kill('SIGTERM');
            }
          });
        },
      }),
    ]);
    assertExit(timedOut, 75);
    const message = await readTerminationLog(timedOutLog);
    assert.ok(message.includes(`pid ${holder.child.pid} on host ${os.hostname()} since`), message);
    assert.ok(message.includes('.app.db.restore-lock'), message);
    assertExit(terminated, 143);
    assert.ok(sentAt > 0, 'the run logged that it waits');
    // The bound is 1 s; 1.5 s leaves room for a loaded 2-core machine.
    assert.ok(exitedAt - sentAt < 1500, `exited ${exitedAt - sentAt} ms after SIGTERM`);

    const first = await holder.done;
    assertExit(first, 0);
    assert.deepEqual(logEvents(first, 'done')[0]?.outcome, 'restored');
    await assertOnly(t.dir, ['app.db', 'app.db.restore.json']);
    assertSameDatabase(t.db, backup.digest);
  });
});
