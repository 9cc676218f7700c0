// Full logical comparison of two SQLite databases: the schema (every
// sqlite_schema entry except root page numbers) and every row of every table in
// a stable order, hashed with SHA-256. Opened read-only through SQLite itself,
// so a WAL-mode source includes its -wal content.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import Database from 'better-sqlite3';

export interface DbDigest {
  sha256: string;
  tables: Record<string, number>;
  pageSize: number;
}

function encodeValue(h: ReturnType<typeof createHash>, v: unknown): void {
  if (v === null) h.update('N;');
  else if (typeof v === 'bigint') h.update(`I${v};`);
  else if (typeof v === 'number') h.update(`R${v};`);
  else if (typeof v === 'string') h.update(`T${Buffer.byteLength(v)}:`).update(v).update(';');
  else if (Buffer.isBuffer(v)) h.update(`B${v.length}:`).update(v).update(';');
  else throw new Error(`unexpected SQLite value ${typeof v}`);
}

export interface DigestOptions {
  /** Tables left out (schema and rows), e.g. Litestream's own bookkeeping tables. */
  skipTables?: readonly string[];
}

export function logicalDigest(dbPath: string, opts: DigestOptions = {}): DbDigest {
  const skip = new Set(opts.skipTables ?? []);
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    db.defaultSafeIntegers(true);
    const h = createHash('sha256');
    const schema = db
      .prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name")
      .all()
      .filter((s) => !skip.has((s as { tbl_name: string }).tbl_name)) as { type: string; name: string; tbl_name: string; sql: string | null }[];
    for (const s of schema) {
      for (const v of [s.type, s.name, s.tbl_name, s.sql]) encodeValue(h, v);
    }
    const tables: Record<string, number> = {};
    for (const s of schema) {
      if (s.type !== 'table' || s.sql?.startsWith('CREATE VIRTUAL')) continue;
      const q = `"${s.name.replace(/"/g, '""')}"`;
      const withoutRowid = /WITHOUT\s+ROWID\s*$/i.test(s.sql ?? '');
      const cols = (db.prepare(`PRAGMA table_info(${q})`).all() as { name: string; pk: bigint }[]);
      const order = withoutRowid
        ? cols.filter((c) => c.pk > 0n).sort((a, b) => Number(a.pk - b.pk)).map((c) => `"${c.name}"`).join(', ')
        : 'rowid';
      const select = withoutRowid ? `SELECT * FROM ${q} ORDER BY ${order}` : `SELECT rowid AS __rowid, * FROM ${q} ORDER BY rowid`;
      h.update(`table ${s.name};`);
      let n = 0;
      for (const row of db.prepare(select).raw(true).iterate() as IterableIterator<unknown[]>) {
        for (const v of row) encodeValue(h, v);
        h.update('\n');
        n++;
      }
      tables[s.name] = n;
    }
    const pageSize = Number(db.pragma('page_size', { simple: true }));
    return { sha256: h.digest('hex'), tables, pageSize };
  } finally {
    db.close();
  }
}

/** `PRAGMA integrity_check` result lines ("ok" when healthy). */
export function integrityCheck(dbPath: string): string[] {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
  } finally {
    db.close();
  }
}

export async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}
