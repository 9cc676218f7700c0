// Crafted backup objects that are not about memory (issue 9, item 8): an LTX
// header whose timestamp no date can hold used to end `list` and time targets
// with exit 70 "Invalid time value"; it is a corrupt header (65), named, and
// `list` still lists everything else.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeTempDir, removeDir } from '../support/paths.js';
import { cliEnv, explain, readTerminationLog, runCli, runRestore } from '../support/run-cli.js';
import { assertExit } from '../support/assertions.js';
import { encodeLtx, patternPage, sqlitePage1 } from '../support/ltx.js';

const PS = 4096;
let work: string;
let replica: string;
const badKey = 'ltx/0/0000000000000002-0000000000000002.ltx';

before(async () => {
  work = await makeTempDir('e2e-hostile-backup');
  replica = path.join(work, 'replica');
  const put = async (key: string, data: Buffer) => {
    await mkdir(path.dirname(path.join(replica, key)), { recursive: true });
    await writeFile(path.join(replica, key), data);
  };
  const pages = [{ pgno: 1, data: sqlitePage1(PS, 2) }, { pgno: 2, data: patternPage(PS, 2) }];
  await put('ltx/9/0000000000000001-0000000000000001.ltx', encodeLtx({ pageSize: PS, commit: 2, minTxid: 1n, maxTxid: 1n, pages, encoding: 'block' }));
  // About the year 146 million: valid 64-bit milliseconds, beyond any Date.
  await put(badKey, encodeLtx({ pageSize: PS, commit: 2, minTxid: 2n, maxTxid: 2n, pages: [pages[1]!], encoding: 'block', timestamp: 2 ** 62 }));
});

after(async () => {
  if (work) await removeDir(work);
});

const env = (dir: string, extra: Record<string, string> = {}) =>
  cliEnv({ replicaUrl: `file://${replica}`, dbPath: path.join(dir, 'app.db'), terminationLog: path.join(dir, 'termination-log'), extra });

test('list shows a file whose LTX timestamp is out of range as unreadable, and lists the rest (exit 0, not 70)', async () => {
  const dir = path.join(work, 'list');
  await mkdir(dir);
  const r = await runCli(['list', '--json'], env(dir));
  assertExit(r, 0);
  const listing = JSON.parse(r.stdout) as { layouts: Array<Record<string, unknown>> };
  assert.equal(listing.layouts.length, 1, explain(r));
  assert.match(r.stdout, /timestamp 4611686018427387904 ms is out of range/);
  assert.match(r.stdout, /0000000000000001-0000000000000001\.ltx/);
});

test('a time target that needs that header is exit 65 naming the file, not 70', async () => {
  const dir = path.join(work, 'time-target');
  await mkdir(dir);
  const r = await runRestore(env(dir, { SQLITE_RESTORE_TARGET_TIME: '2026-11-30T12:00:00Z', SQLITE_RESTORE_TARGET_MATCH: 'at-or-before' }));
  assertExit(r, 65);
  const message = await readTerminationLog(path.join(dir, 'termination-log'));
  assert.match(message, /^corrupt: .*0000000000000002-0000000000000002\.ltx: invalid LTX header: timestamp 4611686018427387904 ms is out of range/);
});

test('restoring the newest state through that file fails closed the same way', async () => {
  const dir = path.join(work, 'latest');
  await mkdir(dir);
  const r = await runRestore(env(dir));
  assertExit(r, 65);
  assert.match(await readTerminationLog(path.join(dir, 'termination-log')), /timestamp 4611686018427387904 ms is out of range/);
});
