// Crafted backups for the hostile-input tests: real SQLite databases and WAL
// files (better-sqlite3), compressed by the real lz4 and zstd command line
// tools, laid out as Litestream v0.3 or zlayer-storage replicas; plus the
// hand-made objects no writer would produce (a commit claiming 2^32 pages,
// a zstd frame of thousands of run-length blocks behind a 128 MiB window).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { walChecksum } from '../../src/sqlite/wal.js';
import { logicalDigest, type DbDigest } from './digest.js';
import type { ReplicaStore } from './replica.js';

export const GENERATION = '0123456789abcdef';
export const snapshotKey = (index = 0): string => `generations/${GENERATION}/snapshots/${hex8(index)}.snapshot.lz4`;
export const walKey = (index = 0, offset = 0): string => `generations/${GENERATION}/wal/${hex8(index)}_${hex8(offset)}.wal.lz4`;
const hex8 = (n: number) => n.toString(16).padStart(8, '0');

/** Compresses a file with the lz4 tool (4 MiB blocks, as Litestream writes them) and returns the frame. */
export function lz4File(file: string): Buffer {
  const out = `${file}.lz4`;
  const r = spawnSync('lz4', ['-q', '-f', '-B7', file, out], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`lz4 failed: ${r.stderr?.toString()}`);
  const frame = readFileSync(out);
  rmSync(out, { force: true });
  return frame;
}

export function lz4Bytes(dir: string, name: string, data: Uint8Array): Buffer {
  const file = path.join(dir, name);
  writeFileSync(file, data);
  const frame = lz4File(file);
  rmSync(file, { force: true });
  return frame;
}

export interface CraftedReplica {
  /** What the restore must produce, when it is a valid backup. */
  readonly digest?: DbDigest;
  /** Bytes of the objects put into the store. */
  readonly bytes: number;
  /** Decoded size of the WAL. */
  readonly walBytes: number;
}

/**
 * A real database's snapshot, then one WAL segment holding whatever `work`
 * writes, as a Litestream v0.3 generation: the source is checkpointed
 * (TRUNCATE) first, so the WAL starts at offset 0 with a fresh header.
 */
export async function walReplica(
  dir: string,
  stores: readonly ReplicaStore[],
  setup: (db: Database.Database) => void,
  work: (db: Database.Database) => void,
  pageSize = 4096,
): Promise<CraftedReplica> {
  mkdirSync(dir, { recursive: true });
  const source = path.join(dir, 'source.db');
  rmSync(source, { force: true });
  const db = new Database(source);
  try {
    db.pragma(`page_size = ${pageSize}`);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    setup(db);
    db.pragma('wal_checkpoint(TRUNCATE)');
    copyFileSync(source, path.join(dir, 'snapshot.db'));
    work(db);
    // Copied while the connection is open: closing would checkpoint and delete it.
    copyFileSync(`${source}-wal`, path.join(dir, 'segment.wal'));
    const digest = logicalDigest(source);
    const snapshot = lz4File(path.join(dir, 'snapshot.db'));
    const segment = lz4File(path.join(dir, 'segment.wal'));
    const walBytes = statSync(path.join(dir, 'segment.wal')).size;
    rmSync(path.join(dir, 'segment.wal'), { force: true });
    for (const store of stores) {
      await store.put(snapshotKey(), snapshot);
      await store.put(walKey(), segment);
    }
    return { digest, bytes: snapshot.length + segment.length, walBytes };
  } finally {
    db.close();
    for (const f of [source, `${source}-wal`, `${source}-shm`]) rmSync(f, { force: true });
  }
}

/** The WAL header and frames for `frames` (page number, page bytes, db size after commit or 0). */
export function craftWal(pageSize: number, frames: ReadonlyArray<{ pgno: number; page: Uint8Array; commit: number }>): Buffer {
  const header = Buffer.alloc(32);
  header.writeUInt32BE(0x377f0682, 0);
  header.writeUInt32BE(3007000, 4);
  header.writeUInt32BE(pageSize === 65536 ? 1 : pageSize, 8);
  header.writeUInt32BE(0, 12);
  header.writeUInt32BE(0x11111111, 16);
  header.writeUInt32BE(0x22222222, 20);
  let [s0, s1] = walChecksum(header.subarray(0, 24), false, 0, 0);
  header.writeUInt32BE(s0, 24);
  header.writeUInt32BE(s1, 28);
  const parts: Buffer[] = [header];
  for (const { pgno, page, commit } of frames) {
    const frame = Buffer.alloc(24 + pageSize);
    frame.writeUInt32BE(pgno, 0);
    frame.writeUInt32BE(commit, 4);
    frame.writeUInt32BE(0x11111111, 8);
    frame.writeUInt32BE(0x22222222, 12);
    frame.set(page, 24);
    [s0, s1] = walChecksum(frame.subarray(0, 8), false, s0, s1);
    [s0, s1] = walChecksum(frame.subarray(24), false, s0, s1);
    frame.writeUInt32BE(s0, 16);
    frame.writeUInt32BE(s1, 20);
    parts.push(frame);
  }
  return Buffer.concat(parts);
}

/**
 * A tiny real database, and a WAL whose one commit rewrites page 1 to claim
 * `pages` pages (change counter = version-valid-for, so SQLite believes it)
 * and sets the database size to the same: a backup of a few KiB asking for a
 * file of 2^32 pages.
 */
export async function hugePageCountReplica(dir: string, stores: readonly ReplicaStore[], pages = 0xfffffffe): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'tiny.db');
  rmSync(file, { force: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1);');
  db.close();
  const image = await readFile(file);
  const pageSize = image.readUInt16BE(16);
  const page1 = Buffer.from(image.subarray(0, pageSize));
  page1.writeUInt32BE(pages, 28);
  page1.writeUInt32BE(page1.readUInt32BE(24), 92);
  const wal = craftWal(pageSize, [{ pgno: 1, page: page1, commit: pages }]);
  const snapshot = lz4Bytes(dir, 'tiny.snapshot', image);
  const segment = lz4Bytes(dir, 'tiny.wal', wal);
  for (const store of stores) {
    await store.put(snapshotKey(), snapshot);
    await store.put(walKey(), segment);
  }
  rmSync(file, { force: true });
}

/**
 * One zstd frame declaring a 128 MiB window and holding `blocks` run-length
 * blocks of 128 KiB each: 4 bytes of input per block, 128 KiB of output, and
 * a pass over the whole window per block in a streaming decoder. `prefix`
 * comes first, as a raw block (e.g. a valid WAL header, so a reader accepts
 * the start of the output).
 */
export function zstdRleBomb(blocks: number, prefix?: Uint8Array): Buffer {
  const header = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, (27 - 10) << 3]);
  const parts: Buffer[] = [header];
  if (prefix) {
    const raw = (prefix.length << 3) | (0 << 1);
    parts.push(Buffer.from([raw & 0xff, (raw >> 8) & 0xff, (raw >> 16) & 0xff]), Buffer.from(prefix));
  }
  for (let i = 0; i < blocks; i += 1) {
    const last = i === blocks - 1 ? 1 : 0;
    const raw = ((128 * 1024) << 3) | (1 << 1) | last;
    parts.push(Buffer.from([raw & 0xff, (raw >> 8) & 0xff, (raw >> 16) & 0xff, 0x41]));
  }
  return Buffer.concat(parts);
}
