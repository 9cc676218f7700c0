// The container image, built from the repository's Dockerfile and run the way
// Kubernetes runs the init container: non-root (65532), read-only root
// filesystem, all capabilities dropped, no new privileges, configured by
// environment variables only, the database on a volume mounted at /data and
// the termination log as a file mounted at /dev/termination-log.
//
// There is no Docker engine on these machines: the image is built and run with
// podman + runc, FROM local base images made by test/support/image-setup.sh
// (a distroless-like Node 22 runtime and a node:22-bookworm-like build image),
// with podman's storage cached in <cache>/podman. MinIO runs on 127.0.0.1 and
// the container shares the host network (--network=host: no bridge).
import { waitForSlowSetup } from '../support/slow-setup.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chown, copyFile, mkdir, open, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import Database from 'better-sqlite3';
import { CLI_ENV, CLI_NODE_FLAGS } from '../../bench/node-flags.js';
import { createBucket, s3Client, s3Env, startMinio, type Minio } from '../support/minio.js';
import { makeTempDir, removeDir, repoRoot } from '../support/paths.js';
import {
  PRODUCT_IMAGE as IMAGE,
  assertImagesReady,
  buildProductImage,
  imageRevision,
  imageSource,
  explainPodman as explain,
  imageSkipReason,
  podman,
  type PodmanRun as Run,
} from '../support/podman.js';
import { readTerminationLog, type Marker } from '../support/run-cli.js';

// Needs the slow part of the setup (run-tests.sh runs this file after it).
await waitForSlowSetup('images');

const NONROOT = 65532;

// image-setup.sh says whether this machine can run containers at all.
const skip = imageSkipReason();

let containerSeq = 0;

/** Runs the product image like a Kubernetes init container. */
async function runInitContainer(opts: { dataDir: string; terminationLog: string; env: Record<string, string> }): Promise<Run> {
  const name = `ssr-image-test-${process.pid}-${++containerSeq}`;
  const args = [
    'run', '--rm', '--name', name,
    '--network=host',
    '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768',
    // securityContext: runAsUser/runAsGroup 65532, readOnlyRootFilesystem (and
    // no tmpfs on /tmp, which Kubernetes would not add either), capabilities
    // drop ALL, allowPrivilegeEscalation false.
    '--user', `${NONROOT}:${NONROOT}`,
    '--read-only', '--read-only-tmpfs=false',
    '--cap-drop=ALL',
    '--security-opt=no-new-privileges',
    '--volume', `${opts.dataDir}:/data`,
    '--volume', `${opts.terminationLog}:/dev/termination-log`,
  ];
  for (const [k, v] of Object.entries(opts.env)) args.push('--env', `${k}=${v}`);
  args.push(IMAGE);
  return podman(args, { timeoutMs: 180_000, containerName: name });
}

function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`stdout line is not JSON: ${l}`);
      }
    });
}

let work: string;
let minio: Minio;
let replicaUrl: string;
let baseEnv: Record<string, string>;

/** A data volume (owned by 65532, as fsGroup would make it writable) and a termination-log file. */
async function volume(name: string): Promise<{ dataDir: string; terminationLog: string }> {
  const dataDir = path.join(work, name, 'data');
  await mkdir(dataDir, { recursive: true, mode: 0o750 });
  await chown(dataDir, NONROOT, NONROOT);
  const terminationLog = path.join(work, name, 'termination-log');
  await (await open(terminationLog, 'w', 0o644)).close();
  await chown(terminationLog, NONROOT, NONROOT);
  return { dataDir, terminationLog };
}

before(
  async () => {
    if (skip) return;
    assertImagesReady();
    work = await makeTempDir('e2e-image');

    const { durationMs, size } = await buildProductImage(work);
    console.log(`# image ${IMAGE}: built in ${(durationMs / 1000).toFixed(1)} s, size ${size} bytes (${(size / 1e6).toFixed(1)} MB)`);

    // The demo replica (written by the real Litestream 0.3.13) uploaded to MinIO under a prefix.
    minio = await startMinio();
    await createBucket(minio, 'backups');
    const client = s3Client(minio);
    try {
      const root = path.join(repoRoot, 'demo', 'replica');
      const files = (await readdir(root, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
      assert.ok(files.length > 0, 'demo/replica holds the backup');
      for (const f of files) {
        const file = path.join(f.parentPath, f.name);
        const key = `apps/notes/${path.relative(root, file).split(path.sep).join('/')}`;
        await client.send(new PutObjectCommand({ Bucket: 'backups', Key: key, Body: await readFile(file) }));
      }
    } finally {
      client.destroy();
    }
    replicaUrl = 's3://backups/apps/notes';
    baseEnv = {
      SQLITE_RESTORE_REPLICA_URL: replicaUrl,
      SQLITE_RESTORE_DB_PATH: '/data/notes.db',
      SQLITE_RESTORE_VERIFY: 'full',
      AWS_EC2_METADATA_DISABLED: 'true',
      ...s3Env(minio),
    };
  },
  { timeout: 45 * 60_000 },
);

after(async () => {
  await minio?.stop();
  if (work) await removeDir(work);
});

test('image: production dependencies only, non-root user, node 22, CLI entrypoint', { skip, timeout: 120_000 }, async () => {
  const inspect = await podman(['image', 'inspect', '--format', '{{json .Config}}', IMAGE]);
  assert.equal(inspect.code, 0, explain(inspect));
  const config = JSON.parse(inspect.stdout) as { User: string; Entrypoint: string[]; Cmd: string[]; Env: string[]; Labels: Record<string, string> };
  assert.equal(config.User, `${NONROOT}:${NONROOT}`);
  const pkgVersion = (JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
  assert.equal(config.Labels['org.opencontainers.image.revision'], imageRevision());
  assert.equal(config.Labels['org.opencontainers.image.source'], imageSource());
  assert.equal(config.Labels['org.opencontainers.image.version'], pkgVersion);
  assert.equal(config.Labels['org.opencontainers.image.licenses'], 'Apache-2.0');
  assert.deepEqual(config.Entrypoint, ['/nodejs/bin/node', ...CLI_NODE_FLAGS, '/app/dist/src/cli.js']);
  assert.deepEqual(config.Cmd, ['restore']);
  for (const [key, value] of Object.entries(CLI_ENV)) assert.ok(config.Env.includes(`${key}=${value}`), `the image sets ${key}=${value}: ${config.Env.join(' ')}`);

  const version = await podman(['run', '--rm', '--network=host', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768', '--read-only', IMAGE, '--version']);
  assert.equal(version.code, 0, explain(version));
  const pkg = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };
  assert.equal(version.stdout.trim(), pkg.version);

  const probe = await podman([
    'run', '--rm', '--network=host', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768', '--read-only',
    '--entrypoint', '/nodejs/bin/node', IMAGE, '-e',
    `const fs = require('node:fs');
     const dev = ${JSON.stringify(Object.keys(pkg.devDependencies))}.filter((d) => fs.existsSync('/app/node_modules/' + d));
     console.log(JSON.stringify({ node: process.versions.node, uid: process.getuid(), dev, app: fs.readdirSync('/app').sort() }));`,
  ]);
  assert.equal(probe.code, 0, explain(probe));
  const facts = JSON.parse(probe.stdout) as { node: string; uid: number; dev: string[]; app: string[] };
  assert.ok(Number(facts.node.split('.')[0]) >= 22, `node ${facts.node} in the image`);
  assert.equal(facts.uid, NONROOT);
  assert.deepEqual(facts.dev, [], 'no devDependencies in the image');
  assert.deepEqual(facts.app, ['dist', 'node_modules', 'package.json']);
});

test('restore from MinIO as a non-root, read-only init container: exit 0, marker, data; a restart skips', { skip, timeout: 300_000 }, async () => {
  const { dataDir, terminationLog } = await volume('ok');
  const r = await runInitContainer({ dataDir, terminationLog, env: baseEnv });
  assert.equal(r.code, 0, `restore in the container\n${explain(r)}`);
  console.log(`# container run (restore): ${r.durationMs} ms`);
  const logs = jsonLines(r.stdout);
  const done = logs.at(-1);
  assert.equal(done?.event, 'done', explain(r));
  assert.equal(done?.exitCode, 0);
  assert.equal(await readTerminationLog(terminationLog), 'restored: /data/notes.db');

  assert.deepEqual((await readdir(dataDir)).sort(), ['notes.db', 'notes.db.restore.json'], 'only the database and the marker');
  const marker = JSON.parse(await readFile(path.join(dataDir, 'notes.db.restore.json'), 'utf8')) as Marker;
  assert.equal(marker.outcome, 'restored');
  assert.equal(marker.database, '/data/notes.db');
  assert.equal(marker.replica, replicaUrl);
  assert.equal(marker.verify, 'full');
  assert.equal(marker.source?.generation, 'd6c4f0d7dfecb368');
  const dbFile = path.join(dataDir, 'notes.db');
  assert.equal(marker.sha256, createHash('sha256').update(await readFile(dbFile)).digest('hex'));
  const st = await stat(dbFile);
  assert.equal(st.uid, NONROOT, 'written by uid 65532');
  assert.equal(st.mode & 0o777, 0o644);

  // The rows, compared with demo/expected.json as `npm run demo` does (on a copy:
  // opening the volume's file here could add -wal/-shm files owned by root).
  const expected = JSON.parse(await readFile(path.join(repoRoot, 'demo', 'expected.json'), 'utf8')) as { table: string; rows: number; sha256: string };
  const copy = path.join(work, 'notes-copy.db');
  await copyFile(dbFile, copy);
  const db = new Database(copy, { readonly: true });
  try {
    const rows = db.prepare(`SELECT * FROM ${expected.table} ORDER BY id`).all();
    assert.equal(rows.length, expected.rows);
    assert.equal(createHash('sha256').update(JSON.stringify(rows)).digest('hex'), expected.sha256, 'restored rows = the source');
  } finally {
    db.close();
  }

  // An init container runs again on every pod restart: a valid database is kept.
  const before = await readFile(dbFile);
  const again = await runInitContainer({ dataDir, terminationLog, env: baseEnv });
  assert.equal(again.code, 0, explain(again));
  assert.equal(await readTerminationLog(terminationLog), 'skipped: /data/notes.db');
  assert.ok((await readFile(dbFile)).equals(before), 'the database is untouched');
  const skipped = JSON.parse(await readFile(path.join(dataDir, 'notes.db.restore.json'), 'utf8')) as Marker;
  assert.equal(skipped.outcome, 'skipped');
});

test('wrong credentials: exit 77, a one-line termination message, nothing written', { skip, timeout: 300_000 }, async () => {
  const { dataDir, terminationLog } = await volume('auth');
  const r = await runInitContainer({ dataDir, terminationLog, env: { ...baseEnv, ...s3Env(minio, { secretKey: 'not-the-secret-key' }) } });
  assert.equal(r.code, 77, `wrong secret key\n${explain(r)}`);
  const message = await readTerminationLog(terminationLog);
  console.log(`# termination message: ${message}`);
  assert.match(message, /^auth: /);
  assert.ok(!message.includes('not-the-secret-key'), 'no secret in the message');
  assert.equal(jsonLines(r.stdout).at(-1)?.exitCode, 77);
  assert.deepEqual(await readdir(dataDir), [], 'nothing may be written to the data volume');
});
