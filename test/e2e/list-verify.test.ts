// The list and verify commands against backups written by the real
// Litestream v0.3.13 and v0.5.18 to MinIO: list shows what is there (a table,
// or JSON with --json; an empty replica is exit 0 with a note); verify
// restores into a scratch directory with integrity_check, reports, removes
// it, and fails like restore: 65 on a corrupt backup, 66 on none.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { parseLtxKey, txidHex } from '../../src/layout/ltx/keys.js';
import { assertExit, assertJsonLogs, assertSameDatabase } from '../support/assertions.js';
import { makeSmallBackup } from '../support/backup.js';
import { logicalDigest, type DbDigest } from '../support/digest.js';
import { startReplicationV5 } from '../support/litestream-v5.js';
import { lz4Decode, lz4EncodeStored } from '../support/lz4.js';
import { createBucket, s3Client, s3Env, startMinio, type Minio } from '../support/minio.js';
import { makeTempDir, removeDir } from '../support/paths.js';
import { sleep } from '../support/process.js';
import { S3Store, copyGeneration, newestGeneration, readLayout, segmentsOf, walIndexes, type Generation } from '../support/replica.js';
import { cliEnv, explain, readMarker, readTerminationLog, runCli, type RunResult } from '../support/run-cli.js';
import { openSource } from '../support/workload.js';

const bucket = 'backups';
let minio: Minio;
let client: S3Client;
let work: string;
let v3: { gen: Generation; store: S3Store };
let v5: { digest: DbDigest; lastTxid: bigint; files: string[] };

before(
  async () => {
    minio = await startMinio();
    client = s3Client(minio);
    work = await makeTempDir('e2e-list-verify');
    await createBucket(minio, bucket);
    await mkdir(path.join(work, 'v3'));
    await makeSmallBackup(path.join(work, 'v3'), [{ type: 's3', s3: minio, bucket, path: 'v3' }]);
    const store = new S3Store(client, bucket, 'v3');
    v3 = { gen: newestGeneration(await readLayout(store)), store };

    // A small Litestream v0.5 backup: a few transactions, then a final sync.
    const dir = path.join(work, 'v5');
    await mkdir(dir, { recursive: true });
    const dbPath = path.join(dir, 'source.db');
    const db = openSource(dbPath);
    try {
      const repl = await startReplicationV5({ version: '0.5.18', dbPath, replica: { type: 's3', s3: minio, bucket, path: 'v5' } });
      try {
        for (let t = 0; t < 6; t += 1) {
          db.prepare('INSERT INTO kv (k, v) VALUES (?, ?)').run(`key-${t}`, 'v'.repeat(200));
          await sleep(250);
        }
        await repl.stopAndFlush(1_500);
      } catch (err) {
        await repl.kill();
        throw err;
      }
    } finally {
      db.close();
    }
    const files = (await new S3Store(client, bucket, 'v5').list()).map((o) => o.key).filter((k) => parseLtxKey(k));
    const lastTxid = files.reduce((m, k) => ((parseLtxKey(k)?.maxTxid ?? 0n) > m ? (parseLtxKey(k)?.maxTxid as bigint) : m), 0n);
    v5 = { digest: logicalDigest(dbPath), lastTxid, files };
  },
  { timeout: 300_000 },
);

after(async () => {
  client?.destroy();
  await minio?.stop();
  if (work) await removeDir(work);
});

let runs = 0;
async function run(args: string[], prefix: string, extra: Record<string, string> = {}): Promise<{ r: RunResult; dir: string; terminationLog: string }> {
  const dir = path.join(work, 'runs', String((runs += 1)));
  await mkdir(dir, { recursive: true });
  const terminationLog = path.join(dir, 'termination-log');
  const env = { SQLITE_RESTORE_REPLICA_URL: `s3://${bucket}/${prefix}`, SQLITE_RESTORE_TERMINATION_LOG: terminationLog, ...s3Env(minio), ...extra };
  return { r: await runCli(args, env), dir, terminationLog };
}

/** The JSON log lines on stderr (list, --json); Node's own warnings may precede them. */
function stderrLogs(r: RunResult): Array<Record<string, unknown>> {
  return r.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');

test('list: a v0.3 replica as a table and as JSON, matching the objects', { timeout: 60_000 }, async () => {
  const { gen } = v3;
  const json = await run(['list', '--json'], 'v3');
  assertExit(json.r, 0);
  const doc = JSON.parse(json.r.stdout) as {
    replica: string;
    layouts: Array<{ layout: string; generations: Array<{ generation: string; newest: boolean; snapshots: Array<{ index: string; bytes: number }>; wal: Array<{ index: string; segments: number; bytes: number }> }> }>;
    notes: string[];
  };
  assert.equal(doc.replica, `s3://${bucket}/v3`);
  assert.deepEqual(doc.notes, []);
  assert.equal(doc.layouts.length, 1);
  const listed = doc.layouts[0]?.generations ?? [];
  assert.equal(doc.layouts[0]?.layout, 'litestream-v0.3');
  assert.deepEqual(listed.map((g) => [g.generation, g.newest]), [[gen.id, true]]);
  assert.deepEqual(listed[0]?.snapshots.map((s) => [s.index, s.bytes]), gen.snapshots.map((s) => [hex8(s.index), s.size]));
  assert.deepEqual(
    listed[0]?.wal.map((w) => [w.index, w.segments, w.bytes]),
    walIndexes(gen).map((i) => [hex8(i), segmentsOf(gen, i).length, segmentsOf(gen, i).reduce((n, s) => n + s.size, 0)]),
  );

  const table = await run(['list'], 'v3');
  assertExit(table.r, 0);
  const lines = table.r.stdout.split('\n');
  assert.equal(lines[0], `replica: s3://${bucket}/v3`);
  assert.ok(lines.includes('layout: litestream-v0.3'), table.r.stdout);
  assert.ok(lines.some((l) => l.startsWith(`generation ${gen.id} (newest): updated `)), table.r.stdout);
  const header = lines.find((l) => l.startsWith('KIND'));
  assert.match(header ?? '', /^KIND\s+INDEX\s+OBJECTS\s+BYTES\s+FIRST TIME\s+LAST TIME$/);
  const snapshotLine = lines.find((l) => l.startsWith('snapshot'));
  assert.match(snapshotLine ?? '', new RegExp(`^snapshot  ${hex8(gen.snapshots[0]?.index ?? -1)}\\s+1\\s+${gen.snapshots[0]?.size}\\s+\\d{4}-`));
  // Columns line up: every row's INDEX column starts where the header's does.
  const at = (header ?? '').indexOf('INDEX');
  for (const l of lines.filter((x) => /^(snapshot|wal) /.test(x))) assert.match(l.slice(at, at + 8), /^[0-9a-f]{8}$/, l);
  assert.deepEqual(stderrLogs(table.r).filter((l) => l.level !== 'debug'), [], 'list logs nothing at info');
});

test('list: a v0.5 replica by level, with header times; an empty replica is exit 0 with a note', { timeout: 60_000 }, async () => {
  const json = await run(['list', '--json'], 'v5');
  assertExit(json.r, 0);
  const doc = JSON.parse(json.r.stdout) as {
    layouts: Array<{ layout: string; levels: Array<{ level: number; files: Array<{ key: string; minTxid: string; maxTxid: string; timestamp: string | null }> }>; restorable: { fromTxid: string; toTxid: string } }>;
  };
  const listing = doc.layouts[0];
  assert.equal(listing?.layout, 'litestream-v0.5');
  const keys = listing?.levels.flatMap((l) => l.files.map((f) => f.key)) ?? [];
  assert.deepEqual([...keys].sort(), [...v5.files].sort());
  assert.equal(listing?.levels[0]?.level, 9, 'snapshots first');
  assert.ok(listing?.levels.every((l) => l.files.every((f) => f.timestamp && !Number.isNaN(Date.parse(f.timestamp)))), 'every header time read');
  assert.equal(listing?.restorable.toTxid, txidHex(v5.lastTxid));

  const table = await run(['list'], 'v5');
  assertExit(table.r, 0);
  assert.match(table.r.stdout, /^level 9 \(snapshots\): \d+ file\(s\), \d+ bytes$/m);
  assert.match(table.r.stdout, /^MIN TXID\s+MAX TXID\s+BYTES\s+TIMESTAMP\s+UPLOADED$/m);
  assert.match(table.r.stdout, new RegExp(`^restorable\\nFROM TXID\\s+TO TXID\\n[0-9a-f]{16}\\s+${txidHex(v5.lastTxid)}$`, 'm'));

  for (const args of [['list'], ['list', '--json']]) {
    const empty = await run(args, 'nothing-here');
    assertExit(empty.r, 0);
    if (args.length === 2) {
      assert.deepEqual(JSON.parse(empty.r.stdout), { replica: `s3://${bucket}/nothing-here`, layouts: [], notes: [`no backup found at s3://${bucket}/nothing-here at ${minio.endpoint}; beside it in s3://${bucket}/: v3/, v5/`] });
    } else {
      assert.equal(empty.r.stdout, `replica: s3://${bucket}/nothing-here\n\nnote: no backup found at s3://${bucket}/nothing-here at ${minio.endpoint}; beside it in s3://${bucket}/: v3/, v5/\n`);
    }
  }
});

test('list: wrong credentials are 77, a missing bucket 78, unknown arguments 78', { timeout: 60_000 }, async () => {
  const denied = await run(['list'], 'v3', { AWS_SECRET_ACCESS_KEY: 'wrong-secret-key-0000' });
  assertExit(denied.r, 77);
  assert.match(await readTerminationLog(denied.terminationLog), /^auth: /);
  assert.equal(denied.r.stdout, '', 'no listing on failure');
  assert.equal(stderrLogs(denied.r).at(-1)?.exitCode, 77);
  const missing = await runCli(['list'], { SQLITE_RESTORE_REPLICA_URL: 's3://no-such-bucket/x', SQLITE_RESTORE_TERMINATION_LOG: path.join(work, 'tl-missing'), ...s3Env(minio) });
  assertExit(missing, 78);
  const usage = await runCli(['list', '--yaml'], {});
  assertExit(usage, 78);
  assert.match(usage.stderr, /unknown argument "--yaml" for list\nUsage: sqlite-s3-restore/);
});

test('verify: restores into a scratch directory, checks integrity, reports and removes it', { timeout: 120_000 }, async () => {
  // With SQLITE_RESTORE_DB_PATH set (and no VERIFY_DIR) the scratch directory is beside it; the path itself stays untouched.
  const dbDir = path.join(work, 'verify-db-dir');
  await mkdir(dbDir);
  const dbPath = path.join(dbDir, 'app.db');
  const { r } = await run(['verify'], 'v3', { SQLITE_RESTORE_DB_PATH: dbPath });
  assertExit(r, 0);
  assertJsonLogs(r);
  const done = r.logs.at(-1) as { event: string; outcome: string; report: { sha256: string; verify: string; source: { generation: string } } };
  assert.equal(done.event, 'done');
  assert.equal(done.outcome, 'verified');
  assert.equal(done.report.verify, 'full');
  assert.equal(done.report.source.generation, v3.gen.id);
  const scratch = r.logs.find((l) => l.event === 'scratch')?.dir as string;
  assert.equal(path.dirname(scratch), dbDir);
  assert.deepEqual(await readdir(dbDir), [], 'scratch removed, no database created');

  // The report equals what a restore of the same backup produces.
  const restoreDir = path.join(work, 'verify-compare');
  await mkdir(restoreDir);
  const restored = await run([], 'v3', { SQLITE_RESTORE_DB_PATH: path.join(restoreDir, 'app.db') });
  assertExit(restored.r, 0);
  assert.equal(done.report.sha256, (await readMarker(path.join(restoreDir, 'app.db.restore.json'))).sha256);

  // --json: the report alone on stdout, the logs on stderr; SQLITE_RESTORE_VERIFY_DIR is created if missing.
  const verifyDir = path.join(work, 'verify-scratch', 'nested');
  const json = await run(['verify', '--json'], 'v5', { SQLITE_RESTORE_VERIFY_DIR: verifyDir, SQLITE_RESTORE_TARGET_TXID: txidHex(v5.lastTxid) });
  assertExit(json.r, 0);
  const report = JSON.parse(json.r.stdout) as Record<string, unknown>;
  assert.equal(report.outcome, 'verified');
  assert.equal((report.source as Record<string, unknown>).txid, txidHex(v5.lastTxid));
  assert.deepEqual(report.target, { kind: 'txid', txid: txidHex(v5.lastTxid), match: 'exact', reachedTxid: txidHex(v5.lastTxid) });
  assert.equal(stderrLogs(json.r).at(-1)?.event, 'done');
  assert.deepEqual(await readdir(verifyDir), []);
  assert.match(await readTerminationLog(json.terminationLog), /^verified: s3:\/\/backups\/v5$/);
});

test('verify: a flipped byte in a WAL segment is 65, no backup is 66 (even when a restore would allow it); the scratch directory is gone', { timeout: 120_000 }, async () => {
  const segments = walIndexes(v3.gen).flatMap((i) => segmentsOf(v3.gen, i));
  const victim = segments[Math.floor(segments.length / 2)];
  assert.ok(victim, `segments: ${segments.length}`);
  const scratchBase = path.join(work, 'verify-corrupt');
  for (const [name, damage] of [
    // Bit rot in the stored object: the LZ4 content checksum fails.
    ['raw', async (bytes: Buffer) => {
      const at = Math.floor(bytes.length / 2);
      bytes[at] = (bytes[at] as number) ^ 0x10;
      return bytes;
    }],
    // A well-formed LZ4 object holding a WAL frame whose page changed: the WAL checksum chain fails.
    ['page', async (bytes: Buffer) => {
      const wal = await lz4Decode(bytes);
      const at = (victim.offset === 0 ? 32 : 0) + 24 + 200;
      wal[at] = (wal[at] as number) ^ 0x01;
      return lz4EncodeStored(wal);
    }],
  ] as const) {
    const copy = new S3Store(client, bucket, `v3-corrupt-${name}`);
    await copyGeneration(v3.store, copy, v3.gen);
    await copy.put(victim.key, await damage(await copy.get(victim.key)));
    const { r, terminationLog } = await run(['verify'], `v3-corrupt-${name}`, { SQLITE_RESTORE_VERIFY_DIR: scratchBase });
    assertExit(r, 65);
    const message = await readTerminationLog(terminationLog);
    assert.match(message, /^corrupt: /);
    assert.ok(message.includes(victim.key.split('/').pop() as string), `${message}\n${explain(r)}`);
    assert.deepEqual(await readdir(scratchBase), [], 'scratch removed after a failure');
  }
  const none = await run(['verify'], 'nothing-here', { SQLITE_RESTORE_VERIFY_DIR: scratchBase, SQLITE_RESTORE_IF_NO_BACKUP: 'allow' });
  assertExit(none.r, 66);
  assert.match(await readTerminationLog(none.terminationLog), /^no-backup: no backup found/);
  assert.deepEqual(await readdir(scratchBase), []);
  await assert.rejects(stat(path.join(scratchBase, 'verify.db')));
});

test('SQLITE_RESTORE_MAX_AGE: a replica whose writer stopped fails verify with 69 once older, restore only warns', { timeout: 120_000 }, async () => {
  // The v5 writer stopped in before(). The backup's time is its newest transaction's
  // (the LTX header's timestamp, taken before the upload; a compacted file that
  // holds it is uploaded later still): at most the newest upload's time.
  const newest = Math.max(...(await new S3Store(client, bucket, 'v5').list()).filter((o) => parseLtxKey(o.key)).map((o) => o.lastModified.getTime()));
  const fresh = await run(['verify', '--json'], 'v5', { SQLITE_RESTORE_VERIFY_DIR: path.join(work, 'fresh'), SQLITE_RESTORE_MAX_AGE: '1h' });
  assertExit(fresh.r, 0);
  const report = JSON.parse(fresh.r.stdout) as { backupTime: string; warnings?: string[] };
  const backupTime = Date.parse(report.backupTime);
  assert.ok(backupTime <= newest && newest - backupTime < 60_000, `backupTime ${report.backupTime}, newest upload ${new Date(newest).toISOString()}`);
  assert.equal(report.warnings, undefined);

  // S3 times have whole seconds: wait until the backup is surely more than 2 s old.
  await sleep(Math.max(0, newest + 3_500 - Date.now()));
  const stale = await run(['verify'], 'v5', { SQLITE_RESTORE_VERIFY_DIR: path.join(work, 'stale'), SQLITE_RESTORE_MAX_AGE: '2s' });
  assertExit(stale.r, 69);
  assert.match(
    await readTerminationLog(stale.terminationLog),
    /^stale: the newest backup was written \d+s ago \(20\d\d-.*Z\), more than SQLITE_RESTORE_MAX_AGE \(2s\): has its writer \(Litestream\) stopped\?.*; it restores and passes integrity_check$/,
  );
  assert.deepEqual(await readdir(path.join(work, 'stale')), [], 'scratch removed');

  // A point in time is old by choice: not checked.
  const pitr = await run(['verify'], 'v5', { SQLITE_RESTORE_VERIFY_DIR: path.join(work, 'stale'), SQLITE_RESTORE_MAX_AGE: '2s', SQLITE_RESTORE_TARGET_TXID: txidHex(v5.lastTxid) });
  assertExit(pitr.r, 0);

  const dbPath = path.join(work, 'stale-restore', 'app.db');
  const restored = await run([], 'v5', { SQLITE_RESTORE_DB_PATH: dbPath, SQLITE_RESTORE_MAX_AGE: '2s' });
  assertExit(restored.r, 0);
  assertSameDatabase(dbPath, v5.digest);
  const warning = restored.r.logs.find((l) => l.event === 'stale-backup');
  assert.ok(warning, explain(restored.r));
  assert.deepEqual((await readMarker(`${dbPath}.restore.json`)).warnings, [warning.msg]);

  const bad = await run(['verify'], 'v5', { SQLITE_RESTORE_MAX_AGE: '4 hours' });
  assertExit(bad.r, 78);
  assert.match(await readTerminationLog(bad.terminationLog), /SQLITE_RESTORE_MAX_AGE must be a duration such as 90s, 15m, 4h/);
});
