// The real zlayer-storage crate as a peer: runs test/support/zlayer-writer (an
// application on the crate, both crate versions in one binary built by
// test/support/zlayer-writer-setup.sh) against an S3 server, parses the JSON
// lines it prints, runs the crate's own restore, and reads back what the
// bucket holds, so a test can put "what was committed", "what reached the
// bucket", "what we restored" and "what the crate restored" side by side.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { binDir, repoRoot } from './paths.js';
import { s3Client } from './minio.js';
import { S3Store } from './replica.js';
import type { S3Endpoint } from './s3-server.js';
import { zstdDecompressCli } from './zlayer.js';

/** The crate versions the writer is built for (same replicator code; 0.10.73 is what this product grew from). */
export const crateVersions = ['0.10.73', '0.14.3'] as const;
export type CrateVersion = (typeof crateVersions)[number];

export const writerSourceDir = path.join(repoRoot, 'test', 'support', 'zlayer-writer');

function listFiles(dir: string, rel: string): string[] {
  return readdirSync(path.join(dir, rel)).flatMap((name) => {
    const r = `${rel}/${name}`;
    return statSync(path.join(dir, r)).isDirectory() ? listFiles(dir, r) : [r];
  });
}

/**
 * The writer's source hash, exactly as zlayer-writer-setup.sh computes it: the
 * sha256 of `sha256sum`'s listing of Cargo.toml, Cargo.lock and src/ in byte
 * order, first 16 hex digits.
 */
export function writerSourceHash(): string {
  const files = ['Cargo.toml', 'Cargo.lock', ...listFiles(writerSourceDir, 'src')].sort();
  const listing = files
    .map((f) => `${createHash('sha256').update(readFileSync(path.join(writerSourceDir, f))).digest('hex')}  ${f}\n`)
    .join('');
  return createHash('sha256').update(listing).digest('hex').slice(0, 16);
}

/** The built writer (both crate versions in one binary), or a failure that says how to build it. */
export function writerBin(): string {
  const bin = path.join(binDir, `zlayer-writer-${writerSourceHash()}`);
  if (!existsSync(bin)) {
    throw new Error(`${bin} is missing (the zlayer-storage writer for this source): run bash test/support/setup.sh`);
  }
  return bin;
}

export type CheckpointMode = 'PASSIVE' | 'FULL' | 'RESTART' | 'TRUNCATE';
/**
 * How the application stops: `flush-open` calls flush() while its connection is
 * still open (the crate's documented shutdown), `close-flush` closes the
 * connection first (SQLite checkpoints the WAL into the main file), `crash`
 * exits without either (exit code 86).
 */
export type WriterEnd = 'flush-open' | 'close-flush' | 'crash';

export interface WriterScenario {
  /** The crate's s3_prefix, ending in "/". */
  prefix: string;
  snapshotIntervalSecs: number;
  /** Commit k (1, 2, ...) is made at (k - 1) * commitEveryMs after the replicator started, while that is < writeForMs. */
  commitEveryMs: number;
  writeForMs: number;
  /** Checkpoints by the app's connection, in ms after the replicator started (its snapshot ticks are at multiples of the interval). */
  checkpoints: { atMs: number; mode: CheckpointMode }[];
  /** Idle time after the last commit, before the end. */
  lingerMs?: number;
  end: WriterEnd;
  /** Random bytes per row (default 100). */
  rowBytes?: number;
}

/** One JSON line of the writer: `event`, Unix ms `t`, ms since the replicator started `ms` (null before). */
export interface WriterEvent {
  event: string;
  t: number;
  ms: number | null;
  [field: string]: unknown;
}

export interface Upload {
  key: string;
  /** The WAL frame count the crate named it after (WAL copies only). */
  seq?: number;
  bytes: number;
  t: number;
  ms: number | null;
}

export interface WriterRun {
  version: CrateVersion;
  scenario: WriterScenario;
  code: number | null;
  signal: NodeJS.Signals | null;
  events: WriterEvent[];
  stderr: string;
  commits: { seq: number; t: number; ms: number; walBytes: number }[];
  checkpoints: WriterEvent[];
  /** The snapshot ticks and flush's snapshot: when each upload started (crate log), with its key. */
  snapshotUploads: Upload[];
  /** WAL copies the crate read into its cache (crate log "Cached WAL segment"). */
  walCached: Upload[];
  /** WAL copies whose upload the crate logged as done. */
  walUploaded: Upload[];
  flushStart?: WriterEvent;
  flushDone?: WriterEvent;
}

interface Spawned {
  code: number | null;
  signal: NodeJS.Signals | null;
  events: WriterEvent[];
  stdout: string;
  stderr: string;
}

/** Environment for the writer: the AWS variables any application on the crate reads, and nothing of ours. */
function writerEnv(s3: S3Endpoint, home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    // No ~/.aws of the machine, no instance metadata probe.
    HOME: home,
    AWS_ACCESS_KEY_ID: s3.accessKey,
    AWS_SECRET_ACCESS_KEY: s3.secretKey,
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

function spawnWriter(bin: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (timedOut) {
        reject(new Error(`${path.basename(bin)} ${args.slice(0, 2).join(' ')} did not finish within ${timeoutMs} ms\n${stdout.slice(-4000)}\n${stderr.slice(-2000)}`));
        return;
      }
      const events: WriterEvent[] = [];
      for (const line of stdout.split('\n')) {
        if (!line.trim()) continue;
        try {
          events.push(JSON.parse(line) as WriterEvent);
        } catch {
          reject(new Error(`${path.basename(bin)} printed a line that is not JSON: ${line}\n${stderr.slice(-2000)}`));
          return;
        }
      }
      resolve({ code, signal, events, stdout, stderr });
    });
  });
}

const logs = (events: WriterEvent[]): WriterEvent[] => events.filter((e) => e.event === 'crate-log');

/** The crate's upload log lines (s3_backend.rs / cache.rs wording, the same in both versions). */
function uploads(events: WriterEvent[], bucket: string): Pick<WriterRun, 'snapshotUploads' | 'walCached' | 'walUploaded'> {
  const snapshotUploads: Upload[] = [];
  const walCached: Upload[] = [];
  const walUploaded: Upload[] = [];
  const walKeys = new Map<number, string>();
  const s3Prefix = `s3://${bucket}/`;
  for (const e of logs(events)) {
    const msg = String(e.msg);
    let m = /^Uploading snapshot to (\S+) \((\d+) bytes\)/.exec(msg);
    if (m) snapshotUploads.push({ key: (m[1] as string).replace(s3Prefix, ''), bytes: Number(m[2]), t: e.t, ms: e.ms });
    m = /^Uploading WAL segment (\d+) to (\S+) \((\d+) bytes\)/.exec(msg);
    if (m) walKeys.set(Number(m[1]), (m[2] as string).replace(s3Prefix, ''));
    m = /^Cached WAL segment (\d+) \((\d+) bytes/.exec(msg);
    if (m) walCached.push({ key: '', seq: Number(m[1]), bytes: Number(m[2]), t: e.t, ms: e.ms });
    m = /^WAL segment (\d+) uploaded \((\d+) bytes compressed\)/.exec(msg);
    if (m) walUploaded.push({ key: walKeys.get(Number(m[1])) ?? '', seq: Number(m[1]), bytes: Number(m[2]), t: e.t, ms: e.ms });
  }
  return { snapshotUploads, walCached, walUploaded };
}

/**
 * Runs the application on crate `version` for one scenario against `bucket`,
 * its database and the crate's cache under `dir`, and returns what it printed.
 */
export async function runWriter(
  version: CrateVersion,
  s3: S3Endpoint,
  bucket: string,
  scenario: WriterScenario,
  dir: string,
): Promise<WriterRun> {
  await mkdir(dir, { recursive: true });
  const script = {
    ...scenario,
    db: path.join(dir, 'app.db'),
    cacheDir: path.join(dir, 'crate-cache'),
    bucket,
    endpoint: s3.endpoint,
    region: s3.region,
  };
  const timeoutMs = scenario.writeForMs + (scenario.lingerMs ?? 0) + 60_000;
  const r = await spawnWriter(writerBin(), [version, 'write', JSON.stringify(script)], writerEnv(s3, dir), timeoutMs);
  const expected = scenario.end === 'crash' ? 86 : 0;
  if (r.code !== expected || r.events.some((e) => e.event === 'error')) {
    throw new Error(`the zlayer-storage ${version} writer exited with ${r.code ?? r.signal} (expected ${expected})\n${r.stdout.slice(-6000)}\n${r.stderr.slice(-2000)}`);
  }
  return {
    version,
    scenario,
    code: r.code,
    signal: r.signal,
    events: r.events,
    stderr: r.stderr,
    commits: r.events
      .filter((e) => e.event === 'commit')
      .map((e) => ({ seq: Number(e.seq), t: e.t, ms: Number(e.ms), walBytes: Number(e.walBytes) })),
    checkpoints: r.events.filter((e) => e.event === 'checkpoint'),
    ...uploads(r.events, bucket),
    flushStart: r.events.find((e) => e.event === 'flush-start'),
    flushDone: r.events.find((e) => e.event === 'flush-done'),
  };
}

export interface CrateRestore {
  version: CrateVersion;
  code: number | null;
  /** restore() returned Ok(_) (its value in `restored`: whether a backup was found) or Err (`error`). */
  ok: boolean;
  restored?: boolean;
  error?: string;
  /** The crate's own log lines (which snapshot, how many WAL copies, integrity warnings). */
  log: string[];
  target: string;
  rows: Rows | null;
}

/** `SqliteReplicator::restore()` of crate `version` into `<dir>/crate.db`. */
export async function runCrateRestore(
  version: CrateVersion,
  s3: S3Endpoint,
  bucket: string,
  prefix: string,
  dir: string,
): Promise<CrateRestore> {
  await mkdir(dir, { recursive: true });
  const target = path.join(dir, 'crate.db');
  const script = { db: target, cacheDir: path.join(dir, 'crate-restore-cache'), bucket, prefix, endpoint: s3.endpoint, region: s3.region };
  const r = await spawnWriter(writerBin(), [version, 'restore', JSON.stringify(script)], writerEnv(s3, dir), 120_000);
  const result = r.events.find((e) => e.event === 'restore');
  if (!result) throw new Error(`the zlayer-storage ${version} restore printed no result (exit ${r.code ?? r.signal})\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}`);
  return {
    version,
    code: r.code,
    ok: result.ok === true,
    ...(typeof result.restored === 'boolean' ? { restored: result.restored } : {}),
    ...(typeof result.error === 'string' ? { error: result.error } : {}),
    log: logs(r.events).map((e) => `${String(e.level)} ${String(e.msg)}`),
    target,
    rows: existsSync(target) ? countRows(target) : null,
  };
}

/** What a database file holds of the writer's table `seq`. */
export interface Rows {
  /** Rows in `seq` (0 when the table is missing). */
  count: number;
  /** The highest sequence number (0 when none). */
  max: number;
  /** The rows are exactly 1..count: a committed prefix with no holes. */
  prefix: boolean;
  /** PRAGMA integrity_check, joined. */
  integrity: string;
  /** Set when SQLite could not read the file at all. */
  error?: string;
}

/** Rows of `seq` in a database file (its -wal beside it is recovered by SQLite, as an application would). */
export function countRows(file: string): Rows {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { fileMustExist: true });
    const integrity = (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
    const table = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'seq'").get();
    if (!table) return { count: 0, max: 0, prefix: true, integrity };
    const r = db.prepare('SELECT count(*) AS count, coalesce(max(n), 0) AS max, coalesce(min(n), 1) AS min FROM seq').get() as {
      count: number;
      max: number;
      min: number;
    };
    return { count: r.count, max: r.max, prefix: r.min === 1 && r.count === r.max, integrity };
  } catch (err) {
    return { count: 0, max: 0, prefix: false, integrity: 'unreadable', error: (err as Error).message };
  } finally {
    db?.close();
  }
}

export interface WalHeaderView {
  checkpointSeq: number;
  salt1: number;
  salt2: number;
  pageSize: number;
}

export interface WalCopy {
  key: string;
  /** The frame count in the key. */
  seq: number;
  lastModified: Date;
  /** Decompressed size. */
  bytes: number;
  /** Whole frames by size (what the crate counts). */
  frames: number;
  header: WalHeaderView | null;
  /** Frames SQLite's recovery would accept (salts and running checksum match), and the commit frames among them. */
  validFrames: number;
  commitFrames: number;
  /** The newest snapshot with this copy as its -wal, opened by SQLite. */
  onNewest: Rows;
}

export interface SnapshotCopy {
  key: string;
  lastModified: Date;
  bytes: number;
  /** The snapshot alone. */
  rows: Rows;
}

export interface BucketView {
  metadata: Record<string, unknown> | null;
  snapshots: SnapshotCopy[];
  wal: WalCopy[];
  /** The snapshot metadata.json names, else the last by key: the one every restore starts from. */
  newest: SnapshotCopy | null;
  /**
   * The most commits any WAL copy proves on top of the newest snapshot: the
   * highest committed prefix, with integrity_check ok and no fewer rows than the
   * snapshot alone, over the snapshot alone and the snapshot with each copy.
   */
  provable: { commits: number; via: string };
}

/** SQLite's WAL checksum over `data` (8-byte words), continuing from (s1, s2). */
function walChecksum(data: Buffer, bigEndian: boolean, s1: number, s2: number): [number, number] {
  for (let i = 0; i + 8 <= data.length; i += 8) {
    const x0 = bigEndian ? data.readUInt32BE(i) : data.readUInt32LE(i);
    const x1 = bigEndian ? data.readUInt32BE(i + 4) : data.readUInt32LE(i + 4);
    s1 = (s1 + x0 + s2) >>> 0;
    s2 = (s2 + x1 + s1) >>> 0;
  }
  return [s1, s2];
}

/** The WAL header and how many frames recovery would accept (independent of src/, spelled from the file format). */
export function walFrames(wal: Buffer): { header: WalHeaderView | null; frames: number; validFrames: number; commitFrames: number } {
  if (wal.length < 32) return { header: null, frames: 0, validFrames: 0, commitFrames: 0 };
  const magic = wal.readUInt32BE(0);
  const pageSize = wal.readUInt32BE(8);
  const header = { checkpointSeq: wal.readUInt32BE(12), salt1: wal.readUInt32BE(16), salt2: wal.readUInt32BE(20), pageSize };
  const frames = pageSize ? Math.floor((wal.length - 32) / (24 + pageSize)) : 0;
  if ((magic !== 0x377f0682 && magic !== 0x377f0683) || !pageSize) return { header, frames, validFrames: 0, commitFrames: 0 };
  const bigEndian = (magic & 1) === 1;
  let [s1, s2] = walChecksum(wal.subarray(0, 24), bigEndian, 0, 0);
  if (s1 !== wal.readUInt32BE(24) || s2 !== wal.readUInt32BE(28)) return { header, frames, validFrames: 0, commitFrames: 0 };
  let validFrames = 0;
  let commitFrames = 0;
  let lastCommit = 0;
  for (let i = 0; i < frames; i++) {
    const off = 32 + i * (24 + pageSize);
    if (wal.readUInt32BE(off + 8) !== header.salt1 || wal.readUInt32BE(off + 12) !== header.salt2) break;
    [s1, s2] = walChecksum(wal.subarray(off, off + 8), bigEndian, s1, s2);
    [s1, s2] = walChecksum(wal.subarray(off + 24, off + 24 + pageSize), bigEndian, s1, s2);
    if (s1 !== wal.readUInt32BE(off + 16) || s2 !== wal.readUInt32BE(off + 20)) break;
    validFrames = i + 1;
    if (wal.readUInt32BE(off + 4) !== 0) {
      commitFrames++;
      lastCommit = validFrames;
    }
  }
  // Frames after the last commit frame are ignored by recovery too.
  return { header, frames, validFrames: lastCommit, commitFrames };
}

function materialize(dir: string, name: string, main: Buffer, wal?: Buffer): Rows {
  const file = path.join(dir, `${name}.db`);
  writeFileSync(file, main);
  if (wal) writeFileSync(`${file}-wal`, wal);
  return countRows(file);
}

/** Everything under the crate's prefix in `bucket`, decoded and opened by SQLite. */
export async function inspectBucket(s3: S3Endpoint, bucket: string, prefix: string, dir: string): Promise<BucketView> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const client = s3Client(s3);
  try {
    const store = new S3Store(client, bucket, prefix.replace(/\/$/, ''));
    const objects = (await store.list()).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const meta = objects.find((o) => o.key === 'metadata.json');
    const metadata = meta ? (JSON.parse((await store.get(meta.key)).toString('utf8')) as Record<string, unknown>) : null;
    const snapshots: SnapshotCopy[] = [];
    const snapshotBytes = new Map<string, Buffer>();
    for (const o of objects.filter((x) => x.key.startsWith('snapshots/') && x.key.endsWith('.sqlite.zst'))) {
      const data = zstdDecompressCli(await store.get(o.key));
      snapshotBytes.set(o.key, data);
      snapshots.push({ key: o.key, lastModified: o.lastModified, bytes: data.length, rows: materialize(dir, `snap-${snapshots.length}`, data) });
    }
    const named = typeof metadata?.latest_snapshot === 'string' ? metadata.latest_snapshot.slice(prefix.length) : undefined;
    const newest = snapshots.find((s) => s.key === named) ?? snapshots[snapshots.length - 1] ?? null;
    const newestBytes = newest ? snapshotBytes.get(newest.key) : undefined;
    const wal: WalCopy[] = [];
    for (const o of objects.filter((x) => x.key.startsWith('wal/') && x.key.endsWith('.wal.zst'))) {
      const data = zstdDecompressCli(await store.get(o.key));
      const seq = Number(o.key.slice('wal/'.length, -'.wal.zst'.length));
      const onNewest = newestBytes
        ? materialize(dir, `wal-${seq}`, newestBytes, data)
        : { count: 0, max: 0, prefix: false, integrity: 'no snapshot' };
      wal.push({ key: o.key, seq, lastModified: o.lastModified, bytes: data.length, ...walFrames(data), onNewest });
    }
    let provable = { commits: newest?.rows.count ?? 0, via: newest ? `${newest.key} alone` : 'nothing' };
    const floor = newest?.rows.count ?? 0;
    for (const w of wal) {
      const r = w.onNewest;
      if (r.integrity === 'ok' && r.prefix && r.count >= floor && r.count > provable.commits) {
        provable = { commits: r.count, via: `${newest?.key} + ${w.key}` };
      }
    }
    return { metadata, snapshots, wal, newest, provable };
  } finally {
    client.destroy();
  }
}

/** `12`, `12 with holes`, `12 CORRUPT` or `unreadable`. */
function rowsText(r: Rows): string {
  if (r.error) return 'unreadable';
  return `${r.count}${r.prefix ? '' : ' with holes'}${r.integrity === 'ok' ? '' : ' CORRUPT'}`;
}

/** A compact, readable account of one scenario run for the test output (and the lead's planning). */
export function describeRun(run: WriterRun, bucket: BucketView): string {
  const lines: string[] = [];
  const ms = (v: number | null | undefined): string => (v === null || v === undefined ? '?' : `${v}`);
  const origin = run.events.find((e) => e.event === 'started')?.t ?? 0;
  const at = (d: Date): string => `${Math.round((d.getTime() - origin) / 100) / 10}s`;
  const last = run.commits[run.commits.length - 1];
  lines.push(`commits made: ${run.commits.length} (last at ${ms(last?.ms)} ms); checkpoints: ${run.checkpoints.map((c) => `${String(c.mode)}@${ms(c.ms)}ms(${String(c.checkpointedFrames)}/${String(c.logFrames)} frames)`).join(', ') || 'none'}`);
  lines.push(`end ${run.scenario.end}: flush ${run.flushStart ? `${ms(run.flushStart.ms)}..${ms(run.flushDone?.ms)} ms` : 'not called'}`);
  lines.push(`snapshot uploads (start): ${run.snapshotUploads.map((u) => `${u.key.replace(/^.*snapshots\//, '')}@${ms(u.ms)}ms`).join(', ')}`);
  lines.push(`WAL uploads done: ${run.walUploaded.map((u) => `${u.seq}@${ms(u.ms)}`).join(' ')}`);
  lines.push(`bucket snapshots (rows alone, @LastModified after the start; MinIO lists ms, AWS S3 whole seconds): ${bucket.snapshots.map((s) => `${s.key.replace('snapshots/', '')}=${rowsText(s.rows)} rows@${at(s.lastModified)}`).join(', ')}`);
  lines.push(`bucket WAL copies (key[header checkpoint seq, valid/whole frames, commit frames, @LastModified -> rows on the newest snapshot]): ${bucket.wal.map((w) => `${w.seq}[ckpt${w.header?.checkpointSeq ?? '?'} ${w.validFrames}/${w.frames}f ${w.commitFrames}c @${at(w.lastModified)} -> ${rowsText(w.onNewest)}]`).join(' ')}`);
  lines.push(`provable from the bucket: ${bucket.provable.commits} (${bucket.provable.via})`);
  // The crate's restore applies the highest-numbered copy above metadata's latest_wal_sequence (always null, so 0).
  const applied = bucket.wal.filter((w) => w.seq > 0).sort((a, b) => b.seq - a.seq)[0];
  lines.push(`the crate's restore applies: ${applied ? `${applied.key} (-> ${applied.onNewest.count} rows on the newest snapshot)` : 'no WAL copy'}`);
  return lines.join('\n');
}
