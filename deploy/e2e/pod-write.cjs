// The application's writes in the backup loop checks (checks.sh loop): run
// inside the app container (kubectl exec ... node -e "<this file>" DB ROUND
// ROWS) with the image's own node and better-sqlite3. Opens (or creates) the
// database in WAL mode, as Litestream requires, and commits ROWS rows of
// round ROUND in transactions of 25, then, from round 2 on, updates and
// deletes some rows of earlier rounds, so the backup carries changes as well
// as inserts. Every value is derived from (ROUND, i): the same call writes the
// same data. Prints the journal mode, what it did, and the row count.
const Database = require('better-sqlite3');
const { createHash } = require('node:crypto');

// `node -e` puts no script path in argv; `node pod-write.cjs ...` does
const [dbPath, roundArg, rowsArg] = process.argv.slice(require.main ? 2 : 1);
const round = Number(roundArg);
const rows = Number(rowsArg);
if (!dbPath || !Number.isInteger(round) || round < 1 || !Number.isInteger(rows) || rows < 1) {
  console.error('usage: pod-write.cjs DB ROUND ROWS');
  process.exit(2);
}

const db = new Database(dbPath);
try {
  db.pragma('busy_timeout = 10000');
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  if (mode !== 'wal') throw new Error(`journal_mode is ${mode}, not wal`);
  console.log(`journal_mode=${mode}`);
  db.exec('CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, round INTEGER NOT NULL, body TEXT NOT NULL, blob BLOB NOT NULL)');
  db.exec('CREATE INDEX IF NOT EXISTS notes_round ON notes(round)');
  const insert = db.prepare('INSERT INTO notes (round, body, blob) VALUES (?, ?, ?)');
  const blob = (i) => {
    // 1-3 KiB of bytes that do not compress: WAL frames of real weight
    const out = [];
    for (let n = 0, len = 1024 + ((i * 37) % 2048); out.length * 32 < len; n++) out.push(createHash('sha256').update(`${round}:${i}:${n}`).digest());
    return Buffer.concat(out).subarray(0, 1024 + ((i * 37) % 2048));
  };
  for (let start = 0; start < rows; start += 25) {
    db.transaction(() => {
      for (let i = start; i < Math.min(rows, start + 25); i++) insert.run(round, `round ${round} note ${i}`, blob(i));
    })();
  }
  let updated = 0;
  let deleted = 0;
  if (round > 1) {
    db.transaction(() => {
      updated = db.prepare("UPDATE notes SET body = body || ' (edited in round ' || ? || ')' WHERE round < ? AND id % 7 = 0").run(round, round).changes;
      deleted = db.prepare('DELETE FROM notes WHERE round < ? AND id % 11 = 0').run(round).changes;
    })();
  }
  const count = db.prepare('SELECT count(*) AS n FROM notes').get().n;
  console.log(`inserted=${rows}`);
  console.log(`updated=${updated}`);
  console.log(`deleted=${deleted}`);
  console.log(`rows=${count}`);
} finally {
  db.close();
}
