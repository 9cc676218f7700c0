// `npm run demo`: restores the Litestream v0.3 replica kept in demo/replica
// (written by the real Litestream 0.3.13, see make-fixture.sh) with the real
// CLI, exactly as the init container would, then shows what came back.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const replica = path.join(root, 'demo/replica');
const outDir = path.join(root, '.tmp/demo');
const dbPath = path.join(outDir, 'notes.db');
const expected = JSON.parse(fs.readFileSync(path.join(root, 'demo/expected.json'), 'utf8')) as {
  table: string;
  rows: number;
  sha256: string;
};

fs.rmSync(outDir, { recursive: true, force: true });
fs.mkdirSync(outDir, { recursive: true });
console.log(`Restoring file://${replica}\n       into ${dbPath}\n`);
const run = spawnSync(process.execPath, [path.join(root, 'dist/src/cli.js')], {
  env: {
    PATH: process.env.PATH ?? '',
    SQLITE_RESTORE_REPLICA_URL: `file://${replica}`,
    SQLITE_RESTORE_DB_PATH: dbPath,
    SQLITE_RESTORE_VERIFY: 'full',
    SQLITE_RESTORE_TERMINATION_LOG: path.join(outDir, 'termination-log'),
  },
  encoding: 'utf8',
});
for (const line of run.stdout.split('\n').filter(Boolean)) {
  const entry = JSON.parse(line) as { level: string; msg: string };
  console.log(`  log ${entry.level.padEnd(5)} ${entry.msg}`);
}
if (run.status !== 0) {
  console.error(`\nrestore failed with exit code ${run.status}: ${fs.readFileSync(path.join(outDir, 'termination-log'), 'utf8')}`);
  process.exit(1);
}

const marker = JSON.parse(fs.readFileSync(`${dbPath}.restore.json`, 'utf8'));
console.log(`\nMarker ${dbPath}.restore.json:`);
console.log(JSON.stringify({ outcome: marker.outcome, source: marker.source, bytes: marker.bytes, sha256: marker.sha256 }, null, 2));

const db = new Database(dbPath, { readonly: true });
const rows = db.prepare(`SELECT * FROM ${expected.table} ORDER BY id`).all() as Array<{ id: number; title: string }>;
db.close();
const digest = createHash('sha256').update(JSON.stringify(rows)).digest('hex');
console.log(`\nRestored table "${expected.table}": ${rows.length} rows; first: ${rows[0]?.title}, last: ${rows.at(-1)?.title}`);
if (rows.length !== expected.rows || digest !== expected.sha256) {
  console.error(`MISMATCH: expected ${expected.rows} rows with sha256 ${expected.sha256}, got ${digest}`);
  process.exit(1);
}
console.log('Content matches the source database the backup was taken from.');
