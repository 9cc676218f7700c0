// The whole backup-restore loop from one chart, on the project's own
// single-node Kubernetes (test/support/cluster.ts), and the chart's verify
// CronJob. The example chart with its Litestream sidecar (a native sidecar
// after the restore, images built locally from the Litestream 0.3.13 and
// 0.5.18 binaries the tests build, config format v0.3 / v0.5) starts on an
// empty prefix in MinIO (first boot), the app writes in WAL mode, the sidecar
// replicates, the pod and its volume are deleted and the next pod's restore
// gives back exactly what was written (logical digest), twice. The verify
// CronJob, run as a Job, completes on a good backup (the sidecar's, and a
// Litestream backup written on the host), fails at once with 65 on a corrupt
// one (podFailurePolicy), and retries 75 (the store unreachable). The steps
// are deploy/e2e/checks.sh's (loop, verify), which kind runs too; after each,
// the test reads the facts through the API and restores the bucket itself.
import { waitForSlowSetup } from '../support/slow-setup.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { makeSmallBackup, type SourceBackup } from '../support/backup.js';
import { clusterSkipReason } from '../support/cluster.js';
import { BUCKET, startChecks, stopChecks, type ChecksContext } from '../support/cluster-checks.js';
import { logicalDigest } from '../support/digest.js';
import { containerStatus, lastTermination, type Pod } from '../support/kube-api.js';
import { SIDECAR_LITESTREAMS, buildLitestreamImage, litestreamImage } from '../support/litestream-image.js';
import { s3Env } from '../support/minio.js';
import { makeTempDir, removeDir } from '../support/paths.js';
import { S3Store } from '../support/replica.js';
import { explain, restoreInto } from '../support/run-cli.js';

// Needs the slow part of the setup (run-tests.sh runs this file after it).
await waitForSlowSetup('kubernetes');

const skip = clusterSkipReason();
const NS = 'loop-e2e';
const GOOD_PREFIX = 'apps/good';
const CORRUPT_PREFIX = 'apps/corrupt';
/** Litestream's bookkeeping tables: its sidecar writes them at its own checkpoints, they are not the app's data. */
const LITESTREAM_TABLES = ['_litestream_seq', '_litestream_lock'];
let ctx: ChecksContext | undefined;
let backup: SourceBackup;

interface JobStatus {
  status: { conditions?: Array<{ type: string; status: string; reason?: string }>; failed?: number; succeeded?: number };
}

async function podOf(release: string): Promise<Pod> {
  const pods = await ctx!.cluster.api.pods(NS, `app.kubernetes.io/instance=${release},!app.kubernetes.io/component`);
  assert.equal(pods.length, 1, `one pod of ${release}`);
  return pods[0]!;
}

before(
  async () => {
    if (skip) return;
    ctx = await startChecks('e2e-k8s-loop', {
      namespace: NS,
      images: async (work) => {
        const images: string[] = [];
        for (const l of SIDECAR_LITESTREAMS) images.push((await buildLitestreamImage(l.version, work)).image);
        return images;
      },
      // A backup by the real Litestream 0.3.13 on the host, and a copy with its snapshot cut in half.
      seed: async (minio, client, work) => {
        backup = await makeSmallBackup(work, [{ type: 's3', s3: minio, bucket: BUCKET, path: GOOD_PREFIX }]);
        const good = new S3Store(client, BUCKET, GOOD_PREFIX);
        const corrupt = new S3Store(client, BUCKET, CORRUPT_PREFIX);
        for (const o of await good.list()) {
          const body = await good.get(o.key);
          await corrupt.put(o.key, o.key.endsWith('.snapshot.lz4') ? body.subarray(0, body.length >> 1) : body);
        }
      },
    });
    Object.assign(ctx.env, { GOOD_PREFIX, CORRUPT_PREFIX, EXPECTED_DIGEST: backup.digest.sha256 });
  },
  { timeout: 60 * 60_000 },
);

after(() => stopChecks(ctx), { timeout: 600_000 });

test('f: the app writes, the Litestream sidecar (0.3.13 and 0.5.18) replicates, the pod and its volume go, and the next pod restores exactly what was written; twice', { skip, timeout: 1_500_000 }, async () => {
  const c = ctx!;
  // The two releases run side by side, each on a prefix of its own.
  const runs = SIDECAR_LITESTREAMS.map((l) => ({ ...l, release: `loop-${l.configVersion.replace('.', '')}`, prefix: `loop/${l.version}`, image: litestreamImage(l.version) }));
  const results = await Promise.all(runs.map((r) => c.checks(['loop', r.release, r.prefix, r.image, r.configVersion])));

  const dir = await makeTempDir('e2e-k8s-loop-host');
  try {
    for (const [i, run] of runs.entries()) {
      const got = results[i]!;
      const what = `Litestream ${run.version}`;
      console.log(`# ${what}: round 1 ${got['round1.tables']} ${got['round1.digest']}; round 2 ${got['round2.tables']} ${got['round2.digest']}; verify Job ${got[`${run.release}-verify.condition`]}`);
      assert.equal(got['sidecar.image'], run.image, what);
      assert.equal(got['sidecar.restartPolicy'], 'Always', `${what}: a native sidecar`);
      assert.match(got['sidecar.config'] ?? '', run.configVersion === 'v0.5' ? /replica: / : /replicas: /, `${what}: the ${run.configVersion} format`);
      assert.equal(got['round1.journal_mode'], 'wal');
      assert.equal(got['round1.rows'], '300');
      assert.ok(Number(got['round2.updated']) > 0 && Number(got['round2.deleted']) > 0, `${what}: round 2 changed earlier rows too`);
      assert.notEqual(got['round1.digest'], got['round2.digest']);
      assert.equal(got['round1.sidecar.restartCount'], '0', `${what}: the sidecar never restarted`);
      assert.equal(got['round2.sidecar.restartCount'], '0', `${what}: the sidecar never restarted`);
      assert.equal(got[`${run.release}-verify.condition`], 'Complete', `${what}: the verify Job passed on the sidecar's backup`);
      // The last check_restored: the pod after round 2's cycle.
      assert.equal(got['pod.marker.outcome'], 'restored');
      assert.equal(got['pod.digest'], got['round2.digest'], `${what}: the restored database is what the app wrote`);

      // Through the API: the pod the chart made.
      const pod = await podOf(run.release);
      assert.deepEqual(pod.spec.initContainers?.map((x) => [x.name, x.restartPolicy ?? '', x.image]), [
        ['restore', '', ctx!.env.IMAGE_REPOSITORY + ':' + ctx!.env.IMAGE_TAG],
        ['litestream', 'Always', run.image],
      ]);
      const restore = lastTermination(containerStatus(pod, 'restore'));
      assert.equal(restore?.exitCode, 0);
      assert.equal(restore?.message, 'restored: /data/app.db');
      assert.ok(containerStatus(pod, 'litestream')?.state.running, `${what}: the sidecar runs beside the app`);
      assert.ok(containerStatus(pod, 'app')?.state.running);

      // The bucket itself, restored on the host by the CLI: the same data,
      // in the layout the sidecar's Litestream writes.
      const listed = await c.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${run.prefix}/` }));
      const keys = (listed.Contents ?? []).map((o) => o.Key!.slice(run.prefix.length + 1));
      assert.ok(keys.length > 0, `${what}: the sidecar wrote objects`);
      if (run.configVersion === 'v0.3') assert.ok(keys.every((k) => k.startsWith('generations/')), `${what}: v0.3 layout: ${keys.join(' ')}`);
      else assert.ok(keys.every((k) => /^[0-9a-f]{4}\/[0-9a-f]{16}-[0-9a-f]{16}\.ltx$/.test(k)), `${what}: v0.5 layout (LTX files by level): ${keys.join(' ')}`);
      console.log(`# ${what}: ${keys.length} objects in the bucket: ${keys.slice(0, 12).join(' ')}${keys.length > 12 ? ' ...' : ''}`);
      const host = await restoreInto(`${dir}/${run.version}`, `s3://${BUCKET}/${run.prefix}`, { s3: s3Env(c.minio) });
      assert.equal(host.r.code, 0, explain(host.r));
      assert.equal(logicalDigest(host.target, { skipTables: LITESTREAM_TABLES }).sha256, got['round2.digest'], `${what}: the bucket holds what the app wrote`);
    }
  } finally {
    await removeDir(dir);
  }
  await Promise.all(runs.map((r) => c.checks(['uninstall', r.release])));
});

test('g: the verify CronJob, run as a Job: a good backup completes; a corrupt one fails at once with 65; an unreachable store (75) is retried', { skip, timeout: 900_000 }, async () => {
  const c = ctx!;
  const cases = ['good', 'corrupt', 'unreachable'] as const;
  const results = await Promise.all(cases.map((x) => c.checks(['verify', `verify-${x}`, x])));
  const expected = {
    good: { condition: 'Complete', reason: '', codes: '0', pods: 1, message: /^verified: s3:\/\/backups\/apps\/good$/ },
    corrupt: { condition: 'Failed', reason: 'PodFailurePolicy', codes: '65', pods: 1, message: /^corrupt: / },
    unreachable: { condition: 'Failed', reason: 'BackoffLimitExceeded', codes: '75 75', pods: 2, message: /^temporary: .*storage unavailable after \d+ attempts? in [\d.]+ s/ },
  };
  for (const [i, x] of cases.entries()) {
    const got = results[i]!;
    const want = expected[x];
    const job = `verify-${x}-now`;
    console.log(`# ${x}: ${got[`${job}.condition`]} ${got[`${job}.reason`]}, pods ${got[`${job}.pods`]}, exit codes ${got[`${job}.exitCodes`]}, message: ${got[`${job}.message`]}`);
    assert.equal(got[`${job}.condition`], want.condition, x);
    assert.equal(got[`${job}.reason`], want.reason, x);
    assert.equal(got[`${job}.exitCodes`], want.codes, x);
    assert.match(got[`${job}.message`] ?? '', want.message, x);

    // Through the API: the Job's conditions and its pods.
    const status = (await c.cluster.api.get<JobStatus>(`/apis/batch/v1/namespaces/${NS}/jobs/${job}`)).status;
    const condition = status.conditions?.find((k) => k.status === 'True' && (k.type === 'Complete' || k.type === 'Failed'));
    assert.equal(condition?.type, want.condition, `${x}: ${JSON.stringify(status)}`);
    const pods = await c.cluster.api.pods(NS, `batch.kubernetes.io/job-name=${job}`);
    assert.equal(pods.length, want.pods, `${x}: pods of the Job`);
    assert.deepEqual(
      pods.map((p) => lastTermination(containerStatus(p, 'verify'))?.exitCode).join(' '),
      want.codes,
      `${x}: exit codes from the pod statuses`,
    );
    if (x === 'corrupt') assert.equal(status.failed, 1, 'no retry after 65');
    if (x === 'unreachable') assert.equal(status.failed, 2, 'one retry after 75 (backoffLimit 1)');
  }
  await Promise.all(cases.map((x) => c.checks(['uninstall', `verify-${x}`])));
});
