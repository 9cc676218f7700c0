// Run inside the pod by checks.sh (kubectl exec ... node -e "<this file>" DB
// [MARKER] [SKIP_TABLES]) with the image's own node and better-sqlite3: prints, one
// key=value per line, the restore marker's outcome and source (outcome empty
// when there is no marker), and the
// database's logical digest: SHA-256 over the schema (sqlite_schema without
// root pages) and every row of every table in a stable order. The algorithm
// is test/support/digest.ts's (test/e2e/k8s.test.ts keeps them equal), so the
// digest can be compared with that of the database the backup was taken from.
// SKIP_TABLES (comma-separated) leaves tables out, schema and rows, as
// digest.ts's skipTables does: Litestream's own _litestream_seq, which its
// sidecar bumps at each checkpoint, is not the app's data.
const fs = require('node:fs');
const { createHash } = require('node:crypto');
const Database = require('better-sqlite3');

// `node -e` puts no script path in argv; `node pod-digest.cjs DB` (make-fixture.sh) does
const [dbPath, markerArg, skipArg] = process.argv.slice(require.main ? 2 : 1);
const skip = new Set((skipArg || '').split(',').filter(Boolean));
const markerPath = markerArg || `${dbPath}.restore.json`;
const out = (key, value) => console.log(`${key}=${value}`);

if (fs.existsSync(markerPath)) {
  const marker = JSON.parse(fs.readFileSync(markerPath, 'utf8'));
  out('marker.outcome', marker.outcome);
  out('marker.database', marker.database);
  out('marker.replica', marker.replica);
  out('marker.generation', (marker.source && marker.source.generation) || '');
} else {
  out('marker.outcome', '');
}

function encode(h, v) {
  if (v === null) h.update('N;');
  else if (typeof v === 'bigint') h.update(`I${v};`);
  else if (typeof v === 'number') h.update(`R${v};`);
  else if (typeof v === 'string') h.update(`T${Buffer.byteLength(v)}:`).update(v).update(';');
  else if (Buffer.isBuffer(v)) h.update(`B${v.length}:`).update(v).update(';');
  else throw new Error(`unexpected SQLite value ${typeof v}`);
}

const db = new Database(dbPath, { readonly: true, fileMustExist: true });
try {
  db.defaultSafeIntegers(true);
  const h = createHash('sha256');
  const schema = db
    .prepare('SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name')
    .all()
    .filter((s) => !skip.has(s.tbl_name));
  for (const s of schema) for (const v of [s.type, s.name, s.tbl_name, s.sql]) encode(h, v);
  const tables = [];
  for (const s of schema) {
    if (s.type !== 'table' || (s.sql || '').startsWith('CREATE VIRTUAL')) continue;
    const q = `"${s.name.replace(/"/g, '""')}"`;
    const withoutRowid = /WITHOUT\s+ROWID\s*$/i.test(s.sql || '');
    const cols = db.prepare(`PRAGMA table_info(${q})`).all();
    const order = withoutRowid
      ? cols.filter((c) => c.pk > 0n).sort((a, b) => Number(a.pk - b.pk)).map((c) => `"${c.name}"`).join(', ')
      : 'rowid';
    const select = withoutRowid ? `SELECT * FROM ${q} ORDER BY ${order}` : `SELECT rowid AS __rowid, * FROM ${q} ORDER BY rowid`;
    h.update(`table ${s.name};`);
    let n = 0;
    for (const row of db.prepare(select).raw(true).iterate()) {
      for (const v of row) encode(h, v);
      h.update('\n');
      n++;
    }
    tables.push(`${s.name}:${n}`);
  }
  out('digest', h.digest('hex'));
  out('tables', tables.join(','));
} finally {
  db.close();
}
