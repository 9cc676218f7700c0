// Fixtures in the zlayer-storage crate's replica layout, made the way the
// crate makes them: a real SQLite database in WAL mode (better-sqlite3), whose
// main file is copied as-is as a snapshot and whose -wal file is copied whole
// as WAL objects, each compressed as ONE zstd frame by a real zstd encoder
// (the zstd command line tool reading a pipe: a streaming encoder with no
// pledged size, so the frame has no content size, like the crate's
// zstd::stream::Encoder; --no-check, as the crate's default leaves the
// checksum out). Key names are spelled here independently of src/:
//   {prefix}snapshots/{%Y%m%d_%H%M%S}.sqlite.zst, {prefix}wal/{:020}.wal.zst, {prefix}metadata.json
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { logicalDigest, type DbDigest } from './digest.js';
import type { ReplicaStore } from './replica.js';

/** Where the zstd command line tool is, or a clear failure (Debian: apt-get install zstd). */
export function zstdBin(): string {
  const found = spawnSync('sh', ['-c', 'command -v zstd'], { encoding: 'utf8' });
  const bin = found.stdout.trim();
  if (found.status !== 0 || !bin) throw new Error('the zstd command line tool is required by the zlayer tests (apt-get install zstd)');
  return bin;
}

export interface ZstdOptions {
  /** Compression level (the crate's is configurable; 3 is zstd's default). */
  level?: number;
  /** Add the XXH64 content checksum (the CLI's default, not the crate's). */
  checksum?: boolean;
  /** Compress from a file instead of a pipe, so the header records the content size. */
  contentSize?: boolean;
}

export function zstdCompress(data: Uint8Array, opts: ZstdOptions = {}): Buffer {
  const args = ['-q', '-c', `-${opts.level ?? 3}`, opts.checksum ? '--check' : '--no-check'];
  if (opts.level !== undefined && opts.level > 19) args.unshift('--ultra');
  if (opts.contentSize) {
    const dir = mkdtempSync(path.join(tmpdir(), 'zstd-'));
    try {
      const file = path.join(dir, 'data');
      writeFileSync(file, data);
      return execFileSync(zstdBin(), [...args, file], { maxBuffer: 1 << 30 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return execFileSync(zstdBin(), args, { input: data, maxBuffer: 1 << 30 });
}

export function zstdDecompressCli(data: Uint8Array): Buffer {
  return execFileSync(zstdBin(), ['-q', '-d', '-c'], { input: data, maxBuffer: 1 << 30 });
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** chrono's `%Y%m%d_%H%M%S` of a UTC time. */
export function crateStamp(time: Date): string {
  return (
    `${pad(time.getUTCFullYear(), 4)}${pad(time.getUTCMonth() + 1)}${pad(time.getUTCDate())}_` +
    `${pad(time.getUTCHours())}${pad(time.getUTCMinutes())}${pad(time.getUTCSeconds())}`
  );
}

export const crateSnapshotKey = (time: Date): string => `snapshots/${crateStamp(time)}.sqlite.zst`;
export const crateWalKey = (sequence: number): string => `wal/${String(sequence).padStart(20, '0')}.wal.zst`;

/** The crate's "sequence": frames in the -wal file, from its size and page size alone. */
export function crateFrameCount(wal: Uint8Array): number {
  if (wal.length < 32) return 0;
  const pageSize = new DataView(wal.buffer, wal.byteOffset, 32).getUint32(8);
  return pageSize === 0 ? 0 : Math.floor((wal.length - 32) / (24 + pageSize));
}

/** metadata.json as serde_json::to_vec_pretty writes the crate's ReplicationMetadata (chrono: RFC 3339, nanoseconds). */
export function crateMetadata(opts: { prefix: string; latestSnapshotKey: string | null; snapshotCount: number; time?: Date }): string {
  const time = (opts.time ?? new Date()).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
  return JSON.stringify(
    {
      latest_snapshot: opts.latestSnapshotKey === null ? null : `${opts.prefix}${opts.latestSnapshotKey}`,
      latest_snapshot_time: time,
      latest_wal_sequence: null,
      snapshot_count: opts.snapshotCount,
      db_identifier: null,
      last_modified: time,
    },
    null,
    2,
  );
}

/**
 * A source database as an application using the crate has it: WAL mode,
 * automatic checkpoints off so the -wal keeps transactions the main file lacks
 * until the test checkpoints explicitly. Writes alternate between two
 * connections, as from a connection pool (sqlx's SqlitePool, Go's database/sql):
 * SQLite raises the header's change counter when a connection commits after
 * another one did, never for a lone connection's successive commits.
 */
export class SourceDb {
  readonly db: Database.Database;
  private readonly pool: Database.Database[];
  private turn = 0;

  constructor(
    readonly file: string,
    pageSize = 4096,
  ) {
    this.db = new Database(file);
    this.db.pragma(`page_size = ${pageSize}`);
    const mode = this.db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new Error(`could not enable WAL mode (got ${String(mode)})`);
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL, note TEXT);
      CREATE INDEX IF NOT EXISTS items_name ON items(name);
      CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
    `);
    this.pool = [this.db, new Database(file)];
    for (const c of this.pool) c.pragma('wal_autocheckpoint = 0');
  }

  private next(): Database.Database {
    this.turn = (this.turn + 1) % this.pool.length;
    return this.pool[this.turn] as Database.Database;
  }

  /** One transaction inserting `n` rows tagged `tag` (grows the file, so page 1 is written). */
  insert(n: number, tag: string): void {
    const c = this.next();
    const stmt = c.prepare('INSERT INTO items (name, qty, note) VALUES (?, ?, ?)');
    const kv = c.prepare('INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v');
    c.transaction(() => {
      for (let i = 0; i < n; i += 1) stmt.run(`${tag}-${i}`, i, `${tag} note ${i} `.repeat(1 + (i % 7)));
      kv.run(`last:${tag}`, String(n));
    })();
  }

  /** One transaction updating and deleting rows. */
  churn(tag: string): void {
    const c = this.next();
    c.transaction(() => {
      c.prepare('UPDATE items SET qty = qty + 1000, note = ? WHERE id % 5 = 0').run(`${tag} updated`);
      c.prepare('DELETE FROM items WHERE id % 7 = 3').run();
      c.prepare('INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v').run(`churn:${tag}`, tag);
    })();
  }

  checkpoint(mode: 'PASSIVE' | 'TRUNCATE' | 'RESTART'): void {
    this.db.pragma(`wal_checkpoint(${mode})`);
  }

  /**
   * Opens a read transaction on a third connection and returns its end: while
   * it lasts, a checkpoint cannot let the next writer restart the WAL, so the
   * -wal keeps frames the main file already holds.
   */
  holdReader(): () => void {
    const reader = new Database(this.file, { readonly: true });
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM items').get();
    return () => {
      reader.exec('COMMIT');
      reader.close();
    };
  }

  /** The main database file as it is on disk now: what the crate uploads as a snapshot. */
  mainFile(): Buffer {
    return readFileSync(this.file);
  }

  /** The whole -wal file as it is on disk now: what the crate uploads as a WAL object. */
  walFile(): Buffer {
    return readFileSync(`${this.file}-wal`);
  }

  /** Schema and rows as SQLite sees them now (main file + -wal). */
  digest(): DbDigest {
    return logicalDigest(this.file);
  }

  close(): void {
    for (const c of this.pool.slice(1)) c.close();
    this.db.close();
  }
}

/** The logical content of a main file on its own (a snapshot without any WAL). */
export function digestOfFile(bytes: Uint8Array, dir: string, name: string): DbDigest {
  const file = path.join(dir, `${name}.db`);
  writeFileSync(file, bytes);
  return logicalDigest(file);
}

/** Writes objects into a replica the way the crate does (each object one zstd frame). */
export class ZlayerWriter {
  constructor(
    readonly store: ReplicaStore,
    /** The crate's s3_prefix as it appears in metadata.json (ends in "/"). */
    readonly cratePrefix: string,
    /** For a file replica: its directory, so modification times can be set. */
    readonly fileRoot?: string,
  ) {}

  private async put(key: string, data: Buffer, mtime?: Date): Promise<string> {
    await this.store.put(key, data);
    if (mtime) {
      if (!this.fileRoot) throw new Error('modification times can only be set on a file replica');
      utimesSync(path.join(this.fileRoot, key), mtime, mtime);
    }
    return key;
  }

  /** Uploads a main-file copy as the snapshot named after `name` (the crate uses the upload time). */
  putSnapshot(mainFile: Uint8Array, name: Date, mtime?: Date): Promise<string> {
    return this.put(crateSnapshotKey(name), zstdCompress(mainFile), mtime);
  }

  /** Uploads a -wal copy under its frame count, as the crate does. */
  putWal(walFile: Uint8Array, mtime?: Date, sequence = crateFrameCount(walFile)): Promise<string> {
    return this.put(crateWalKey(sequence), zstdCompress(walFile), mtime);
  }

  putMetadata(latestSnapshotKey: string | null, snapshotCount: number, mtime?: Date): Promise<string> {
    return this.put('metadata.json', Buffer.from(crateMetadata({ prefix: this.cratePrefix, latestSnapshotKey, snapshotCount })), mtime);
  }

  putRaw(key: string, data: Buffer, mtime?: Date): Promise<string> {
    return this.put(key, data, mtime);
  }
}
