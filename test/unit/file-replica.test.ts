// File replicas that hold something other than files and directories
// (src/store/file.ts), and what every layout makes of it (src/layout/found.ts):
// never followed, never read, never "no backup".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { CorruptBackupError } from '../../src/errors.js';
import { autoLayout } from '../../src/layout/detect.js';
import { listV3, planV3 } from '../../src/layout/litestream-v3/plan.js';
import { planLtx } from '../../src/layout/ltx/plan.js';
import { planZlayer } from '../../src/layout/zlayer/plan.js';
import { FileStore } from '../../src/store/file.js';
import { collectListing, isIrregular, type ListEntry, type ObjectInfo, type Store } from '../../src/store/store.js';
import { makeTempDir, removeDir } from '../support/paths.js';

const GEN = '0123456789abcdef';
const snap = `generations/${GEN}/snapshots/00000000.snapshot.lz4`;
const wal = (i: number) => `generations/${GEN}/wal/00000000_${i.toString(16).padStart(8, '0')}.wal.lz4`;
const signal = new AbortController().signal;
let work: string;
let socketServer: net.Server | undefined;

before(async () => {
  work = await makeTempDir('unit-file-replica');
});

after(async () => {
  socketServer?.close();
  await removeDir(work);
});

async function put(root: string, key: string, bytes = Buffer.from('x')): Promise<void> {
  await mkdir(path.dirname(path.join(root, key)), { recursive: true });
  await writeFile(path.join(root, key), bytes);
}

async function listAll(store: Store, prefix: string): Promise<ListEntry[]> {
  const out: ListEntry[] = [];
  for await (const e of store.list(prefix, signal)) out.push(e);
  return out.sort((a, b) => (a.key < b.key ? -1 : 1));
}

const obj = (key: string): ObjectInfo => ({ key, size: 10, lastModified: new Date(1_000) });
const irregular = (key: string): ListEntry => ({ key, irregular: 'symbolic link' });
const corrupt = (pattern: RegExp) => (err: unknown) => err instanceof CorruptBackupError && err.exitCode === 65 && pattern.test(err.message);

test('list reports symlinks, FIFOs and sockets where objects could be, and never follows a symlinked directory', async () => {
  const root = path.join(work, 'kinds');
  const elsewhere = path.join(work, 'elsewhere');
  await put(root, snap);
  await put(elsewhere, `generations/${GEN}/wal/00000000_00000000.wal.lz4`);
  await put(elsewhere, 'generations/fedcba9876543210/snapshots/00000000.snapshot.lz4');
  await mkdir(path.join(root, `generations/${GEN}/wal`), { recursive: true });
  await symlink(path.join(elsewhere, `generations/${GEN}/wal/00000000_00000000.wal.lz4`), path.join(root, wal(0)));
  execFileSync('mkfifo', [path.join(root, wal(1))]);
  // A socket path is limited to 107 bytes: bind by a relative name from inside the directory.
  const cwd = process.cwd();
  process.chdir(path.dirname(path.join(root, wal(2))));
  try {
    socketServer = net.createServer().listen(path.basename(wal(2)));
    await new Promise((resolve) => socketServer?.once('listening', resolve));
  } finally {
    process.chdir(cwd);
  }
  await symlink(path.join(elsewhere, 'generations/fedcba9876543210'), path.join(root, 'generations/fedcba9876543210'));

  const entries = await listAll(new FileStore(root), 'generations/');
  assert.deepEqual(
    entries.map((e) => [e.key, isIrregular(e) ? e.irregular : 'file']),
    [
      ['generations/0123456789abcdef/snapshots/00000000.snapshot.lz4', 'file'],
      ['generations/0123456789abcdef/wal/00000000_00000000.wal.lz4', 'symbolic link'],
      ['generations/0123456789abcdef/wal/00000000_00000001.wal.lz4', 'FIFO'],
      ['generations/0123456789abcdef/wal/00000000_00000002.wal.lz4', 'socket'],
      ['generations/fedcba9876543210', 'symbolic link'],
    ],
  );
  // A symlink on the way to the prefix is reported, not walked.
  const linkedTop = path.join(work, 'linked-top');
  await mkdir(linkedTop);
  await symlink(path.join(elsewhere, 'generations'), path.join(linkedTop, 'generations'));
  assert.deepEqual(await listAll(new FileStore(linkedTop), 'generations/'), [{ key: 'generations', irregular: 'symbolic link' }]);
});

test('a file swapped for a FIFO or a symlink after the listing is refused at once, never waited on or followed', async () => {
  const root = path.join(work, 'swapped');
  await put(root, 'a', Buffer.alloc(100));
  await put(root, 'b', Buffer.alloc(100));
  await put(root, 'target', Buffer.alloc(100, 7));
  const store = new FileStore(root);
  const [a, b] = (await listAll(store, '')).filter((e): e is ObjectInfo => !isIrregular(e) && e.key !== 'target');
  await rm(path.join(root, 'a'));
  execFileSync('mkfifo', [path.join(root, 'a')]);
  await rm(path.join(root, 'b'));
  await symlink(path.join(root, 'target'), path.join(root, 'b'));
  const read = async (info: ObjectInfo) => {
    for await (const _ of store.read(info, { signal })) void _;
  };
  const started = Date.now();
  await assert.rejects(read(a as ObjectInfo), corrupt(/^a: replaced by a FIFO since it was listed/));
  await assert.rejects(read(b as ObjectInfo), corrupt(/^b: replaced by a symbolic link since it was listed; it is not followed/));
  assert.ok(Date.now() - started < 5_000);
});

test('Litestream v0.3: an irregular entry where an object or a generation belongs is refused, naming it', () => {
  const good = [obj(snap), obj(wal(0))];
  for (const key of [wal(1), snap.replace('00000000.snapshot', '00000001.snapshot'), `generations/${'f'.repeat(16)}`, 'generations', `generations/${GEN}/wal`]) {
    assert.throws(() => planV3([...good, irregular(key)]), corrupt(new RegExp(`${key.replace(/[./]/g, '\\$&')} \\(a symbolic link\\).*never followed`)), key);
  }
  // Elsewhere under the prefix: a warning naming it, the restore goes on.
  const r = planV3([...good, irregular(`generations/${GEN}/notes`)]);
  assert.ok(r.plan);
  assert.deepEqual(r.plan.warnings, [`generations/${GEN}/notes (a symbolic link) is not a regular file or directory and was ignored`]);
  // list shows them as notes.
  assert.match(listV3([...good, irregular(wal(1))]).notes.join('\n'), /00000000_00000001\.wal\.lz4 \(a symbolic link\) stands where litestream-v0\.3 objects belong: a restore refuses this replica/);
});

test('anything under a layout prefix is never "no backup": a symlinked generation alone, or foreign objects alone, are refused', () => {
  assert.equal(planV3([]).plan, null);
  assert.throws(() => planV3([irregular(`generations/${GEN}`)]), corrupt(/0123456789abcdef \(a symbolic link\)/));
  assert.throws(() => planV3([irregular('generations/README')]), corrupt(/no litestream-v0\.3 backup: generations\/README \(a symbolic link\)/));
  assert.throws(() => planV3([obj('generations/x.tmp')]), corrupt(/no litestream-v0\.3 backup: generations\/x\.tmp/));
  assert.throws(() => planLtx([irregular('ltx/0/0000000000000001-0000000000000001.ltx')]).plan, corrupt(/where litestream-v0\.5 objects belong/));
  assert.throws(() => planLtx([irregular('ltx/9')]), corrupt(/ltx\/9 \(a symbolic link\)/));
  assert.throws(() => planLtx([obj('ltx/0/partial.tmp')]), corrupt(/no litestream-v0\.5 backup: ltx\/0\/partial\.tmp/));
  assert.throws(() => planZlayer([irregular('snapshots')], { state: 'missing' }), corrupt(/snapshots \(a symbolic link\)/));
  assert.throws(() => planZlayer([irregular('metadata.json')], { state: 'missing' }), corrupt(/metadata\.json \(a symbolic link\)/));
  assert.throws(() => planZlayer([irregular('wal/x')], { state: 'missing' }), corrupt(/no zlayer backup: wal\/x \(a symbolic link\)/));
});

test('auto-detection over a real replica with only a symlinked generation: exit 65, not "no backup"', async () => {
  const root = path.join(work, 'only-link');
  await put(path.join(work, 'real'), snap);
  await mkdir(path.join(root, 'generations'), { recursive: true });
  await symlink(path.join(work, 'real', 'generations', GEN), path.join(root, 'generations', GEN));
  await assert.rejects(autoLayout.plan(new FileStore(root), signal), corrupt(/generations\/0123456789abcdef \(a symbolic link\)/));
});

test('collectListing stops past its limits (objects, characters of names), naming the prefixes, and keeps an irregular entry once', async () => {
  const endless: Store = {
    location: 'test://endless',
    async *list(prefix: string) {
      yield { key: 'ltx', irregular: 'symbolic link' } as const;
      for (let i = 0; ; i++) yield obj(`${prefix}${i}`);
    },
    read: () => {
      throw new Error('not used');
    },
  };
  await assert.rejects(collectListing(endless, ['ltx/', '0000/'], signal, 1000), corrupt(/more than 1,000 objects under ltx\/, 0000\//));
  const finite: Store = {
    location: 'test://finite',
    async *list(prefix: string) {
      yield { key: 'ltx', irregular: 'FIFO' } as const;
      yield obj(`${prefix}a`);
    },
    read: endless.read,
  };
  assert.deepEqual((await collectListing(finite, ['ltx/', '0000/'], signal)).map((e) => e.key).sort(), ['0000/a', 'ltx', 'ltx/a']);
  // Long names are bounded by their total length, not only by the count.
  const long: Store = {
    location: 'test://long',
    async *list(prefix: string) {
      for (let i = 0; ; i++) yield { ...obj(`${prefix}${'k'.repeat(1000)}${i}`), etag: `"${'e'.repeat(32)}"` };
    },
    read: endless.read,
  };
  await assert.rejects(collectListing(long, ['generations/'], signal), corrupt(/keys and ETags add up to more than 24,000,000 characters/));
});
