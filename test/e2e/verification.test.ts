// A backup whose objects are all well-formed (valid LZ4, valid checksums) but
// whose database is structurally broken must still never be published: the
// SQLite check fails it with 65 and the target stays as it was.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { assertExit, assertFileBytes, assertNoLeftovers } from '../support/assertions.js';
import { lz4Decode, lz4EncodeStored } from '../support/lz4.js';
import { makeTempDir, removeDir, repoRoot } from '../support/paths.js';
import { cliEnv, readTerminationLog, runRestore } from '../support/run-cli.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await removeDir(d);
});

/** A one-snapshot replica made from the demo's snapshot, with `mutate` applied to the database bytes. */
async function replicaWith(mutate: (db: Buffer) => void): Promise<string> {
  const dir = await makeTempDir('e2e-verification');
  dirs.push(dir);
  const demoGen = path.join(repoRoot, 'demo/replica/generations');
  const [gen] = await readdir(demoGen);
  const snapshots = path.join(demoGen, gen as string, 'snapshots');
  const [snap] = await readdir(snapshots);
  const db = await lz4Decode(await readFile(path.join(snapshots, snap as string)));
  mutate(db);
  const out = path.join(dir, 'replica/generations/00000000000000aa/snapshots');
  await mkdir(out, { recursive: true });
  await writeFile(path.join(out, '00000000.snapshot.lz4'), lz4EncodeStored(db));
  return path.join(dir, 'replica');
}

async function restoreOver(replica: string, level: string) {
  const dir = path.dirname(replica);
  const db = path.join(dir, 'target', 'app.db');
  await mkdir(path.dirname(db), { recursive: true });
  const before = Buffer.from('previous content, not a database');
  await writeFile(db, before);
  const termination = path.join(dir, 'termination-log');
  const r = await runRestore(
    cliEnv({ replicaUrl: `file://${replica}`, dbPath: db, terminationLog: termination, extra: { SQLITE_RESTORE_VERIFY: level } }),
  );
  return { r, db, before, termination };
}

test('a snapshot with a broken b-tree page fails quick_check: 65, target untouched', async () => {
  const replica = await replicaWith((db) => {
    const pageSize = db.readUInt16BE(16);
    // Page 2 is the notes table's root: an invalid page type makes it unreadable.
    db[pageSize] = 0x55;
  });
  const { r, db, before, termination } = await restoreOver(replica, 'quick');
  assertExit(r, 65);
  assert.match(await readTerminationLog(termination), /quick_check|malformed/);
  await assertFileBytes(db, before, 'target after failed verification');
  await assertNoLeftovers(path.dirname(db));
});

test('a database whose header page count disagrees with its size is refused even with verification off', async () => {
  const replica = await replicaWith((db) => {
    db.writeUInt32BE(db.readUInt32BE(28) + 5, 28); // in-header page count, trusted by SQLite
  });
  const { r, db, before } = await restoreOver(replica, 'none');
  assertExit(r, 65);
  await assertFileBytes(db, before, 'target after failed header check');
});
