// Writes the demo database in rounds (see make-fixture.sh); "summary" prints
// what a correct restore must contain.
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';

const [file, step] = process.argv.slice(2);
const db = new Database(file);
db.pragma('journal_mode = WAL');
db.pragma('busy_timeout = 5000');
if (step === 'init') {
  db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL, updated_at TEXT NOT NULL)');
} else if (step === 'summary') {
  // logicalDigest (deploy/e2e/pod-digest.cjs, given by make-fixture.sh) is what the kind checks compare
  const rows = db.prepare('SELECT * FROM notes ORDER BY id').all();
  const digest = createHash('sha256').update(JSON.stringify(rows)).digest('hex');
  const logicalDigest = process.argv[4];
  process.stdout.write(`${JSON.stringify({ table: 'notes', rows: rows.length, sha256: digest, logicalDigest }, null, 2)}\n`);
} else {
  const round = Number(step);
  const insert = db.prepare('INSERT INTO notes (title, body, updated_at) VALUES (?, ?, ?)');
  db.transaction(() => {
    for (let i = 0; i < 40; i += 1) {
      insert.run(`note ${round}.${i}`, `round ${round}: ${'lorem ipsum '.repeat(1 + (i % 7))}`, `2026-11-0${round}T12:00:${String(i).padStart(2, '0')}Z`);
    }
  })();
  db.prepare("UPDATE notes SET body = body || ' (edited)' WHERE id % 5 = ?").run(round % 5);
  if (round > 1) db.prepare('DELETE FROM notes WHERE id % 11 = ?').run(round);
}
db.close();
