// The product where users run it: a real Kubernetes cluster (v1.34, one node on
// this host, test/support/cluster.ts), the image built from the repository's
// Dockerfile imported into its containerd, the example chart installed with
// helm, and backups written by the real Litestream 0.3.13 into MinIO on the
// host's 127.0.0.1 (the chart's pods use hostNetwork to reach it).
//
// The checks are deploy/e2e/checks.sh, the same script deploy/kind/run-e2e.sh
// runs on kind: each test runs one of its steps and then reads the pod's
// status through the API itself, as an operator would.
//
// One cluster for the whole file (started in before, stopped in after); it is
// also torn down on SIGINT/SIGTERM or an exception, and by its guard process
// if this process is killed.
import { waitForSlowSetup } from '../support/slow-setup.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { makeSmallBackup, type SourceBackup } from '../support/backup.js';
import { LocalCluster, assertClusterReady, clusterSkipReason, explainCommand, runCommand } from '../support/cluster.js';
import { logicalDigest } from '../support/digest.js';
import { containerStatus, hasStarted, isPodReady, lastTermination, type Pod } from '../support/kube-api.js';
import { createBucket, s3Client, startMinio, type Minio } from '../support/minio.js';
import { makeTempDir, removeDir, repoRoot } from '../support/paths.js';
import { PRODUCT_IMAGE, buildProductImage } from '../support/podman.js';
import { S3Store } from '../support/replica.js';
import { restoreInto } from '../support/run-cli.js';

// Needs the slow part of the setup (run-tests.sh runs this file after it).
await waitForSlowSetup('kubernetes');

const skip = clusterSkipReason();
const checksScript = path.join(repoRoot, 'deploy', 'e2e', 'checks.sh');
const podDigestScript = path.join(repoRoot, 'deploy', 'e2e', 'pod-digest.cjs');
const NS = 'restore-e2e';
const BUCKET = 'backups';
const DB_PATH = '/data/app.db';
const RELEASE = 'app';

let work: string;
let minio: Minio | undefined;
let client: S3Client | undefined;
let cluster: LocalCluster | undefined;
let backup: SourceBackup;
let checksEnv: Record<string, string>;
const started = Date.now();

/** Runs one step of deploy/e2e/checks.sh; returns its "result KEY=VALUE" lines as a map. */
async function checks(...args: string[]): Promise<Record<string, string>> {
  const c = cluster!;
  const r = await c.run('bash', [checksScript, ...args], { env: checksEnv, timeoutMs: 600_000 });
  for (const line of r.stdout.split('\n')) if (/^(PASS|FAIL): /.test(line)) console.log(`# ${line}`);
  if (r.code !== 0) assert.fail(`checks.sh ${args.join(' ')} failed\n${explainCommand(r)}\n${await c.daemonLogs()}`);
  const results: Record<string, string> = {};
  for (const m of r.stdout.matchAll(/^result ([^=\n]+)=(.*)$/gm)) results[m[1]!] = m[2]!;
  return results;
}

async function podOf(release: string): Promise<Pod> {
  const pods = await cluster!.api.pods(NS, `app.kubernetes.io/instance=${release}`);
  assert.equal(pods.length, 1, `one pod of ${release}`);
  return pods[0]!;
}

before(
  async () => {
    if (skip) return;
    assertClusterReady();
    work = await makeTempDir('e2e-k8s');

    const image = await buildProductImage(work);
    console.log(`# image ${PRODUCT_IMAGE}: podman build ${(image.durationMs / 1000).toFixed(1)} s, ${(image.size / 1e6).toFixed(1)} MB`);

    // Backups in MinIO on 127.0.0.1: one by the real Litestream 0.3.13, a copy
    // of it with the snapshot cut to half its length, and an empty prefix.
    minio = await startMinio();
    client = s3Client(minio);
    await createBucket(minio, BUCKET);
    backup = await makeSmallBackup(work, [{ type: 's3', s3: minio, bucket: BUCKET, path: 'apps/good' }]);
    const good = new S3Store(client, BUCKET, 'apps/good');
    const corrupt = new S3Store(client, BUCKET, 'apps/corrupt');
    for (const o of await good.list()) {
      const body = await good.get(o.key);
      await corrupt.put(o.key, o.key.endsWith('.snapshot.lz4') ? body.subarray(0, body.length >> 1) : body);
    }
    console.log(`# backup: ${JSON.stringify(backup.digest.tables)}, digest ${backup.digest.sha256}`);

    cluster = await LocalCluster.start();
    console.log(`# cluster up in ${(cluster.startMs / 1000).toFixed(1)} s (${cluster.dir})`);
    const imported = await cluster.importImage(PRODUCT_IMAGE);
    console.log(`# image imported into containerd in ${(imported.durationMs / 1000).toFixed(1)} s`);

    await cluster.apply(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'minio-credentials', namespace: NS },
        stringData: { AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: minio.secretKey },
      },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'wrong-credentials', namespace: NS },
        stringData: { AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: 'not-the-secret-key' },
      },
    );

    // A copy of the charts, so that `helm dependency build` never writes into the repository.
    await cp(path.join(repoRoot, 'deploy', 'helm'), path.join(work, 'helm'), {
      recursive: true,
      filter: (src) => !src.split(path.sep).includes('charts'),
    });
    const chart = path.join(work, 'helm', 'example-app');
    await cluster.helmOk(['dependency', 'build', chart]);

    const [repository, tag] = PRODUCT_IMAGE.split(/:(?=[^:]+$)/) as [string, string];
    checksEnv = {
      NAMESPACE: NS,
      CHART: chart,
      IMAGE_REPOSITORY: repository,
      IMAGE_TAG: tag,
      // imported, never pulled: there is no registry
      IMAGE_PULL_POLICY: 'Never',
      S3_ENDPOINT: minio.endpoint,
      BUCKET,
      GOOD_PREFIX: 'apps/good',
      EMPTY_PREFIX: 'apps/none',
      CORRUPT_PREFIX: 'apps/corrupt',
      CREDENTIALS_SECRET: 'minio-credentials',
      WRONG_CREDENTIALS_SECRET: 'wrong-credentials',
      EXPECTED_DIGEST: backup.digest.sha256,
      DB_PATH,
      // MinIO listens on the node's 127.0.0.1
      HELM_EXTRA_ARGS: '--set hostNetwork=true',
      TIMEOUT: '240',
    };
  },
  { timeout: 60 * 60_000 },
);

after(
  async () => {
    const errors: unknown[] = [];
    if (cluster) {
      const peak = cluster.memoryPeak();
      const daemons = Object.entries(peak.daemons)
        .map(([n, mib]) => `${n} ${mib.toFixed(0)}`)
        .join(', ');
      console.log(`# peak RSS (MiB): ${daemons}; daemons together ${peak.daemonsTotal.toFixed(0)}; pods ${peak.pods.toFixed(0)}`);
      console.log(`# volumes provisioned: ${cluster.storage.provisioned.join('; ')}`);
      const t = Date.now();
      await cluster.stop().catch((err: unknown) => errors.push(err));
      for (const line of cluster.downLog.split('\n')) if (/restored|removed|left/.test(line)) console.log(`# ${line}`);
      console.log(`# cluster stopped in ${((Date.now() - t) / 1000).toFixed(1)} s; file total ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
    client?.destroy();
    await minio?.stop();
    if (work) await removeDir(work);
    if (errors.length > 0) throw errors[0];
  },
  { timeout: 600_000 },
);

test("the kind checks' expectation: demo/expected.json's logicalDigest is what demo/replica restores to (pod-digest.cjs = digest.ts)", async () => {
  const dir = await makeTempDir('e2e-k8s-demo');
  try {
    const { r, target } = await restoreInto(dir, `file://${path.join(repoRoot, 'demo', 'replica')}`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const expected = JSON.parse(await readFile(path.join(repoRoot, 'demo', 'expected.json'), 'utf8')) as { logicalDigest: string };
    const inPod = await runCommand(process.execPath, [podDigestScript, target]);
    assert.equal(inPod.code, 0, explainCommand(inPod));
    const digest = /^digest=(.*)$/m.exec(inPod.stdout)?.[1];
    assert.equal(digest, logicalDigest(target).sha256, 'pod-digest.cjs computes test/support/digest.ts logical digest');
    assert.equal(digest, expected.logicalDigest, 'demo/expected.json logicalDigest');
  } finally {
    await removeDir(dir);
  }
});

test('a: one node, Kubernetes v1.34.4, every listener on 127.0.0.1, the image in containerd, helm talking to it', { skip, timeout: 120_000 }, async () => {
  const c = cluster!;
  const node = await c.api.get<{ status: { nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string } } }>('/api/v1/nodes/localhost');
  assert.equal(node.status.nodeInfo.kubeletVersion, 'v1.34.4');
  assert.match(node.status.nodeInfo.containerRuntimeVersion, /^containerd:\/\//);
  const version = await c.kubectlOk(['version', '-o', 'json']);
  assert.equal((JSON.parse(version) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion, 'v1.34.4');
  assert.match(await c.helmOk(['version', '--short']), /^v3\./);

  // Listening sockets of the cluster's daemons: each has some, all on loopback.
  const ss = await runCommand('ss', ['-Hltnp']);
  assert.equal(ss.code, 0, explainCommand(ss));
  for (const name of ['etcd', 'containerd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet']) {
    const pid = (await readFile(path.join(c.dir, 'run', `${name}.pid`), 'utf8')).trim();
    const listeners = ss.stdout.split('\n').filter((l) => l.includes(`pid=${pid},`));
    if (name !== 'containerd') assert.ok(listeners.length > 0, `${name} listens: ${ss.stdout}`);
    for (const l of listeners) assert.match(l.split(/\s+/)[3] ?? '', /^(127\.0\.0\.1|\[::1\]):\d+$/, `${name} listens on loopback only: ${l}`);
  }

  const images = await runCommand('ctr', ['--address', path.join(c.dir, 'run', 'containerd.sock'), '--namespace', 'k8s.io', 'images', 'ls', '-q']);
  assert.ok(images.stdout.split('\n').includes(PRODUCT_IMAGE), `${PRODUCT_IMAGE} in containerd: ${images.stdout}`);
});

test('b: helm install: the init container restores from MinIO, the app starts after it exits 0 and reads the restored rows', { skip, timeout: 600_000 }, async () => {
  const got = await checks('restore', RELEASE);
  assert.equal(got['pod.digest'], backup.digest.sha256, 'the database in the pod is the source database');
  assert.equal(got['pod.marker.outcome'], 'restored');
  assert.equal(got['pod.marker.replica'], `s3://${BUCKET}/apps/good`);

  // The same facts through the API.
  const pod = await podOf(RELEASE);
  assert.equal(pod.spec.hostNetwork, true);
  assert.deepEqual(pod.spec.initContainers?.map((c) => c.name), ['restore']);
  assert.equal(pod.spec.initContainers?.[0]?.image, PRODUCT_IMAGE);
  assert.ok(isPodReady(pod));
  const restore = containerStatus(pod, 'restore');
  const done = lastTermination(restore);
  assert.equal(done?.exitCode, 0);
  assert.equal(done?.message, `restored: ${DB_PATH}`);
  assert.equal(restore?.restartCount, 0);
  const app = containerStatus(pod, 'app');
  const appStarted = app?.state.running?.startedAt;
  assert.ok(appStarted && done?.finishedAt && appStarted >= done.finishedAt, `app started ${appStarted}, restore finished ${done?.finishedAt}`);
  const report = (await cluster!.logs(NS, pod.metadata.name, 'app')).split('\n').find((l) => l.includes('"msg":"database"'));
  assert.ok(report, 'the app logged what it read');
  const tables = (JSON.parse(report) as { rows: Record<string, number> }).rows;
  assert.deepEqual(tables, backup.digest.tables, 'the app read the restored rows: the source tables and their row counts');
});

test('d: the pod restarted with its volume kept skips the restore; a fresh volume restores again', { skip, timeout: 600_000 }, async () => {
  const before = await podOf(RELEASE);
  const claimBefore = before.spec.volumes?.find((v) => v.name === 'data') as { persistentVolumeClaim?: { claimName: string } } | undefined;
  const claimName = claimBefore?.persistentVolumeClaim?.claimName;
  assert.ok(claimName, 'the data volume is the StatefulSet claim');
  const pvcBefore = await cluster!.api.get<{ metadata: { uid: string }; spec: { volumeName: string } }>(`/api/v1/namespaces/${NS}/persistentvolumeclaims/${claimName}`);

  const restarted = await checks('restart', RELEASE);
  assert.equal(restarted['pod.marker.outcome'], 'skipped');
  assert.equal(restarted['pod.digest'], backup.digest.sha256);
  const again = await podOf(RELEASE);
  assert.notEqual(again.metadata.uid, before.metadata.uid, 'a new pod');
  assert.equal(lastTermination(containerStatus(again, 'restore'))?.message, `skipped: ${DB_PATH}`);
  const pvcKept = await cluster!.api.get<{ metadata: { uid: string }; spec: { volumeName: string } }>(`/api/v1/namespaces/${NS}/persistentvolumeclaims/${claimName}`);
  assert.equal(pvcKept.spec.volumeName, pvcBefore.spec.volumeName, 'the same volume');

  const fresh = await checks('fresh-volume', RELEASE);
  assert.equal(fresh['pod.marker.outcome'], 'restored');
  assert.equal(fresh['pod.digest'], backup.digest.sha256);
  const pvcNew = await cluster!.api.get<{ metadata: { uid: string }; spec: { volumeName: string } }>(`/api/v1/namespaces/${NS}/persistentvolumeclaims/${claimName}`);
  assert.notEqual(pvcNew.spec.volumeName, pvcBefore.spec.volumeName, 'a new volume');
  assert.equal(lastTermination(containerStatus(await podOf(RELEASE), 'restore'))?.message, `restored: ${DB_PATH}`);
  await checks('uninstall', RELEASE);
});

test('c: failing restores keep the app down: wrong keys 77, no backup 66, corrupt backup 65, read from the pod status', { skip, timeout: 900_000 }, async () => {
  const cases = [
    { name: 'wrong-keys', code: 77, kind: 'auth' },
    { name: 'no-backup', code: 66, kind: 'no-backup' },
    { name: 'corrupt', code: 65, kind: 'corrupt' },
  ];
  // The three releases fail side by side (each waits for the kubelet's first retry).
  const results = await Promise.all(cases.map((c) => checks('fail', `bad-${c.name}`, c.name)));
  for (const [i, c] of cases.entries()) {
    const got = results[i]!;
    assert.equal(got['restore.exitCode'], String(c.code), c.name);
    const pod = await podOf(`bad-${c.name}`);
    const restore = containerStatus(pod, 'restore');
    const failed = lastTermination(restore);
    console.log(`# ${c.name}: exit ${failed?.exitCode}, restarts ${restore?.restartCount}, message: ${failed?.message}`);
    assert.equal(failed?.exitCode, c.code, `${c.name}: exit code in the pod status`);
    assert.ok(failed?.message?.startsWith(`${c.kind}: `), `${c.name}: termination message "${failed?.message}"`);
    assert.ok(!failed?.message?.includes('not-the-secret-key') && !failed?.message?.includes(minio!.secretKey), 'no secret in the message');
    assert.ok((restore?.restartCount ?? 0) >= 1, `${c.name}: the kubelet retried the restore`);
    const app = containerStatus(pod, 'app');
    assert.equal(hasStarted(app), false, `${c.name}: the app never started: ${JSON.stringify(app)}`);
    assert.equal(app?.state.waiting?.reason, 'PodInitializing');
    assert.equal(pod.status.phase, 'Pending');
  }
  await Promise.all(cases.map((c) => checks('uninstall', `bad-${c.name}`)));
});
