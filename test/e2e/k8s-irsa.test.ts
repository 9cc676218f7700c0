// IRSA for real, on the project's own single-node Kubernetes
// (test/support/cluster.ts): the example chart's IRSA mode projects a
// service-account token for sts.amazonaws.com and sets AWS_ROLE_ARN and
// AWS_WEB_IDENTITY_TOKEN_FILE as the EKS webhook would; the tool's AWS SDK
// exchanges the token at an STS (deploy/e2e/sts.cjs, in a pod, reached through
// AWS_ENDPOINT_URL_STS) that checks its signature against the cluster's own
// OIDC issuer (discovery and JWKS served by the API server, read anonymously)
// before it hands out MinIO credentials limited to reading the bucket. No
// static key anywhere in the release. The steps are deploy/e2e/checks.sh's
// (irsa-setup, irsa, irsa-fail), which kind runs too; after each, the test
// reads the facts through the API and talks to the STS itself.
import { waitForSlowSetup } from '../support/slow-setup.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import https from 'node:https';
import { readFile } from 'node:fs/promises';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { makeSmallBackup, type SourceBackup } from '../support/backup.js';
import { clusterSkipReason } from '../support/cluster.js';
import { BUCKET, CREDENTIALS_SECRET, startChecks, stopChecks, type ChecksContext } from '../support/cluster-checks.js';
import { containerStatus, hasStarted, lastTermination, type Pod } from '../support/kube-api.js';
import { freePort } from '../support/minio.js';

// Needs the slow part of the setup (run-tests.sh runs this file after it).
await waitForSlowSetup('kubernetes');

const skip = clusterSkipReason();
const NS = 'irsa-e2e';
const ROLE = 'arn:aws:iam::123456789012:role/sqlite-s3-restore-e2e';
const GOOD_PREFIX = 'apps/good';
let ctx: ChecksContext | undefined;
let backup: SourceBackup;
let stsPort: number;

/** A GET of the API server without any credentials, as AWS fetches an OIDC issuer. */
function anonymousGet(urlPath: string): Promise<{ status: number; body: string }> {
  const c = ctx!.cluster;
  return readFile(c.caFile).then(
    (ca) =>
      new Promise((resolve, reject) => {
        https
          .get(`${c.server}${urlPath}`, { ca, agent: false }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (d: Buffer) => chunks.push(d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          })
          .on('error', reject);
      }),
  );
}

async function podOf(release: string): Promise<Pod> {
  const pods = await ctx!.cluster.api.pods(NS, `app.kubernetes.io/instance=${release},!app.kubernetes.io/component`);
  assert.equal(pods.length, 1, `one pod of ${release}`);
  return pods[0]!;
}

/** AssumeRoleWithWebIdentity at the STS pod (it listens on the node's 127.0.0.1), as the SDK calls it. */
async function assumeRole(token: string): Promise<{ status: number; text: string }> {
  const body = new URLSearchParams({ Action: 'AssumeRoleWithWebIdentity', Version: '2011-06-15', RoleArn: ROLE, RoleSessionName: 'test', WebIdentityToken: token });
  const res = await fetch(`http://127.0.0.1:${stsPort}/`, { method: 'POST', body });
  return { status: res.status, text: await res.text() };
}

const xml = (text: string, name: string): string | undefined => new RegExp(`<${name}>([^<]*)</${name}>`).exec(text)?.[1];

before(
  async () => {
    if (skip) return;
    stsPort = await freePort();
    ctx = await startChecks('e2e-k8s-irsa', {
      namespace: NS,
      seed: async (minio, _client, work) => {
        backup = await makeSmallBackup(work, [{ type: 's3', s3: minio, bucket: BUCKET, path: GOOD_PREFIX }]);
      },
    });
    Object.assign(ctx.env, {
      GOOD_PREFIX,
      EXPECTED_DIGEST: backup.digest.sha256,
      IRSA_ROLE_ARN: ROLE,
      // The STS pod in the node's network, on 127.0.0.1 like every listener here.
      STS_HOST_NETWORK: 'true',
      STS_PORT: String(stsPort),
      STS_CREDENTIALS_SECRET: CREDENTIALS_SECRET,
    });
  },
  { timeout: 60 * 60_000 },
);

after(() => stopChecks(ctx), { timeout: 600_000 });

test("the STS trusts the cluster's OIDC issuer: discovery and keys read anonymously once system:unauthenticated may, the keys are the cluster's", { skip, timeout: 300_000 }, async () => {
  const denied = await anonymousGet('/.well-known/openid-configuration');
  assert.equal(denied.status, 403, `anonymous discovery is not allowed by default: ${denied.body}`);

  const got = await ctx!.checks(['irsa-setup']);
  assert.equal(got['oidc.issuer'], ctx!.cluster.server, "the tokens' issuer is the API server");
  assert.match(got['sts.keys'] ?? '', /"event":"keys"/, 'the STS read the keys');

  const discovery = await anonymousGet('/.well-known/openid-configuration');
  assert.equal(discovery.status, 200, discovery.body);
  const doc = JSON.parse(discovery.body) as { issuer: string; jwks_uri: string };
  assert.equal(doc.issuer, ctx!.cluster.server);
  const jwks = await anonymousGet(new URL(doc.jwks_uri).pathname);
  assert.equal(jwks.status, 200, jwks.body);
  const keys = (JSON.parse(jwks.body) as { keys: crypto.JsonWebKey[] }).keys;
  const saKey = crypto.createPublicKey(await readFile(ctx!.cluster.serviceAccountKeyFile)).export({ type: 'spki', format: 'der' });
  assert.ok(
    keys.some((k) => crypto.createPublicKey({ key: k, format: 'jwk' }).export({ type: 'spki', format: 'der' }).equals(saKey)),
    'the JWKS holds the key the API server signs service-account tokens with',
  );
});

test('e: the chart\'s IRSA mode: a projected token for sts.amazonaws.com, exchanged at the STS for read-only MinIO credentials; the restore exits 0 with no static key in the release', { skip, timeout: 600_000 }, async () => {
  const c = ctx!;
  const got = await c.checks(['irsa', 'irsa']);
  assert.equal(got['pod.digest'], backup.digest.sha256, 'the restored database is the source');
  assert.equal(got['pod.marker.outcome'], 'restored');
  assert.match(got['restore.credentials'] ?? '', /"source":"web-identity","how":"reported by the SDK"/);
  assert.match(got['sts.issued'] ?? '', new RegExp(`"sub":"system:serviceaccount:${NS}:irsa-example-app","aud":\\["sts.amazonaws.com"\\]`));

  // Through the API: the pod as the webhook would have made it, and no key.
  const pod = await podOf('irsa');
  const spec = pod.spec as unknown as {
    initContainers: Array<{ name: string; env?: Array<{ name: string; value?: string; valueFrom?: unknown }>; volumeMounts?: Array<{ name: string; mountPath: string }> }>;
    containers: Array<{ env?: Array<{ name: string; valueFrom?: unknown }> }>;
    volumes: Array<{ name: string; projected?: { sources: Array<{ serviceAccountToken?: { audience: string; path: string } }> } }>;
    serviceAccountName: string;
  };
  const restore = spec.initContainers.find((x) => x.name === 'restore')!;
  const env = Object.fromEntries((restore.env ?? []).map((e) => [e.name, e.value]));
  assert.equal(env.AWS_ROLE_ARN, ROLE);
  assert.equal(env.AWS_WEB_IDENTITY_TOKEN_FILE, '/var/run/secrets/eks.amazonaws.com/serviceaccount/token');
  assert.equal(env.AWS_ENDPOINT_URL_STS, `http://127.0.0.1:${stsPort}`);
  const token = spec.volumes.find((v) => v.name === 'aws-iam-token')?.projected?.sources[0]?.serviceAccountToken;
  assert.deepEqual(token, { audience: 'sts.amazonaws.com', expirationSeconds: 86400, path: 'token' });
  assert.ok(restore.volumeMounts?.some((m) => m.name === 'aws-iam-token' && m.mountPath === '/var/run/secrets/eks.amazonaws.com/serviceaccount'));
  for (const container of [...spec.initContainers, ...spec.containers]) {
    for (const e of container.env ?? []) {
      assert.ok(!/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)$/.test(e.name) && !e.valueFrom, `no static key: ${JSON.stringify(e)}`);
    }
  }
  const sa = await c.cluster.api.get<{ metadata: { annotations?: Record<string, string> } }>(`/api/v1/namespaces/${NS}/serviceaccounts/${spec.serviceAccountName}`);
  assert.equal(sa.metadata.annotations?.['eks.amazonaws.com/role-arn'], ROLE);
  assert.equal(lastTermination(containerStatus(pod, 'restore'))?.exitCode, 0);

  // The STS itself: a token of that service account for sts.amazonaws.com
  // buys credentials that may read the backup and nothing more; the same
  // token with one flipped bit in its signature buys nothing.
  const real = (await c.cluster.kubectlOk(['--namespace', NS, 'create', 'token', spec.serviceAccountName, '--audience', 'sts.amazonaws.com', '--duration', '10m'])).trim();
  const ok = await assumeRole(real);
  assert.equal(ok.status, 200, ok.text);
  const s3 = new S3Client({
    endpoint: c.minio.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: xml(ok.text, 'AccessKeyId')!, secretAccessKey: xml(ok.text, 'SecretAccessKey')!, sessionToken: xml(ok.text, 'SessionToken')! },
  });
  try {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: GOOD_PREFIX }));
    assert.ok((listed.Contents ?? []).length > 0, 'the credentials list the backup');
    await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: listed.Contents![0]!.Key! })).then((r) => r.Body?.transformToByteArray());
    const put = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${GOOD_PREFIX}/intruder`, Body: 'x' })).then(
      () => 'written',
      (e: Error) => e.name,
    );
    assert.equal(put, 'AccessDenied', 'the credentials cannot write');
  } finally {
    s3.destroy();
  }
  const [h, p, sig] = real.split('.') as [string, string, string];
  const flipped = Buffer.from(sig, 'base64url');
  const at = flipped.length >> 1;
  flipped.writeUInt8(flipped.readUInt8(at) ^ 0x01, at);
  const bad = await assumeRole(`${h}.${p}.${flipped.toString('base64url')}`);
  assert.equal(bad.status, 400, bad.text);
  assert.equal(xml(bad.text, 'Code'), 'InvalidIdentityToken');
  await c.checks(['uninstall', 'irsa']);
});

test('e: a token for another audience, or re-signed with another key, is refused by the STS: the restore exits 77 (pod status), the app never starts', { skip, timeout: 900_000 }, async () => {
  const c = ctx!;
  const cases = [
    // (the STS's JSON log line, quotes escaped)
    { name: 'wrong-audience', reason: /Incorrect token audience: \[\\"https:\/\/kubernetes.default.svc\\"\], expected sts.amazonaws.com/ },
    { name: 'bad-signature', reason: /signature does not verify with the issuer's key/ },
  ];
  const results = await Promise.all(cases.map((x) => c.checks(['irsa-fail', `irsa-${x.name}`, x.name])));
  for (const [i, x] of cases.entries()) {
    const got = results[i]!;
    assert.equal(got['restore.exitCode'], '77', x.name);
    assert.match(got['sts.refused'] ?? '', x.reason, x.name);
    const pod = await podOf(`irsa-${x.name}`);
    const restore = containerStatus(pod, 'restore');
    const failed = lastTermination(restore);
    console.log(`# ${x.name}: exit ${failed?.exitCode}, restarts ${restore?.restartCount}, message: ${failed?.message}`);
    assert.equal(failed?.exitCode, 77, `${x.name}: exit code in the pod status`);
    assert.match(failed?.message ?? '', /^auth: .*STS refused to issue the role's credentials: InvalidIdentityTokenException \(HTTP 400\)/, x.name);
    assert.equal(hasStarted(containerStatus(pod, 'app')), false, `${x.name}: the app never started`);
    assert.equal(pod.status.phase, 'Pending');
  }
  await Promise.all(cases.map((x) => c.checks(['uninstall', `irsa-${x.name}`])));

  await c.checks(['irsa-down']);
  const denied = await anonymousGet('/.well-known/openid-configuration');
  assert.equal(denied.status, 403, 'without the binding, anonymous discovery is refused again');
});
