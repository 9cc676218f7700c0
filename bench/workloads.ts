// What the benchmark's source databases hold and how they change while
// Litestream replicates them. Everything is drawn from seeded generators
// (content.ts), so a second copy of the source given the same steps ends in
// the same logical state: that is how Litestream v0.5 gets "the same
// workload" as v0.3.
//
//   prefill       rows with text, partly compressible blobs and overflow blobs,
//                 without a journal (nothing replicates yet), up to a size;
//   small steps   one small transaction each (4 updates of random rows, an
//                 insert, an upsert, now and then a blob and a delete): many
//                 small WAL segments;
//   large steps   one commit each that rewrites a contiguous run of rows
//                 (new note and blob) until about `bytes` of payload: a few
//                 big WAL segments.
import Database from 'better-sqlite3';
import { openSource, type Db } from '../test/support/workload.js';
import { Content, Rng } from './content.js';

const PREFILL_SEED = 0x0b5e_0001;
const WORKLOAD_SEED = 0x0b5e_0002;

/**
 * Fills the source to `targetMiB` without a journal (much faster), then
 * switches it back to WAL mode. Returns the highest item id. The same
 * arguments give the same database.
 */
export function prefillTo(dbPath: string, targetMiB: number, log: (msg: string) => void): number {
  openSource(dbPath).close(); // schema, WAL mode
  const c = new Content(new Rng(PREFILL_SEED));
  const db = new Database(dbPath);
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -262144');
    const pageSize = Number(db.pragma('page_size', { simple: true }));
    const target = targetMiB * 1048576;
    const insertItem = db.prepare('INSERT INTO items (name, qty, price, note, data) VALUES (?, ?, ?, ?, ?)');
    const insertBlob = db.prepare('INSERT INTO blobs (data) VALUES (?)');
    const upsertKv = db.prepare('INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v');
    const pageCount = db.prepare('PRAGMA page_count').pluck();
    let rows = 0;
    let nextReport = 0.1;
    const batch = db.transaction((n: number) => {
      for (let i = 0; i < n; i++) {
        rows++;
        insertItem.run(
          `${c.word()}-${c.word()}-${rows}`,
          c.int(1000),
          rows % 11 === 0 ? null : c.price(),
          c.sentence(30, 400),
          c.mixedBlob(400 + c.int(2800)),
        );
        if (rows % 10 === 0) upsertKv.run(`user:${rows}`, JSON.stringify({ name: c.sentence(5, 30), visits: c.int(500), tags: [c.word(), c.word()] }));
        if (rows % 100 === 0) insertBlob.run(c.mixedBlob(16_384 + c.int(49_152)));
      }
    });
    // Small batches for small databases, so the size lands close to the target.
    const perBatch = targetMiB < 64 ? 200 : 2_000;
    while ((pageCount.get() as number) * pageSize < target) {
      batch(perBatch);
      const done = ((pageCount.get() as number) * pageSize) / target;
      if (done >= nextReport) {
        log(`prefill: ${Math.round(Math.min(done, 1) * 100)}% (${rows} rows)`);
        nextReport += 0.1;
      }
    }
    db.pragma('journal_mode = WAL');
    return rows;
  } finally {
    db.close();
  }
}

export interface WorkloadStats {
  transactions: number;
  rowsUpdated: number;
  rowsInserted: number;
  rowsDeleted: number;
  /** Bytes of new row payload (notes and blobs) written by the transactions. */
  payloadBytes: number;
}

export interface Workload {
  /** Runs one transaction. */
  step(): void;
  readonly stats: WorkloadStats;
}

const emptyStats = (): WorkloadStats => ({ transactions: 0, rowsUpdated: 0, rowsInserted: 0, rowsDeleted: 0, payloadBytes: 0 });

/** Small transactions spread over the whole database (random rows). */
export function smallTransactions(db: Db, maxId: number): Workload {
  const c = new Content(new Rng(WORKLOAD_SEED));
  const update = db.prepare('UPDATE items SET qty = qty + 1, price = ?, note = ? WHERE id = ?');
  const insertItem = db.prepare('INSERT INTO items (name, qty, price, note, data) VALUES (?, ?, ?, ?, ?)');
  const upsertKv = db.prepare('INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v');
  const insertBlob = db.prepare('INSERT INTO blobs (data) VALUES (?)');
  const deleteItem = db.prepare('DELETE FROM items WHERE id = ?');
  const stats = emptyStats();
  let highest = maxId;
  const txn = db.transaction(() => {
    stats.transactions++;
    for (let i = 0; i < 4; i++) {
      const note = c.sentence(20, 300);
      stats.rowsUpdated += update.run(c.price(), note, 1 + c.int(highest)).changes;
      stats.payloadBytes += note.length;
    }
    const blob = c.mixedBlob(200 + c.int(1800));
    insertItem.run(`${c.word()}-new-${stats.transactions}`, c.int(1000), null, c.sentence(10, 120), blob);
    stats.payloadBytes += blob.length;
    highest++;
    stats.rowsInserted++;
    // A logical clock, not Date.now(): the replay must write the same values.
    upsertKv.run(`session:${c.int(5000)}`, JSON.stringify({ at: 1_700_000_000_000 + stats.transactions * 20, n: stats.transactions }));
    if (stats.transactions % 50 === 0) {
      const big = c.mixedBlob(16_384 + c.int(32_768));
      insertBlob.run(big);
      stats.payloadBytes += big.length;
    }
    if (stats.transactions % 25 === 0) stats.rowsDeleted += deleteItem.run(1 + c.int(highest)).changes;
  });
  return { step: () => txn(), stats };
}

/**
 * Large commits: each rewrites a contiguous run of `items` rows, starting at a
 * random one (wrapping around), with a new note and blob, until about
 * `bytesPerCommit` of new payload; the pages holding them are rewritten too.
 */
export function largeTransactions(db: Db, maxId: number, bytesPerCommit: number): Workload {
  const c = new Content(new Rng(WORKLOAD_SEED));
  const update = db.prepare('UPDATE items SET qty = qty + 1, note = ?, data = ? WHERE id = ?');
  const stats = emptyStats();
  const txn = db.transaction(() => {
    stats.transactions++;
    let id = 1 + c.int(maxId);
    let written = 0;
    for (let visited = 0; written < bytesPerCommit && visited < maxId; visited++) {
      const note = c.sentence(30, 400);
      const blob = c.mixedBlob(400 + c.int(2800));
      if (update.run(note, blob, id).changes > 0) {
        written += note.length + blob.length;
        stats.rowsUpdated++;
      }
      id = id >= maxId ? 1 : id + 1;
    }
    stats.payloadBytes += written;
  });
  return { step: () => txn(), stats };
}
