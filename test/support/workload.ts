// A realistic write workload on a real SQLite database (better-sqlite3) in WAL
// mode while Litestream replicates it: schema creation, inserts, updates,
// deletes, one very large transaction, many small ones and a VACUUM. Litestream
// checkpoints whenever the WAL passes its page threshold, so the pauses between
// phases make it start a new WAL index several times.
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { sleep } from './process.js';

export type Db = Database.Database;

/** Opens (creating) a source database the way an application using Litestream should. */
export function openSource(dbPath: string): Db {
  const db = new Database(dbPath);
  db.pragma('busy_timeout = 15000');
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  if (mode !== 'wal') throw new Error(`could not enable WAL mode (got ${String(mode)})`);
  db.pragma('synchronous = NORMAL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS items (
      id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL, price REAL, note TEXT, data BLOB);
    CREATE INDEX IF NOT EXISTS items_name ON items(name);
    CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
  `);
  return db;
}

export interface WorkloadOptions {
  /** Rows inserted into `items` in the first phase. */
  rows?: number;
  /** Size of the single big transaction, in MiB of random (incompressible) blobs. */
  bigTransactionMiB?: number;
  /** Pause between phases so Litestream syncs and checkpoints. */
  pauseMs?: number;
  log?: (msg: string) => void;
}

export interface WorkloadStats {
  transactions: number;
  rows: Record<string, number>;
  durationMs: number;
}

const word = (i: number): string => `item-${(i * 2654435761) % 1000003}`;

export async function runWorkload(db: Db, opts: WorkloadOptions = {}): Promise<WorkloadStats> {
  const rows = opts.rows ?? 20_000;
  const bigMiB = opts.bigTransactionMiB ?? 60;
  const pauseMs = opts.pauseMs ?? 400;
  const log = opts.log ?? (() => {});
  const started = Date.now();
  let transactions = 0;
  const txn = <T>(fn: () => T): T => {
    transactions++;
    return db.transaction(fn)();
  };

  const insertItem = db.prepare('INSERT INTO items (id, name, qty, price, note, data) VALUES (?, ?, ?, ?, ?, ?)');
  const upsertKv = db.prepare('INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v');
  const insertBlob = db.prepare('INSERT INTO blobs (data) VALUES (?)');
  const base = Number((db.prepare('SELECT coalesce(max(id), 0) AS m FROM items').get() as { m: number }).m);

  // 1. Bulk inserts in a few transactions (several MB: passes the checkpoint threshold).
  const batch = Math.ceil(rows / 4);
  for (let start = 0; start < rows; start += batch) {
    txn(() => {
      for (let i = start; i < Math.min(rows, start + batch); i++) {
        insertItem.run(base + i + 1, word(i), i % 97, i % 13 === 0 ? null : i * 0.25, `note ${i} `.repeat(1 + (i % 7)), randomBytes(64 + (i % 128)));
      }
      for (let i = start; i < Math.min(rows, start + batch); i += 10) upsertKv.run(`key:${i}`, `value ${i}`);
    });
    await sleep(pauseMs / 4);
  }
  log(`inserted ${rows} items`);
  await sleep(pauseMs);

  // 2. Many small transactions: updates and deletes (many WAL segments).
  for (let round = 0; round < 12; round++) {
    txn(() => {
      db.prepare('UPDATE items SET qty = qty + 1, price = price * 1.01 WHERE id % 12 = ?').run(round);
      db.prepare('DELETE FROM items WHERE id % 50 = ? AND id % 12 = ?').run(round % 50, round);
      upsertKv.run(`round:${round}`, new Date(1_700_000_000_000 + round).toISOString());
    });
    await sleep(50);
  }
  log('updates and deletes done');
  await sleep(pauseMs);

  // 3. One single large transaction of random blobs.
  txn(() => {
    for (let i = 0; i < bigMiB; i++) insertBlob.run(randomBytes(1 << 20));
    upsertKv.run('big', `${bigMiB} MiB`);
  });
  log(`big transaction of ${bigMiB} MiB committed`);
  await sleep(Math.max(pauseMs, 20 * bigMiB));

  // 4. Delete most blobs, more small writes.
  txn(() => {
    db.prepare('DELETE FROM blobs WHERE id % 3 != 0').run();
  });
  for (let round = 0; round < 8; round++) {
    txn(() => {
      for (let i = 0; i < 50; i++) insertItem.run(base + rows + round * 50 + i + 1, word(i + round), round, null, 'late', null);
    });
    await sleep(50);
  }
  await sleep(pauseMs);

  // 5. VACUUM rewrites the whole database through the WAL.
  db.exec('VACUUM');
  transactions++;
  log('vacuum done');
  await sleep(pauseMs);

  // 6. A tail of small transactions after the vacuum.
  for (let round = 0; round < 10; round++) {
    txn(() => {
      upsertKv.run(`tail:${round}`, 'x'.repeat(round * 100));
      db.prepare('UPDATE items SET note = ? WHERE id = ?').run(`tail ${round}`, round + 1);
    });
    await sleep(30);
  }
  log('tail writes done');

  const count = (t: string): number => (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
  return {
    transactions,
    rows: { items: count('items'), kv: count('kv'), blobs: count('blobs') },
    durationMs: Date.now() - started,
  };
}

/** Initial content written before Litestream starts, so its first snapshot is not empty. */
export function prefill(db: Db, rows = 5_000, blobMiB = 4): void {
  const insertItem = db.prepare('INSERT INTO items (name, qty, price, note, data) VALUES (?, ?, ?, ?, ?)');
  const insertBlob = db.prepare('INSERT INTO blobs (data) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insertItem.run(`pre-${i}`, i, i / 3, null, randomBytes(100));
    for (let i = 0; i < blobMiB; i++) insertBlob.run(randomBytes(1 << 20));
    db.prepare('INSERT INTO kv (k, v) VALUES (?, ?)').run('prefill', String(rows));
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
}

/** Builds a database of `mib` MiB of random blobs (no Litestream running), checkpointed into the main file. */
export function fillRandom(db: Db, mib: number): void {
  const insert = db.prepare('INSERT INTO blobs (data) VALUES (?)');
  for (let done = 0; done < mib; done += 16) {
    db.transaction(() => {
      for (let i = done; i < Math.min(mib, done + 16); i++) insert.run(randomBytes(1 << 20));
    })();
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
}

/** A small database with known content, for "existing target" cases. */
export function writeSmallDb(dbPath: string, rows = 100): void {
  const db = openSource(dbPath);
  db.transaction(() => {
    const ins = db.prepare('INSERT INTO kv (k, v) VALUES (?, ?)');
    for (let i = 0; i < rows; i++) ins.run(`existing:${i}`, `v${i}`);
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}
