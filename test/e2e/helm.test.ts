// The Helm charts (deploy/helm) and the plain manifests (deploy/kubernetes):
// `helm lint` and `helm template` with the real helm binary, every rendered
// object validated against the Kubernetes OpenAPI schemas (kubernetes-models),
// the restore init container checked field by field, and values.schema.json
// shown to reject bad values. Offline; needs helm in the tool cache (setup.sh).
import { waitForSlowSetup } from '../support/slow-setup.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { access, constants, cp, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { CONFIG_VARIABLES } from '../../src/config.js';
import { envMap, parseManifests, podSpecOf, validateObject, type Container, type K8sObject, type PodSpec } from '../support/k8s.js';
import { binDir, makeTempDir, removeDir, repoRoot } from '../support/paths.js';

// Needs the slow part of the setup (run-tests.sh runs this file after it).
await waitForSlowSetup('kubernetes');

const helmBin = path.join(binDir, 'helm');
const kubectlBin = path.join(binDir, 'kubectl');
const deployDir = path.join(repoRoot, 'deploy');
let work: string;
let exampleChart: string;
let libraryChart: string;

interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

function helm(args: string[]): Promise<HelmResult> {
  return new Promise((resolve, reject) => {
    execFile(
      helmBin,
      args,
      {
        cwd: work,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: work,
          HELM_CACHE_HOME: path.join(work, '.helm/cache'),
          HELM_CONFIG_HOME: path.join(work, '.helm/config'),
          HELM_DATA_HOME: path.join(work, '.helm/data'),
        },
        timeout: 60_000,
        maxBuffer: 16 << 20,
      },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err);
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
      },
    );
  });
}

async function helmOk(args: string[]): Promise<string> {
  const r = await helm(args);
  assert.equal(r.code, 0, `helm ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** `helm template` of the example chart; every object validated. */
async function render(opts: { values?: string[]; set?: string[]; chart?: string } = {}): Promise<K8sObject[]> {
  const args = ['template', 'demo', opts.chart ?? exampleChart, '--namespace', 'apps'];
  for (const f of opts.values ?? []) args.push('-f', f);
  for (const s of opts.set ?? []) args.push('--set', s);
  const objects = parseManifests(await helmOk(args));
  for (const obj of objects) validateObject(obj);
  return objects;
}

function find(objects: K8sObject[], kind: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `expected one ${kind}, got ${found.length}`);
  return found[0]!;
}

function pod(objects: K8sObject[]): PodSpec {
  const spec = podSpecOf(find(objects, 'StatefulSet'));
  assert.ok(spec, 'StatefulSet has a pod template');
  return spec;
}

function restoreContainer(spec: PodSpec): Container {
  const c = spec.initContainers?.[0];
  assert.ok(c, 'the first init container is the restore');
  assert.equal(c.name, 'restore');
  return c;
}

const example = (name: string): string => path.join(exampleChart, 'examples', name);

/** The pod spec fields of scheduling and pulling, which PodSpec (test/support/k8s.ts) leaves out. */
type ScheduledPodSpec = PodSpec & {
  imagePullSecrets?: Array<{ name: string }>;
  nodeSelector?: Record<string, string>;
  tolerations?: unknown[];
  affinity?: Record<string, unknown>;
};

/** A chart of your own depending on (a copy of) the library, with these values and templates. */
async function consumerChart(name: string, values: string, templates: Record<string, string>): Promise<string> {
  const chart = path.join(work, name);
  await mkdir(path.join(chart, 'templates'), { recursive: true });
  await mkdir(path.join(chart, 'charts'), { recursive: true });
  await cp(libraryChart, path.join(chart, 'charts', 'sqlite-s3-restore'), { recursive: true });
  await writeFile(
    path.join(chart, 'Chart.yaml'),
    `apiVersion: v2\nname: ${name}\nversion: 1.0.0\ndependencies:\n  - name: sqlite-s3-restore\n    version: 0.1.0\n    repository: file://../sqlite-s3-restore\n`,
  );
  await writeFile(path.join(chart, 'values.yaml'), values);
  for (const [file, text] of Object.entries(templates)) await writeFile(path.join(chart, 'templates', file), text);
  return chart;
}

const HARDENED = {
  runAsNonRoot: true,
  runAsUser: 65532,
  runAsGroup: 65532,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  privileged: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

const DEFAULT_ENV = {
  SQLITE_RESTORE_REPLICA_URL: 's3://my-bucket/example-app/app.db',
  SQLITE_RESTORE_DB_PATH: '/data/app.db',
  SQLITE_RESTORE_IF_EXISTS: 'skip',
  SQLITE_RESTORE_IF_NO_BACKUP: 'fail',
  SQLITE_RESTORE_VERIFY: 'quick',
  SQLITE_RESTORE_TIMEOUT_SECONDS: '900',
  SQLITE_RESTORE_FILE_MODE: '0644',
  SQLITE_RESTORE_LOG_LEVEL: 'info',
};

before(
  async () => {
    await access(helmBin, constants.X_OK).catch(() => {
      throw new Error(`${helmBin} is missing: run bash test/support/setup.sh`);
    });
    work = await makeTempDir('e2e-helm');
    // A copy, so that `helm dependency build` never writes into the repository.
    await cp(path.join(deployDir, 'helm'), path.join(work, 'helm'), {
      recursive: true,
      filter: (src) => !src.includes(`${path.sep}charts${path.sep}`) && !src.endsWith(`${path.sep}charts`),
    });
    exampleChart = path.join(work, 'helm', 'example-app');
    libraryChart = path.join(work, 'helm', 'sqlite-s3-restore');
    await helmOk(['dependency', 'build', exampleChart]);
  },
  { timeout: 120_000 },
);

after(async () => {
  if (work) await removeDir(work);
});

test('helm lint --strict passes for the library and the example chart with each example values file', async () => {
  await helmOk(['lint', '--strict', libraryChart]);
  await helmOk(['lint', '--strict', exampleChart]);
  for (const f of ['aws-irsa.yaml', 'minio.yaml', 'aws-static-keys.yaml']) {
    await helmOk(['lint', '--strict', exampleChart, '-f', example(f)]);
  }
});

test('default values: a valid StatefulSet whose restore init container is hardened and complete', async () => {
  const objects = await render();
  assert.deepEqual(objects.map((o) => o.kind).sort(), ['CronJob', 'Service', 'ServiceAccount', 'StatefulSet']);
  const spec = pod(objects);
  const c = restoreContainer(spec);
  assert.deepEqual(spec.initContainers?.map((i) => [i.name, i.restartPolicy]), [
    ['restore', undefined],
    ['litestream', 'Always'],
  ], 'the restore, then the Litestream backup sidecar');
  assert.equal(c.image, 'sqlite-s3-restore:0.1.0');
  assert.deepEqual(c.args, ['restore']);
  assert.deepEqual(envMap(c), DEFAULT_ENV);
  for (const name of Object.keys(envMap(c))) {
    assert.ok((CONFIG_VARIABLES as readonly string[]).includes(name), `${name} is a variable the tool reads`);
  }
  assert.deepEqual(c.volumeMounts, [{ name: 'data', mountPath: '/data' }]);
  assert.deepEqual(c.securityContext, HARDENED);
  assert.deepEqual(c.resources, { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '384Mi' } });
  assert.equal(c.terminationMessagePolicy, 'FallbackToLogsOnError');
  assert.equal(c.terminationMessagePath, '/dev/termination-log');
  assert.equal(c.envFrom, undefined);

  // Pod: non-root with an fsGroup for the volume, no API token, the app after the restore.
  assert.equal(spec.automountServiceAccountToken, false);
  assert.deepEqual(spec.securityContext, {
    runAsNonRoot: true,
    runAsUser: 65532,
    runAsGroup: 65532,
    fsGroup: 65532,
    fsGroupChangePolicy: 'OnRootMismatch',
    seccompProfile: { type: 'RuntimeDefault' },
  });
  assert.deepEqual(spec.volumes?.map((v) => v.name), ['litestream-config', 'tmp'], 'the data volume comes from the volumeClaimTemplate');
  const app = spec.containers[0]!;
  assert.equal(app.name, 'app');
  assert.deepEqual(app.volumeMounts, [
    { name: 'data', mountPath: '/data' },
    { name: 'tmp', mountPath: '/tmp' },
  ], "the app's /tmp: SQLite's temporary files on a read-only root file system");
  assert.deepEqual(spec.volumes?.find((v) => v.name === 'tmp'), { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } });
  assert.deepEqual(envMap(app), { DB_PATH: '/data/app.db' });
  assert.equal(app.securityContext?.readOnlyRootFilesystem, true);
  const sts = find(objects, 'StatefulSet').spec as { replicas: number; volumeClaimTemplates: Array<{ metadata: { name: string } }> };
  assert.equal(sts.replicas, 1);
  assert.deepEqual(sts.volumeClaimTemplates.map((v) => v.metadata.name), ['data']);

  const sa = find(objects, 'ServiceAccount');
  assert.equal(sa.metadata.annotations, undefined, 'no IRSA annotation unless a role is given');
  assert.equal(spec.serviceAccountName, sa.metadata.name);
});

test('AWS with IRSA: role annotation on the ServiceAccount, no static keys anywhere', async () => {
  const objects = await render({ values: [example('aws-irsa.yaml')] });
  const sa = find(objects, 'ServiceAccount');
  assert.deepEqual(sa.metadata.annotations, {
    'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/my-app-litestream',
    'eks.amazonaws.com/sts-regional-endpoints': 'true',
  });
  const c = restoreContainer(pod(objects));
  const env = envMap(c);
  assert.equal(env.SQLITE_RESTORE_REPLICA_URL, 's3://my-company-backups/my-app/app.db');
  assert.equal(env.SQLITE_RESTORE_S3_REGION, 'eu-west-1');
  assert.equal(env.SQLITE_RESTORE_VERIFY, 'full');
  assert.equal(env.SQLITE_RESTORE_S3_ENDPOINT, undefined);
  assert.deepEqual(Object.keys(env).filter((k) => k.startsWith('AWS_')), [], 'static keys would override IRSA');
  assert.equal(c.envFrom, undefined);
});

test('MinIO: custom endpoint, path style, keys from an existing Secret', async () => {
  const c = restoreContainer(pod(await render({ values: [example('minio.yaml')] })));
  const env = envMap(c);
  assert.equal(env.SQLITE_RESTORE_REPLICA_URL, 's3://backups/my-app/app.db');
  assert.equal(env.SQLITE_RESTORE_S3_ENDPOINT, 'http://minio.minio.svc.cluster.local:9000');
  assert.equal(env.SQLITE_RESTORE_S3_FORCE_PATH_STYLE, 'true');
  assert.equal(env.AWS_ACCESS_KEY_ID, 'secret:minio-credentials/AWS_ACCESS_KEY_ID');
  assert.equal(env.AWS_SECRET_ACCESS_KEY, 'secret:minio-credentials/AWS_SECRET_ACCESS_KEY');
  assert.equal(env.AWS_SESSION_TOKEN, undefined);
});

test('static AWS keys with custom Secret key names, a session token, and every other option', async () => {
  const c = restoreContainer(
    pod(
      await render({
        values: [example('aws-static-keys.yaml')],
        set: [
          'restore.ifExists=overwrite',
          'restore.ifNoBackup=allow',
          'restore.verify=none',
          'restore.markerPath=/data/restore.json',
          'restore.timeoutSeconds=300',
          'restore.idleTimeoutSeconds=10',
          'restore.concurrency=16',
          'restore.maxAttempts=8',
          'restore.retryWindowSeconds=120',
          'restore.fileMode=0660',
          'restore.fileUid=0',
          'restore.fileGid=1000',
          'restore.logLevel=debug',
          'restore.progressSeconds=30',
          'restore.maxAge=26h',
          'restore.s3.forcePathStyle=false',
          'restore.s3.checksums=when_required',
          'restore.s3.endpoint=https://s3.example.com',
          'restore.layout=litestream-v0.5',
          'restore.litestream.configVersion=v0.5',
          'restore.target.generation=d6c4f0d7dfecb368',
          'restore.target.index=0000002a',
          'restore.target.match=at-or-before',
          'restore.verifyDir=/scratch',
          'restore.image.digest=sha256:' + 'ab'.repeat(32),
        ],
      }),
    ),
  );
  assert.equal(c.image, `sqlite-s3-restore@sha256:${'ab'.repeat(32)}`);
  const env = envMap(c);
  assert.deepEqual(env, {
    SQLITE_RESTORE_REPLICA_URL: 's3://my-company-backups/my-app/app.db',
    SQLITE_RESTORE_LAYOUT: 'litestream-v0.5',
    SQLITE_RESTORE_DB_PATH: '/data/app.db',
    SQLITE_RESTORE_S3_ENDPOINT: 'https://s3.example.com',
    SQLITE_RESTORE_S3_FORCE_PATH_STYLE: 'false',
    SQLITE_RESTORE_S3_REGION: 'us-east-2',
    SQLITE_RESTORE_S3_CHECKSUMS: 'when_required',
    SQLITE_RESTORE_IF_EXISTS: 'overwrite',
    SQLITE_RESTORE_IF_NO_BACKUP: 'allow',
    SQLITE_RESTORE_VERIFY: 'none',
    SQLITE_RESTORE_MARKER_PATH: '/data/restore.json',
    SQLITE_RESTORE_TIMEOUT_SECONDS: '300',
    SQLITE_RESTORE_IDLE_TIMEOUT_SECONDS: '10',
    SQLITE_RESTORE_CONCURRENCY: '16',
    SQLITE_RESTORE_MAX_ATTEMPTS: '8',
    SQLITE_RESTORE_RETRY_WINDOW_SECONDS: '120',
    SQLITE_RESTORE_FILE_MODE: '0660',
    SQLITE_RESTORE_FILE_UID: '0',
    SQLITE_RESTORE_FILE_GID: '1000',
    SQLITE_RESTORE_LOG_LEVEL: 'debug',
    SQLITE_RESTORE_PROGRESS_SECONDS: '30',
    SQLITE_RESTORE_MAX_AGE: '26h',
    SQLITE_RESTORE_TARGET_GENERATION: 'd6c4f0d7dfecb368',
    SQLITE_RESTORE_TARGET_INDEX: '0000002a',
    SQLITE_RESTORE_TARGET_MATCH: 'at-or-before',
    SQLITE_RESTORE_VERIFY_DIR: '/scratch',
    AWS_ACCESS_KEY_ID: 'secret:my-app-s3/access-key-id',
    AWS_SECRET_ACCESS_KEY: 'secret:my-app-s3/secret-access-key',
    AWS_SESSION_TOKEN: 'secret:my-app-s3/session-token',
  });
  // The other kinds of point-in-time target.
  const targetEnv = async (set: string[]): Promise<Record<string, string>> =>
    envMap(restoreContainer(pod(await render({ set: ['restore.replicaUrl=s3://b-1/p', ...set] }))));
  const byTime = await targetEnv(['restore.target.time=2026-03-01T12:00:00Z']);
  assert.equal(byTime.SQLITE_RESTORE_TARGET_TIME, '2026-03-01T12:00:00Z');
  const byTxid = await targetEnv(['restore.target.txid=0x2a']);
  assert.equal(byTxid.SQLITE_RESTORE_TARGET_TXID, '0x2a');
  // Every variable the tool reads can be set from the chart (the termination
  // log path is Kubernetes' terminationMessagePath, left at its default).
  const settable = [...Object.keys(env), ...Object.keys(byTime), ...Object.keys(byTxid)]
    .filter((k, i, all) => k.startsWith('SQLITE_RESTORE_') && all.indexOf(k) === i)
    .sort();
  const expected = CONFIG_VARIABLES.filter((v) => v !== 'SQLITE_RESTORE_TERMINATION_LOG').sort();
  assert.deepEqual(settable, expected, 'a variable in src/config.ts that the chart cannot set (or the reverse)');
});

test('more native sidecars from values are rendered after the restore and the Litestream sidecar, with restartPolicy Always; initContainers before the restore', async () => {
  const valuesFile = path.join(work, 'sidecar.yaml');
  await writeFile(
    valuesFile,
    [
      // deploy/README.md's fix for a root-owned hostPath directory
      'initContainers:',
      '  - name: chown-data',
      '    image: busybox:1.36',
      '    command: [chown, "65532:65532", /data]',
      '    securityContext: {runAsUser: 0, runAsNonRoot: false, capabilities: {drop: [ALL], add: [CHOWN]}}',
      '    volumeMounts: [{name: data, mountPath: /data}]',
      'sidecars:',
      '  - name: metrics',
      '    image: busybox',
      '    restartPolicy: Always',
      '    volumeMounts: [{name: data, mountPath: /data}]',
      '',
    ].join('\n'),
  );
  await helmOk(['lint', '--strict', exampleChart, '-f', valuesFile]);
  const spec = pod(await render({ values: [valuesFile] }));
  assert.deepEqual(spec.initContainers?.map((c) => [c.name, c.restartPolicy]), [
    ['chown-data', undefined],
    ['restore', undefined],
    ['litestream', 'Always'],
    ['metrics', 'Always'],
  ]);
});

/** The StatefulSet's Litestream sidecar, its configuration (from the pod annotation), and the pod's volumes. */
function litestreamOf(objects: K8sObject[]): { sidecar: Container; config: Record<string, unknown>; text: string; spec: PodSpec } {
  const spec = pod(objects);
  const sidecar = spec.initContainers?.find((c) => c.name === 'litestream');
  assert.ok(sidecar, 'a litestream init container');
  const template = (find(objects, 'StatefulSet').spec as { template: { metadata: { annotations?: Record<string, string> } } }).template;
  const text = template.metadata.annotations?.['sqlite-s3-restore/litestream.yml'];
  assert.ok(text, 'the configuration annotation on the pod template');
  return { sidecar, config: parseYaml(text) as Record<string, unknown>, text, spec };
}

/** `litestream databases -config FILE` of a real Litestream binary: it parses and checks the configuration offline. */
function litestreamDatabases(bin: string, configFile: string): Promise<HelmResult> {
  return new Promise((resolve, reject) => {
    execFile(bin, ['databases', '-config', configFile], { timeout: 30_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work } }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}

test('the Litestream sidecar: a native sidecar after the restore, sharing its replica, endpoint, region and keys; v0.3 and v0.5 configurations the real binaries accept', async () => {
  const shared = [
    'restore.replicaUrl=s3://backups/apps/my-app',
    'restore.s3.endpoint=http://minio.minio.svc:9000',
    'restore.s3.region=eu-west-1',
    'restore.credentials.existingSecret=minio-credentials',
    'restore.litestream.image.repository=registry.example.com/litestream',
    'restore.litestream.syncInterval=500ms',
    'restore.litestream.snapshotInterval=6h',
    'restore.litestream.retention=72h',
    'restore.litestream.extraEnv[0].name=LOG_LEVEL',
    'restore.litestream.extraEnv[0].value=debug',
  ];
  const v3 = litestreamOf(await render({ set: [...shared, 'restore.litestream.image.tag=0.3.13'] }));
  assert.deepEqual(v3.spec.initContainers?.map((c) => c.name), ['restore', 'litestream'], 'listed after the restore: starts once the database is in place');
  const c = v3.sidecar;
  assert.equal(c.restartPolicy, 'Always', 'a native sidecar: stopped after the app');
  assert.equal(c.image, 'registry.example.com/litestream:0.3.13');
  assert.equal(c.command, undefined, "the image's entrypoint (litestream)");
  assert.deepEqual(c.args, ['replicate', '-config', '/etc/litestream/litestream.yml']);
  assert.deepEqual(envMap(c), {
    AWS_ACCESS_KEY_ID: 'secret:minio-credentials/AWS_ACCESS_KEY_ID',
    AWS_SECRET_ACCESS_KEY: 'secret:minio-credentials/AWS_SECRET_ACCESS_KEY',
    LOG_LEVEL: 'debug',
  });
  assert.deepEqual(c.volumeMounts, [
    { name: 'data', mountPath: '/data' },
    { name: 'litestream-config', mountPath: '/etc/litestream', readOnly: true },
  ]);
  assert.deepEqual(c.securityContext, HARDENED);
  assert.deepEqual(v3.spec.volumes?.filter((v) => v.name !== 'tmp'), [
    {
      name: 'litestream-config',
      downwardAPI: { items: [{ path: 'litestream.yml', fieldRef: { fieldPath: "metadata.annotations['sqlite-s3-restore/litestream.yml']" } }] },
    },
  ]);
  const replica = { type: 's3', bucket: 'backups', path: 'apps/my-app', endpoint: 'http://minio.minio.svc:9000', region: 'eu-west-1', 'sync-interval': '500ms' };
  assert.deepEqual(v3.config, { dbs: [{ path: '/data/app.db', replicas: [{ ...replica, 'snapshot-interval': '6h', retention: '72h' }] }] });

  const v5 = litestreamOf(await render({ set: [...shared, 'restore.litestream.image.tag=0.5.18', 'restore.litestream.configVersion=v0.5'] }));
  assert.deepEqual(v5.config, { dbs: [{ path: '/data/app.db', replica }], snapshot: { interval: '6h', retention: '72h' } });
  assert.deepEqual(v5.sidecar.args, c.args);

  // The real parsers: Litestream 0.3.13 and 0.5.18 read what the chart renders.
  for (const [bin, text, key] of [
    [path.join(binDir, 'litestream'), v3.text, 'replicas'],
    [path.join(binDir, 'litestream-0.5.18'), v5.text, 'replica'],
  ] as const) {
    const file = path.join(work, `${path.basename(bin)}.yml`);
    await writeFile(file, text);
    const r = await litestreamDatabases(bin, file);
    assert.equal(r.code, 0, `${bin} databases: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^path\\s+${key}\\n/data/app\\.db\\s+s3\\s*$`, 'm'), r.stdout);
  }

  // Path style, only when set (null: Litestream's default, which is the restore's); a file replica.
  const pathStyle = litestreamOf(await render({ set: ['restore.s3.endpoint=http://m:9000', 'restore.s3.forcePathStyle=false'] }));
  assert.equal((pathStyle.config.dbs as Array<{ replicas: Array<Record<string, unknown>> }>)[0]!.replicas[0]!['force-path-style'], false);
  const file = litestreamOf(await render({ set: ['restore.replicaUrl=file:///backups/app', 'restore.litestream.configVersion=v0.5'] }));
  assert.deepEqual(file.config, { dbs: [{ path: '/data/app.db', replica: { type: 'file', path: '/backups/app' } }] });

  // Off: no sidecar, no annotation, no configuration volume.
  const off = await render({ set: ['restore.litestream.enabled=false'] });
  assert.deepEqual(pod(off).initContainers?.map((i) => i.name), ['restore']);
  assert.deepEqual(pod(off).volumes?.map((v) => v.name), ['tmp']);
  assert.equal((find(off, 'StatefulSet').spec as { template: { metadata: { annotations?: unknown } } }).template.metadata.annotations, undefined);
});

test('IRSA without the EKS webhook: the chart projects a token for sts.amazonaws.com and sets AWS_ROLE_ARN / AWS_WEB_IDENTITY_TOKEN_FILE in the restore, the sidecar and the verify Job; no static key anywhere', async () => {
  const role = 'arn:aws:iam::123456789012:role/my-app-litestream';
  const objects = await render({
    values: [example('aws-irsa.yaml')],
    set: ['restore.irsa.tokenProjection.enabled=true', 'restore.irsa.tokenProjection.expirationSeconds=3600'],
  });
  const spec = pod(objects);
  const verifyPod = podSpecOf(find(objects, 'CronJob'))!;
  const irsaEnv = {
    AWS_ROLE_ARN: role,
    AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
    AWS_STS_REGIONAL_ENDPOINTS: 'regional',
  };
  const tokenMount = { name: 'aws-iam-token', mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount', readOnly: true };
  const tokenVolume = {
    name: 'aws-iam-token',
    projected: { sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', expirationSeconds: 3600, path: 'token' } }] },
  };
  for (const c of [restoreContainer(spec), spec.initContainers![1]!, verifyPod.containers[0]!]) {
    const env = envMap(c);
    for (const [k, v] of Object.entries(irsaEnv)) assert.equal(env[k], v, `${c.name}: ${k}`);
    assert.deepEqual(Object.keys(env).filter((k) => /^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)$/.test(k)), [], `${c.name}: no static key`);
    assert.ok(c.volumeMounts?.some((m) => JSON.stringify(m) === JSON.stringify(tokenMount)), `${c.name} mounts the token`);
  }
  assert.ok(spec.volumes?.some((v) => JSON.stringify(v) === JSON.stringify(tokenVolume)), 'the pod projects the token');
  assert.ok(verifyPod.volumes?.some((v) => JSON.stringify(v) === JSON.stringify(tokenVolume)), 'the verify pod projects the token');
  assert.equal(spec.automountServiceAccountToken, false, 'the projected token is not the API token');
  assert.doesNotMatch(JSON.stringify(objects), /secretKeyRef|AWS_SECRET_ACCESS_KEY/, 'no static key anywhere in the release');
  // Off by default: EKS's webhook injects the same.
  assert.equal(envMap(restoreContainer(pod(await render({ values: [example('aws-irsa.yaml')] })))).AWS_ROLE_ARN, undefined);
});

test('the verify CronJob: verify on a scratch emptyDir with the restore\'s replica settings; its Job fails at once on 65/66/69/77/78 and retries the rest (75)', async () => {
  const objects = await render({ values: [example('minio.yaml')], set: ['restore.logLevel=debug', 'restore.target.time=2026-03-01T12:00:00Z', 'hostNetwork=true'] });
  const cron = find(objects, 'CronJob');
  assert.equal(cron.metadata.name, 'demo-example-app-backup-verify');
  const spec = cron.spec as {
    schedule: string;
    concurrencyPolicy: string;
    jobTemplate: { spec: { backoffLimit: number; activeDeadlineSeconds: number; podFailurePolicy: unknown; template: { metadata: { labels: Record<string, string> } } } };
  };
  assert.equal(spec.schedule, '17 3 * * *');
  assert.equal(spec.concurrencyPolicy, 'Forbid');
  const job = spec.jobTemplate.spec;
  assert.equal(job.backoffLimit, 2);
  assert.equal(job.activeDeadlineSeconds, 3600);
  assert.deepEqual(job.podFailurePolicy, {
    rules: [
      { action: 'FailJob', onExitCodes: { containerName: 'verify', operator: 'In', values: [65, 66, 69, 77, 78] } },
      { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
    ],
  });
  const sts = find(objects, 'StatefulSet').spec as { selector: { matchLabels: Record<string, string> } };
  const labels = job.template.metadata.labels;
  assert.ok(
    Object.entries(sts.selector.matchLabels).some(([k, v]) => labels[k] !== v),
    "the verify pods are not selected by the StatefulSet's selector (nor its Service)",
  );
  const podSpec = podSpecOf(cron)! as PodSpec & { restartPolicy?: string; hostNetwork?: boolean };
  assert.equal(podSpec.restartPolicy, 'Never', 'podFailurePolicy needs restartPolicy Never');
  assert.equal(podSpec.hostNetwork, true, 'the pod network of the app');
  assert.equal(podSpec.automountServiceAccountToken, false);
  assert.equal(podSpec.serviceAccountName, pod(objects).serviceAccountName);
  const [c, ...others] = podSpec.containers;
  assert.equal(others.length, 0);
  assert.deepEqual(c!.args, ['verify']);
  assert.equal(c!.image, restoreContainer(pod(objects)).image);
  assert.deepEqual(envMap(c!), {
    SQLITE_RESTORE_REPLICA_URL: 's3://backups/my-app/app.db',
    SQLITE_RESTORE_DB_PATH: '/data/app.db',
    SQLITE_RESTORE_S3_ENDPOINT: 'http://minio.minio.svc.cluster.local:9000',
    SQLITE_RESTORE_S3_FORCE_PATH_STYLE: 'true',
    SQLITE_RESTORE_LOG_LEVEL: 'debug',
    SQLITE_RESTORE_TARGET_TIME: '2026-03-01T12:00:00Z',
    SQLITE_RESTORE_VERIFY_DIR: '/scratch',
    SQLITE_RESTORE_MAX_AGE: '26h',
    SQLITE_RESTORE_TIMEOUT_SECONDS: '3000',
    AWS_ACCESS_KEY_ID: 'secret:minio-credentials/AWS_ACCESS_KEY_ID',
    AWS_SECRET_ACCESS_KEY: 'secret:minio-credentials/AWS_SECRET_ACCESS_KEY',
  });
  for (const name of Object.keys(envMap(c!)).filter((k) => k.startsWith('SQLITE_'))) {
    assert.ok((CONFIG_VARIABLES as readonly string[]).includes(name), `${name} is a variable the tool reads`);
  }
  assert.deepEqual(c!.volumeMounts, [{ name: 'scratch', mountPath: '/scratch' }]);
  assert.deepEqual(podSpec.volumes, [{ name: 'scratch', emptyDir: { sizeLimit: '2Gi' } }]);
  assert.deepEqual(c!.securityContext, HARDENED);
  assert.equal(c!.terminationMessagePolicy, 'FallbackToLogsOnError');

  // The Job's settings and the scratch directory from values.
  const tuned = podSpecOf(
    find(
      await render({
        set: [
          'restore.verifyDir=/var/scratch',
          'restore.verifyJob.backoffLimit=5',
          'restore.verifyJob.failFastExitCodes={65,66,70,74,77,78}',
          'restore.verifyJob.scratchSizeLimit=20Gi',
          'restore.verifyJob.timeoutSeconds=600',
          'restore.verifyJob.activeDeadlineSeconds=900',
        ],
      }),
      'CronJob',
    ),
  )!;
  const t = tuned.containers[0]!;
  assert.equal(envMap(t).SQLITE_RESTORE_VERIFY_DIR, '/var/scratch');
  assert.equal(envMap(t).SQLITE_RESTORE_TIMEOUT_SECONDS, '600');
  assert.deepEqual(t.volumeMounts, [{ name: 'scratch', mountPath: '/var/scratch' }]);
  assert.deepEqual(tuned.volumes, [{ name: 'scratch', emptyDir: { sizeLimit: '20Gi' } }]);
  const off = await render({ set: ['verifyCronJob.enabled=false'] });
  assert.deepEqual(off.filter((o) => o.kind === 'CronJob'), []);
});

test('hostNetwork (off by default) puts the pod in the node network with the matching DNS policy', async () => {
  const off = pod(await render()) as PodSpec & { hostNetwork?: boolean; dnsPolicy?: string };
  assert.equal(off.hostNetwork, undefined);
  assert.equal(off.dnsPolicy, undefined);
  const on = pod(await render({ set: ['hostNetwork=true'] })) as PodSpec & { hostNetwork?: boolean; dnsPolicy?: string };
  assert.equal(on.hostNetwork, true);
  assert.equal(on.dnsPolicy, 'ClusterFirstWithHostNet', 'without it a hostNetwork pod would not use the cluster DNS');
  const r = await helm(['template', 'demo', exampleChart, '--set-string', 'hostNetwork=yes']);
  assert.notEqual(r.code, 0, 'hostNetwork must be a boolean');
  assert.match(r.stderr, /hostNetwork/);
});

test('numbers where a number is natural: a TXID, a WAL index, seconds', async () => {
  const env = async (set: string[]): Promise<Record<string, string>> =>
    envMap(restoreContainer(pod(await render({ set: ['restore.replicaUrl=s3://b-1/p', ...set] }))));
  assert.equal((await env(['restore.target.txid=12'])).SQLITE_RESTORE_TARGET_TXID, '12');
  // A WAL index is hex: 12 (a number to Helm) and 00000012 (a string) name the same one.
  for (const index of ['12', '00000012']) {
    const byIndex = await env(['restore.target.generation=d6c4f0d7dfecb368', `restore.target.index=${index}`]);
    assert.equal(byIndex.SQLITE_RESTORE_TARGET_INDEX, index);
  }
  assert.equal((await env(['restore.progressSeconds=30', 'restore.maxAge=3600'])).SQLITE_RESTORE_MAX_AGE, '3600');
});

test("example chart: imagePullSecrets, podLabels, podAnnotations, nodeSelector, tolerations and affinity reach the pod; the verify Job's pods get the pull secrets, labels, nodeSelector, tolerations and nodeAffinity; global.imageRegistry reaches every image", async () => {
  const file = path.join(work, 'scheduling.yaml');
  const nodeAffinity = {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [{ matchExpressions: [{ key: 'disktype', operator: 'In', values: ['ssd'] }] }],
    },
  };
  const podAntiAffinity = {
    requiredDuringSchedulingIgnoredDuringExecution: [
      { labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'example-app' } }, topologyKey: 'kubernetes.io/hostname' },
    ],
  };
  const tolerations = [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }];
  await writeFile(
    file,
    [
      'global:',
      '  imageRegistry: registry.example.com',
      '  imagePullSecrets: [global-regcred]',
      'imagePullSecrets: [{name: regcred}, global-regcred]',
      // numbers and booleans, as a values file or --set gives them: rendered as the strings the API takes
      'podLabels: {team: storage, tier: 1, app.kubernetes.io/name: not-the-selector}',
      'podAnnotations: {prometheus.io/port: 9090, example.com/audited: true}',
      'nodeSelector: {kubernetes.io/arch: arm64, pool: 2}',
      `tolerations: ${JSON.stringify(tolerations)}`,
      `affinity: ${JSON.stringify({ nodeAffinity, podAntiAffinity })}`,
      'app:',
      '  image: {repository: my-app, tag: 22}',
      '',
    ].join('\n'),
  );
  await helmOk(['lint', '--strict', exampleChart, '-f', file]);
  const objects = await render({ values: [file] });
  const sts = find(objects, 'StatefulSet').spec as { template: { metadata: { labels: Record<string, string>; annotations: Record<string, string> } } };
  const spec = pod(objects) as ScheduledPodSpec;
  assert.deepEqual(spec.imagePullSecrets, [{ name: 'global-regcred' }, { name: 'regcred' }], 'global first, then the chart\'s own, once each');
  assert.deepEqual(spec.nodeSelector, { 'kubernetes.io/arch': 'arm64', pool: '2' });
  assert.deepEqual(spec.tolerations, tolerations);
  assert.deepEqual(spec.affinity, { nodeAffinity, podAntiAffinity });
  assert.deepEqual(
    sts.template.metadata.labels,
    { 'app.kubernetes.io/name': 'example-app', 'app.kubernetes.io/instance': 'demo', team: 'storage', tier: '1' },
    'podLabels under the selector labels, which win',
  );
  assert.equal(sts.template.metadata.annotations['prometheus.io/port'], '9090');
  assert.equal(sts.template.metadata.annotations['example.com/audited'], 'true');
  assert.ok(sts.template.metadata.annotations['sqlite-s3-restore/litestream.yml'], "the sidecar's configuration stays");
  assert.deepEqual(
    [...(spec.initContainers ?? []), ...spec.containers].map((c) => [c.name, c.image]),
    [
      ['restore', 'registry.example.com/sqlite-s3-restore:0.1.0'],
      ['litestream', 'registry.example.com/litestream/litestream:0.3.13'],
      ['app', 'registry.example.com/my-app:22'],
    ],
  );

  const cron = find(objects, 'CronJob');
  const verify = podSpecOf(cron) as ScheduledPodSpec;
  assert.deepEqual(verify.imagePullSecrets, spec.imagePullSecrets);
  assert.deepEqual(verify.nodeSelector, spec.nodeSelector);
  assert.deepEqual(verify.tolerations, spec.tolerations);
  assert.deepEqual(verify.affinity, { nodeAffinity }, "the app's nodes, not its place among other pods");
  assert.equal(verify.containers[0]!.image, 'registry.example.com/sqlite-s3-restore:0.1.0');
  const verifyLabels = (cron.spec as { jobTemplate: { spec: { template: { metadata: { labels: Record<string, string> } } } } }).jobTemplate.spec.template.metadata.labels;
  assert.deepEqual(verifyLabels, { 'app.kubernetes.io/instance': 'demo', 'app.kubernetes.io/component': 'backup-verify', team: 'storage', tier: '1' }, 'never the selector labels');

  // Off by default: none of these fields.
  const plain = await render();
  for (const s of [pod(plain), podSpecOf(find(plain, 'CronJob'))!] as ScheduledPodSpec[]) {
    assert.deepEqual([s.imagePullSecrets, s.nodeSelector, s.tolerations, s.affinity], [undefined, undefined, undefined, undefined]);
  }
});

test('persistence.existingClaim: the data volume is that claim and the StatefulSet has no volumeClaimTemplate (restore.database.volume likewise); not both', async () => {
  const objects = await render({ set: ['persistence.existingClaim=my-data'] });
  const sts = find(objects, 'StatefulSet').spec as { replicas: number; volumeClaimTemplates?: unknown };
  assert.equal(sts.volumeClaimTemplates, undefined, 'the StatefulSet would otherwise put its own claim in place of the volume');
  assert.equal(sts.replicas, 1);
  const spec = pod(objects);
  assert.deepEqual(spec.volumes?.filter((v) => v.name === 'data'), [{ name: 'data', persistentVolumeClaim: { claimName: 'my-data' } }]);
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    assert.ok(c.volumeMounts?.some((m) => m.name === 'data' && m.mountPath === '/data'), `${c.name} mounts the claim`);
  }
  const renamed = pod(await render({ set: ['persistence.existingClaim=my-data', 'restore.database.volumeName=db'] }));
  assert.deepEqual(renamed.volumes?.filter((v) => v.name === 'db'), [{ name: 'db', persistentVolumeClaim: { claimName: 'my-data' } }]);

  const ephemeral = await render({ set: ['restore.database.volume.emptyDir.sizeLimit=1Gi'] });
  assert.equal((find(ephemeral, 'StatefulSet').spec as { volumeClaimTemplates?: unknown }).volumeClaimTemplates, undefined);
  assert.deepEqual(pod(ephemeral).volumes?.filter((v) => v.name === 'data'), [{ name: 'data', emptyDir: { sizeLimit: '1Gi' } }]);

  const both = await helm(['template', 'demo', exampleChart, '--set', 'persistence.existingClaim=my-data', '--set', 'restore.database.volume.emptyDir.sizeLimit=1Gi']);
  assert.notEqual(both.code, 0);
  assert.match(both.stderr, /either persistence.existingClaim or restore.database.volume, not both/);
});

test('values.schema.json and the templates reject bad values', async () => {
  const cases: Array<{ set: string[]; error: RegExp }> = [
    { set: ['restore.verify=sometimes'], error: /verify/ },
    { set: ['restore.ifExists=replace'], error: /ifExists/ },
    { set: ['restore.ifNoBackup=ignore'], error: /ifNoBackup/ },
    { set: ['restore.concurrency=65'], error: /concurrency/ },
    { set: ['restore.timeoutSeconds=0'], error: /timeoutSeconds/ },
    { set: ['restore.layout=litestream-v0.4'], error: /layout/ },
    { set: ['restore.target.time=yesterday'], error: /time/ },
    { set: ['restore.target.generation=XYZ'], error: /generation/ },
    { set: ['restore.target.match=nearest'], error: /match/ },
    { set: ['restore.target.time=2026-03-01T12:00:00Z', 'restore.target.txid=0x2a'], error: /only one kind of restore target/ },
    { set: ['restore.target.index=0000002a'], error: /target.index needs target.generation/ },
    { set: ['restore.target.match=exact'], error: /target.match is set but no target is/ },
    { set: ['restore.fileMode=644'], error: /fileMode/ }, // a number: must be a quoted string
    { set: ['restore.retryWindowSeconds=3601'], error: /retryWindowSeconds/ },
    { set: ['restore.maxAge=4 hours'], error: /maxAge/ },
    { set: ['restore.progressSeconds=0'], error: /progressSeconds/ },
    { set: ['restore.target.txid=0'], error: /txid/ },
    { set: ['restore.replicaUrl=https://bucket.s3.amazonaws.com/db'], error: /replicaUrl/ },
    { set: ['restore.replicaUrl=s3://Bad_Bucket/db'], error: /replicaUrl/ },
    { set: ['restore.verfy=full'], error: /verfy/ },
    { set: ['restore.s3.endpoint=minio:9000'], error: /endpoint/ },
    { set: ['restore.irsa.roleArn=my-role'], error: /roleArn/ },
    { set: ['restore.irsa.tokenProjection.enabled=true'], error: /tokenProjection.enabled needs irsa.roleArn/ },
    { set: ['restore.irsa.tokenProjection.expirationSeconds=60'], error: /expirationSeconds/ },
    { set: ['restore.litestream.configVersion=v0.4'], error: /configVersion/ },
    { set: ['restore.litestream.syncInterval=1 second'], error: /syncInterval/ },
    { set: ['restore.layout=zlayer'], error: /zlayer is written by zlayer-storage, not by the Litestream sidecar/ },
    { set: ['restore.layout=litestream-v0.5'], error: /does not match the Litestream sidecar's litestream.configVersion v0.3/ },
    { set: ['restore.verifyJob.timeoutSeconds=3600'], error: /timeoutSeconds \(3600\) must be below verifyJob.activeDeadlineSeconds/ },
    { set: ['restore.verifyJob.failFastExitCodes={65,300}'], error: /failFastExitCodes/ },
    { set: ['verifyCronJob.schedule='], error: /schedule/ },
    { set: ['replicaCount=2'], error: /replicaCount/ },
    { set: ['restore.database.path=/var/app.db'], error: /must be inside database.mountPath/ },
    {
      set: ['restore.credentials.existingSecret=keys', 'restore.irsa.roleArn=arn:aws:iam::123456789012:role/r'],
      error: /either credentials.existingSecret .* or irsa.roleArn/,
    },
    { set: ['imagePullSecrets[0].nam=regcred'], error: /imagePullSecrets/ },
    { set: ['global.imagePullSecrets[0].nam=regcred'], error: /imagePullSecrets/ },
    { set: ['global.imageRegistry=registry example com'], error: /imageRegistry/ },
    { set: ['tolerations=dedicated'], error: /tolerations/ },
    { set: ['affinity.nodeAfinity.x=1'], error: /affinity|nodeAfinity/ },
    { set: ['podLabels.team.name=storage'], error: /podLabels/ },
    { set: ['nodeSelector.pool.name=db'], error: /nodeSelector/ },
    { set: ['podAnnotations.a.b=c'], error: /podAnnotations/ },
    { set: ['persistence.existingClaim=My_Claim'], error: /existingClaim/ },
  ];
  for (const { set, error } of cases) {
    const args = ['template', 'demo', exampleChart];
    for (const s of set) args.push('--set', s);
    const r = await helm(args);
    assert.notEqual(r.code, 0, `helm template --set ${set.join(' ')} should fail`);
    assert.match(r.stderr, error, `helm template --set ${set.join(' ')}: ${r.stderr}`);
  }
  // The classic mistake: an unquoted 0644 in a values file is a YAML number.
  const unquoted = path.join(work, 'unquoted-mode.yaml');
  await writeFile(unquoted, 'restore:\n  fileMode: 0644\n');
  const r = await helm(['template', 'demo', exampleChart, '-f', unquoted]);
  assert.notEqual(r.code, 0, 'fileMode: 0644 (unquoted) should fail');
  assert.match(r.stderr, /fileMode/);
  // An image tag that YAML reads as a decimal number would lose digits (1.10 -> 1.1): quote it. A whole number is fine.
  const decimalTag = path.join(work, 'decimal-tag.yaml');
  await writeFile(decimalTag, 'app:\n  image:\n    repository: my-app\n    tag: 1.10\n');
  const tag = await helm(['template', 'demo', exampleChart, '-f', decimalTag]);
  assert.notEqual(tag.code, 0, 'tag: 1.10 (unquoted) should fail');
  assert.match(tag.stderr, /tag/);
  for (const key of ['app.image.tag', 'restore.image.tag', 'restore.litestream.image.tag']) {
    await helmOk(['lint', '--strict', exampleChart, '--set', `${key}=22`]);
  }
  // And helm lint reports the same.
  const lint = await helm(['lint', exampleChart, '--set', 'restore.verify=sometimes']);
  assert.notEqual(lint.code, 0);
  assert.match(lint.stdout + lint.stderr, /verify/);
});

test('the library from a chart of your own: minimal values, an emptyDir data volume, a file:// replica', async () => {
  const chart = path.join(work, 'consumer');
  await mkdir(path.join(chart, 'templates'), { recursive: true });
  await mkdir(path.join(chart, 'charts'), { recursive: true });
  await cp(libraryChart, path.join(chart, 'charts', 'sqlite-s3-restore'), { recursive: true });
  await writeFile(path.join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: consumer\nversion: 1.0.0\ndependencies:\n  - name: sqlite-s3-restore\n    version: 0.1.0\n    repository: file://../sqlite-s3-restore\n');
  await writeFile(
    path.join(chart, 'values.yaml'),
    [
      'db:',
      '  replicaUrl: file:///backups/app',
      '  database: {volumeName: db, mountPath: /var/lib/app, path: /var/lib/app/app.db, volume: {emptyDir: {}}}',
      '  extraVolumes: [{name: backups, persistentVolumeClaim: {claimName: backups, readOnly: true}}]',
      '  extraVolumeMounts: [{name: backups, mountPath: /backups, readOnly: true}]',
      '  extraEnv: [{name: SQLITE_RESTORE_S3_REGION, value: eu-north-1}]',
      '',
    ].join('\n'),
  );
  await writeFile(
    path.join(chart, 'templates', 'pod.yaml'),
    [
      'apiVersion: v1',
      'kind: Pod',
      'metadata: {name: consumer}',
      'spec:',
      '  initContainers:',
      '    {{- include "sqlite-s3-restore.initContainer" .Values.db | nindent 4 }}',
      '  containers:',
      '    - name: app',
      '      image: busybox',
      '      volumeMounts:',
      '        {{- include "sqlite-s3-restore.volumeMounts" .Values.db | nindent 8 }}',
      '  volumes:',
      '    {{- include "sqlite-s3-restore.volumes" .Values.db | nindent 4 }}',
      '---',
      'apiVersion: v1',
      'kind: ConfigMap',
      'metadata: {name: defaults}',
      'data:',
      '  defaults: {{ include "sqlite-s3-restore.defaults" . | quote }}',
      '  minimal: {{ include "sqlite-s3-restore.env" (dict "replicaUrl" "s3://b-1/p") | quote }}',
      '',
    ].join('\n'),
  );
  await helmOk(['lint', '--strict', chart]);
  const objects = await render({ chart });
  const podSpec = podSpecOf(find(objects, 'Pod'))!;
  const c = restoreContainer(podSpec);
  assert.deepEqual(envMap(c), {
    ...DEFAULT_ENV,
    SQLITE_RESTORE_REPLICA_URL: 'file:///backups/app',
    SQLITE_RESTORE_DB_PATH: '/var/lib/app/app.db',
    SQLITE_RESTORE_S3_REGION: 'eu-north-1',
  });
  assert.deepEqual(c.volumeMounts, [
    { name: 'db', mountPath: '/var/lib/app' },
    { name: 'backups', mountPath: '/backups', readOnly: true },
  ]);
  assert.deepEqual(c.securityContext, HARDENED);
  assert.deepEqual(podSpec.volumes, [
    { name: 'db', emptyDir: {} },
    { name: 'backups', persistentVolumeClaim: { claimName: 'backups', readOnly: true } },
  ]);

  // The defaults the templates apply are the ones the library's values.yaml documents.
  const data = find(objects, 'ConfigMap').data as { defaults: string; minimal: string };
  const documented: unknown = parseYaml(await readFile(path.join(libraryChart, 'values.yaml'), 'utf8'));
  assert.deepEqual(parseYaml(data.defaults), documented);
  // Only replicaUrl given: the tool's defaults, nothing else.
  const minimal = parseYaml(data.minimal) as Array<{ name: string; value: string }>;
  assert.deepEqual(Object.fromEntries(minimal.map((e) => [e.name, e.value])), {
    ...DEFAULT_ENV,
    SQLITE_RESTORE_REPLICA_URL: 's3://b-1/p',
  });
});

/** The public templates listed at the top of the library's _restore.tpl. */
async function publicTemplates(): Promise<string[]> {
  const tpl = await readFile(path.join(libraryChart, 'templates', '_restore.tpl'), 'utf8');
  const header = tpl.slice(tpl.indexOf('Public templates:'), tpl.indexOf('*/}}'));
  return [...header.matchAll(/^ {2}(sqlite-s3-restore\.\w+)\s/gm)].map((m) => m[1]!);
}

test('the library with the root context, (dict "values" .Values.restore "context" $): every public template renders what the values dict alone renders, plus global.imageRegistry and the pull secrets', async () => {
  const names = await publicTemplates();
  assert.ok(names.length >= 14 && names.includes('sqlite-s3-restore.imagePullSecrets'), `the list at the top of _restore.tpl: ${names.join(' ')}`);
  const templates = (await Promise.all(['_restore.tpl', '_litestream.tpl', '_verify.tpl'].map((f) => readFile(path.join(libraryChart, 'templates', f), 'utf8')))).join('\n');
  for (const n of names) assert.ok(templates.includes(`{{- define "${n}" -}}`), `${n} is defined`);
  const chart = await consumerChart(
    'forms',
    [
      'imagePullSecrets: [{name: own}, shared]',
      'restore:',
      '  replicaUrl: s3://b-1/p',
      '  litestream: {enabled: true}',
      '  irsa: {roleArn: "arn:aws:iam::123456789012:role/r", tokenProjection: {enabled: true}}',
      '',
    ].join('\n'),
    {
      'forms.yaml': [
        'apiVersion: v1',
        'kind: ConfigMap',
        'metadata: {name: forms}',
        'data:',
        `{{- range list ${names.map((n) => JSON.stringify(n)).join(' ')} }}`,
        '  old.{{ . }}: {{ include . $.Values.restore | quote }}',
        '  new.{{ . }}: {{ include . (dict "values" $.Values.restore "context" $) | quote }}',
        '{{- end }}',
        '',
      ].join('\n'),
    },
  );
  await helmOk(['lint', '--strict', chart]);
  const forms = async (set: string[] = []): Promise<Record<string, string>> => find(await render({ chart, set }), 'ConfigMap').data as Record<string, string>;
  const images = (text: string | undefined): string[] => (parseYaml(text ?? '') as Container[]).map((c) => c.image ?? '');
  const withoutImages = (text: string | undefined): string => (text ?? '').replace(/^(\s*)image: .*$/gm, '$1image: <image>');
  const pullSecrets = 'sqlite-s3-restore.imagePullSecrets';

  const plain = await forms();
  for (const n of names.filter((n) => n !== pullSecrets)) assert.equal(plain[`new.${n}`], plain[`old.${n}`], `${n}: both forms render the same`);
  assert.equal(plain[`old.${pullSecrets}`], '', 'the values alone: no context, no pull secrets');
  assert.deepEqual(parseYaml(plain[`new.${pullSecrets}`]!), [{ name: 'own' }, { name: 'shared' }], "the chart's own imagePullSecrets, names or {name}");

  const mirror = 'registry.example.com/mirror';
  const global = await forms([`global.imageRegistry=${mirror}/`, 'global.imagePullSecrets[0]=shared', 'global.imagePullSecrets[1].name=global-only']);
  assert.equal(global['old.sqlite-s3-restore.image'], 'sqlite-s3-restore:0.1.0', 'the values alone: global is out of reach');
  assert.equal(global['new.sqlite-s3-restore.image'], `${mirror}/sqlite-s3-restore:0.1.0`);
  assert.deepEqual(images(global['new.sqlite-s3-restore.initContainer']), [`${mirror}/sqlite-s3-restore:0.1.0`]);
  assert.deepEqual(images(global['new.sqlite-s3-restore.litestreamSidecar']), [`${mirror}/litestream/litestream:0.3.13`]);
  assert.deepEqual(images(global['new.sqlite-s3-restore.verifyContainer']), [`${mirror}/sqlite-s3-restore:0.1.0`]);
  for (const n of names.filter((n) => n !== pullSecrets && n !== 'sqlite-s3-restore.image')) {
    assert.equal(withoutImages(global[`new.${n}`]), withoutImages(plain[`old.${n}`]), `${n}: only the image differs`);
  }
  assert.deepEqual(parseYaml(global[`new.${pullSecrets}`]!), [{ name: 'shared' }, { name: 'global-only' }, { name: 'own' }], 'global first, each once');

  // Docker's rule: a first path component with a dot or a colon, or localhost, is a registry already.
  for (const [set, expected] of [
    [['restore.image.repository=me/sqlite-s3-restore'], 'registry.example.com/me/sqlite-s3-restore:0.1.0'],
    [['restore.image.repository=ghcr.io/me/sqlite-s3-restore'], 'ghcr.io/me/sqlite-s3-restore:0.1.0'],
    [['restore.image.repository=localhost:5000/sqlite-s3-restore'], 'localhost:5000/sqlite-s3-restore:0.1.0'],
    [['restore.image.repository=localhost/sqlite-s3-restore'], 'localhost/sqlite-s3-restore:0.1.0'],
    [[`restore.image.digest=sha256:${'ab'.repeat(32)}`], `registry.example.com/sqlite-s3-restore@sha256:${'ab'.repeat(32)}`],
    [['restore.image.tag=22'], 'registry.example.com/sqlite-s3-restore:22'],
  ] as const) {
    const out = await forms(['global.imageRegistry=registry.example.com', ...set]);
    assert.equal(out['new.sqlite-s3-restore.image'], expected, set.join(' '));
  }
});

test('the library refuses a call it cannot read, and says how to call it', async () => {
  const call = (when: string, arg: string, template = 'initContainer'): string =>
    `{{- if eq .Values.call "${when}" }}{{ include "sqlite-s3-restore.${template}" ${arg} }}{{ end }}\n`;
  const chart = await consumerChart('bad-calls', 'call: ""\nrestore: {replicaUrl: "s3://b-1/p"}\n', {
    'calls.yaml':
      call('root', '$') +
      call('typo', '(dict "values" .Values.restore "contxt" $)') +
      call('values-as-context', '(dict "values" .Values.restore "context" .Values)') +
      call('a-string', '"restore"') +
      call('pull-secrets', '(dict "values" .Values.restore "context" $)', 'imagePullSecrets'),
  });
  const usage = /pass \(dict "values" \.Values\.restore "context" \$\) or the restore values dict alone/;
  for (const [set, error] of [
    [['call=root'], /got the root context alone/],
    [['call=typo'], /unknown key "contxt" in the call/],
    [['call=values-as-context'], /"context" must be your chart's root context/],
    [['call=a-string'], /not a string/],
    [['call=pull-secrets', 'global.imagePullSecrets=regcred'], /global.imagePullSecrets must be a list of names or \{name: \.\.\.\}/],
    [['call=pull-secrets', 'imagePullSecrets[0].secret=regcred'], /imagePullSecrets: each entry is a secret name or \{name: \.\.\.\}/],
  ] as const) {
    const r = await helm(['template', 'x', chart, ...set.flatMap((s) => ['--set', s])]);
    assert.notEqual(r.code, 0, set.join(' '));
    assert.match(r.stderr, error, set.join(' '));
    if (!set[0].includes('pull-secrets')) assert.match(r.stderr, usage);
  }
  await helmOk(['template', 'x', chart, '--set', 'call=pull-secrets']);
});

test("deploy/README.md: the library's calling convention renders as shown, every public template is listed, the Dockerfile's ENTRYPOINT is quoted as it is, and the troubleshooting points are there", async () => {
  const readme = await readFile(path.join(deployDir, 'README.md'), 'utf8');
  const library = readme.slice(readme.indexOf('## Helm library chart'), readme.indexOf('## Example application chart'));
  for (const n of await publicTemplates()) {
    assert.ok(library.includes(`\`${n}\``) || library.includes(`\`.${n.split('.')[1]}\``), `${n} in the table`);
  }
  const snippet = /```yaml\n(spec:\n[\s\S]*?)```/.exec(library)?.[1];
  assert.ok(snippet?.includes('dict "values" .Values.restore "context" $'), 'the call with the context');
  const chart = await consumerChart('deploy-readme', 'imagePullSecrets: [regcred]\nrestore:\n  replicaUrl: s3://b-1/p\n  database: {volume: {emptyDir: {}}}\n', {
    'pod.yaml': `apiVersion: v1\nkind: Pod\nmetadata: {name: doc}\n${snippet}  containers: [{name: app, image: my-app}]\n  volumes:\n    {{- include "sqlite-s3-restore.volumes" (dict "values" .Values.restore "context" $) | nindent 4 }}\n`,
  });
  const spec = podSpecOf(find(await render({ chart, set: ['global.imageRegistry=registry.example.com'] }), 'Pod')) as ScheduledPodSpec;
  assert.deepEqual(spec.imagePullSecrets, [{ name: 'regcred' }]);
  assert.deepEqual(spec.initContainers?.map((c) => [c.name, c.image]), [['restore', 'registry.example.com/sqlite-s3-restore:0.1.0']]);

  const dockerfile = await readFile(path.join(repoRoot, 'Dockerfile'), 'utf8');
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
  assert.ok(entrypoint, "the Dockerfile's ENTRYPOINT");
  const quoted = /`ENTRYPOINT (\[[^\]]*\])`/.exec(readme)?.[1];
  assert.ok(quoted, 'deploy/README.md quotes the ENTRYPOINT');
  assert.deepEqual(JSON.parse(quoted.replace(/\s*\n\s*/g, ' ')), JSON.parse(entrypoint), 'the same ENTRYPOINT, node flags included');

  const troubleshooting = readme.slice(readme.indexOf('## Troubleshooting'), readme.indexOf('## Plain manifests'));
  assert.match(troubleshooting, /Exit 74[\s\S]*hostPath[\s\S]*fsGroup[\s\S]*chown 65532:65532[\s\S]*runAsUser[\s\S]*fileUid[\s\S]*PersistentVolumeClaim/);
  assert.match(troubleshooting, /helm upgrade[\s\S]*OrderedReady[\s\S]*kubectl delete pod/);
  assert.match(troubleshooting, /restore says `skipped`[\s\S]*helm uninstall` keeps[\s\S]*kubectl delete pvc/);
  assert.match(troubleshooting, /ifNoBackup=allow[\s\S]*mistyped prefix/);
});

test("docs/kubernetes.md's pod template for your own chart renders a valid pod, with and without the Litestream sidecar", async () => {
  const readme = await readFile(path.join(repoRoot, 'docs', 'kubernetes.md'), 'utf8');
  const snippet = /```yaml\n# templates\/statefulset.yaml, the pod template\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(snippet, "docs/kubernetes.md's pod template snippet");
  assert.ok(!snippet.includes('.Values.restore |'), 'the snippet passes the root context (global.imageRegistry, pull secrets)');
  const chart = path.join(work, 'readme-consumer');
  await mkdir(path.join(chart, 'templates'), { recursive: true });
  await mkdir(path.join(chart, 'charts'), { recursive: true });
  await cp(libraryChart, path.join(chart, 'charts', 'sqlite-s3-restore'), { recursive: true });
  await writeFile(path.join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: readme-consumer\nversion: 1.0.0\ndependencies:\n  - name: sqlite-s3-restore\n    version: 0.1.0\n    repository: file://../sqlite-s3-restore\n');
  await writeFile(path.join(chart, 'values.yaml'), 'restore:\n  replicaUrl: s3://my-company-backups/my-app/app.db\n  database: {volumeName: data, mountPath: /data, path: /data/app.db, volume: {emptyDir: {}}}\n');
  const app = ['    - name: app', '      image: my-app', '      volumeMounts: [{name: data, mountPath: /data}]', ''].join('\n');
  await writeFile(path.join(chart, 'templates', 'pod.yaml'), `apiVersion: v1\nkind: Pod\n${snippet.replace(/^metadata:\n/, 'metadata:\n  name: readme\n').replace(/\n  volumes:/, `\n  containers:\n${app}  volumes:`)}`);
  for (const enabled of [true, false]) {
    const objects = await render({ chart, set: [`restore.litestream.enabled=${enabled}`] });
    const p = find(objects, 'Pod');
    const spec = podSpecOf(p)!;
    assert.deepEqual(spec.initContainers?.map((c) => c.name), enabled ? ['restore', 'litestream'] : ['restore']);
    assert.deepEqual(spec.volumes?.map((v) => v.name), enabled ? ['data', 'litestream-config'] : ['data']);
    assert.equal(Boolean(p.metadata.annotations?.['sqlite-s3-restore/litestream.yml']), enabled);
  }
});

test("the example chart's restore schema is the library's (replicaUrl required there)", async () => {
  const lib = JSON.parse(await readFile(path.join(libraryChart, 'values.schema.json'), 'utf8'));
  const ex = JSON.parse(await readFile(path.join(exampleChart, 'values.schema.json'), 'utf8'));
  const restore = ex.properties.restore;
  assert.deepEqual(restore.required, ['replicaUrl']);
  const { global: _global, replicaUrl: libUrl, ...libRest } = lib.properties;
  const { replicaUrl: exUrl, ...exRest } = restore.properties;
  assert.deepEqual(exRest, libRest, 'copy the library schema into example-app/values.schema.json');
  assert.equal(exUrl.pattern.replace(/\)\$$/, ')?$'), libUrl.pattern, 'the same URL pattern, empty allowed only in the library');
  assert.equal(restore.additionalProperties, false);
});

// The keys that map to SQLITE_RESTORE_* variables: their schema entries come from the settings table
// in src/ and are checked against it there.
const SETTING_KEYS = new Set([
  'replicaUrl', 'layout', 'database.path', 'ifExists', 'ifNoBackup', 'verify', 'markerPath', 'timeoutSeconds', 'idleTimeoutSeconds',
  'concurrency', 'maxAttempts', 'retryWindowSeconds', 'fileMode', 'fileUid', 'fileGid', 'logLevel', 'target', 'verifyDir', 's3',
  'maxAge', 'progressSeconds',
]);

interface SchemaNode {
  description?: string;
  default?: unknown;
  properties?: Record<string, SchemaNode>;
}

/** Keys below `schema` without a description, or (unless they have properties) without a default equal to `values`. */
function undocumented(schema: SchemaNode, prefix: string, values: unknown, noDefault: Set<string>, problems: string[]): string[] {
  for (const [key, node] of Object.entries(schema.properties ?? {})) {
    const at = prefix ? `${prefix}.${key}` : key;
    if (SETTING_KEYS.has(at)) continue;
    if (typeof node.description !== 'string' || node.description === '') problems.push(`${at}: no description`);
    const value = values !== null && typeof values === 'object' ? (values as Record<string, unknown>)[key] : undefined;
    if (node.properties) {
      undocumented(node, at, value, noDefault, problems);
    } else if (!noDefault.has(at)) {
      if (!('default' in node)) problems.push(`${at}: no default`);
      else if (!isDeepStrictEqual(node.default, value)) problems.push(`${at}: default ${JSON.stringify(node.default)}, values.yaml ${JSON.stringify(value)}`);
    }
  }
  return problems;
}

test('values.schema.json of both charts: every key that is not a SQLITE_RESTORE_* setting has a description, and a default equal to values.yaml', async () => {
  const read = async (chart: string, file: string): Promise<unknown> => {
    const text = await readFile(path.join(chart, file), 'utf8');
    return file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  };
  const lib = (await read(libraryChart, 'values.schema.json')) as SchemaNode;
  const ex = (await read(exampleChart, 'values.schema.json')) as SchemaNode;
  const libValues = await read(libraryChart, 'values.yaml');
  const exValues = await read(exampleChart, 'values.yaml');
  // global is Helm's (not in the library's values.yaml); sqlite-s3-restore is the library's values, which Helm fills in.
  assert.deepEqual(undocumented(lib, '', libValues, new Set(['global']), []), [], 'sqlite-s3-restore/values.schema.json');
  const { restore, ...outside } = ex.properties!;
  assert.deepEqual(undocumented({ properties: outside }, '', exValues, new Set(['sqlite-s3-restore']), []), [], 'example-app/values.schema.json');
  // restore is the library's schema (a test above keeps them equal): the library's defaults.
  assert.ok(restore?.description, 'restore has a description');
  assert.deepEqual(undocumented(restore!, '', libValues, new Set(), []), [], 'example-app/values.schema.json: restore');
});

let notesChart: string | undefined;

/**
 * NOTES.txt of the example chart as `helm install` prints it (helm renders NOTES only for an install,
 * which needs a cluster): a copy of the chart in which NOTES.txt is a named template, rendered into a ConfigMap.
 */
async function notes(set: string[] = []): Promise<string> {
  if (!notesChart) {
    notesChart = path.join(work, 'notes', 'example-app');
    await cp(exampleChart, notesChart, { recursive: true });
    const text = await readFile(path.join(exampleChart, 'templates', 'NOTES.txt'), 'utf8');
    await writeFile(path.join(notesChart, 'templates', '_notes-under-test.tpl'), `{{- define "notes-under-test" -}}\n${text}{{- end -}}\n`);
    await writeFile(
      path.join(notesChart, 'templates', 'notes-under-test.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\ndata:\n  notes: {{ include "notes-under-test" . | quote }}\n',
    );
  }
  const args = ['template', 'demo', notesChart, '--namespace', 'apps', '--show-only', 'templates/notes-under-test.yaml'];
  for (const s of set) args.push('--set', s);
  const [cm] = parseManifests(await helmOk(args));
  return (cm!.data as { notes: string }).notes;
}

/** kubectl's own jsonpath on a pod object, offline (`annotate --local` prints the object it read). */
async function kubectlJsonpath(expression: string, podObject: unknown): Promise<string> {
  const file = path.join(work, 'pod.json');
  await writeFile(file, JSON.stringify(podObject));
  return new Promise((resolve, reject) => {
    execFile(
      kubectlBin,
      ['annotate', '--local', '-f', file, 'checked=yes', '-o', `jsonpath=${expression}`],
      { timeout: 30_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work } },
      (err, stdout, stderr) => (err ? reject(new Error(`kubectl: ${stderr || err.message}`)) : resolve(stdout)),
    );
  });
}

// kubectl comes with the test cluster's build (test/support/k8s-setup.sh, Linux and root only).
const noKubectl = existsSync(kubectlBin) ? false : `${kubectlBin} is missing (test/support/setup.sh builds it on Linux as root)`;

test("NOTES.txt: the restore's outcome now and before the last restart (the printed command, run by kubectl on pod statuses)", { skip: noKubectl }, async () => {
  const text = await notes();
  assert.match(text, /^ {2}kubectl -n apps logs demo-example-app-0 -c restore$/m);
  assert.match(text, /^ {2}kubectl -n apps get pod demo-example-app-0 \\$/m);
  const expression = /-o jsonpath='([^']+)'/.exec(text)?.[1];
  assert.ok(expression, 'a jsonpath command');
  const podWith = (restore: Record<string, unknown>): unknown => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'demo-example-app-0', namespace: 'apps' },
    spec: { containers: [{ name: 'app', image: 'app' }] },
    status: {
      initContainerStatuses: [
        { name: 'restore', image: 'sqlite-s3-restore:0.1.0', ready: false, restartCount: 0, ...restore },
        { name: 'litestream', image: 'litestream', ready: false, restartCount: 0, state: { waiting: { reason: 'PodInitializing' } }, lastState: {} },
      ],
    },
  });
  const noBackup = { exitCode: 66, reason: 'Error', message: 'no-backup: no backup at s3://my-bucket/example-app/app.db' };
  const cases: Array<[string, Record<string, unknown>, RegExp[]]> = [
    ['running, first attempt', { state: { running: { startedAt: '2026-11-30T10:00:00Z' } }, lastState: {} }, [/^now: +2026-11-30T10:00:00Z$/m, /^previous: +$/m]],
    ['failed now (Init:Error)', { state: { terminated: noBackup }, lastState: {} }, [/^now: +66 no-backup: no backup at s3:\/\/my-bucket\/example-app\/app\.db$/m]],
    [
      'after a restart (Init:CrashLoopBackOff)',
      { state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 20s restarting failed container' } }, lastState: { terminated: noBackup }, restartCount: 2 },
      [/^now: +CrashLoopBackOff$/m, /^previous: 66 no-backup: no backup at s3:/m],
    ],
    ['done', { state: { terminated: { exitCode: 0, reason: 'Completed', message: 'skipped: /data/app.db' } }, lastState: {} }, [/^now: +0 skipped: \/data\/app\.db$/m]],
  ];
  for (const [name, status, expected] of cases) {
    const out = await kubectlJsonpath(expression, podWith(status));
    for (const e of expected) assert.match(out, e, `${name}:\n${out}`);
    assert.doesNotMatch(out, /PodInitializing/, 'only the restore container');
  }
  assert.match(await notes(['restore.name=fetch']), /@\.name=="fetch"/);
});

test('NOTES.txt: first deploy without a backup, a pod stuck after helm upgrade, a reinstall that keeps its claim', async () => {
  const text = await notes();
  // First deploy: the safe path, and the warning that a mistyped prefix looks the same.
  assert.match(text, /^ {2}helm upgrade demo <chart> -n apps --reuse-values --set restore\.ifNoBackup=allow$/m);
  assert.match(text, /mistyped prefix finds no backup either/);
  assert.match(text, /it lists what exists beside the prefix/);
  assert.match(text, /back to\s+fail once the first backup is written/);
  // helm upgrade leaves a failing StatefulSet pod on the old revision.
  assert.match(text, /stuck in Init:Error or Init:CrashLoopBackOff stays on\s+the old revision/);
  assert.match(text, /OrderedReady/);
  assert.match(text, /^ {2}kubectl -n apps delete pod demo-example-app-0$/m);
  // A reinstall keeps the claim: the restore is skipped.
  assert.match(text, /helm uninstall keeps the volume claim data-demo-example-app-0/);
  assert.match(text, /restore is skipped \(outcome skipped\)/);
  assert.match(text, /^ {2}kubectl -n apps delete pvc data-demo-example-app-0$/m);
  assert.match(text, /^ {2}kubectl -n apps create job --from=cronjob\/demo-example-app-backup-verify verify-now$/m);

  const allowed = await notes(['restore.ifNoBackup=allow']);
  assert.doesNotMatch(allowed, /helm upgrade demo/);
  assert.match(allowed, /restore\.ifNoBackup=allow: with no backup at s3:\/\/my-bucket\/example-app\/app\.db the app starts without a database\s+\(outcome first-boot\)/);
  assert.match(allowed, /mistyped prefix looks the same/);

  const claimed = await notes(['persistence.existingClaim=my-data']);
  assert.doesNotMatch(claimed, /delete pvc/, 'not a claim the chart made');
  assert.match(claimed, /your claim my-data: while it holds one, the restore keeps it \(outcome\s+skipped\)/);
  const renamed = await notes(['restore.database.volumeName=db']);
  assert.match(renamed, /^ {2}kubectl -n apps delete pvc db-demo-example-app-0$/m);

  const overwrite = await notes(['restore.ifExists=overwrite', 'verifyCronJob.enabled=false']);
  assert.doesNotMatch(overwrite, /skipped \(outcome|delete pvc|create job/);
});

test('plain manifests (deploy/kubernetes) are valid and carry the same restore init container as the chart', async () => {
  const dir = path.join(deployDir, 'kubernetes');
  const kustomization = parseYaml(await readFile(path.join(dir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  // The backup-verifying CronJob is applied on its own (README), and checked by test/unit/verify-cronjob.test.ts.
  const separate = ['kustomization.yaml', 'verify-cronjob.yaml'];
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml') && !separate.includes(f)).sort();
  assert.deepEqual([...kustomization.resources].sort(), files, 'kustomization.yaml lists every manifest');
  const objects: K8sObject[] = [];
  for (const f of files) objects.push(...parseManifests(await readFile(path.join(dir, f), 'utf8')));
  for (const obj of objects) validateObject(obj);
  assert.deepEqual(objects.map((o) => o.kind).sort(), ['Service', 'ServiceAccount', 'StatefulSet']);

  const spec = pod(objects);
  const chart = await render({ set: ['restore.replicaUrl=s3://my-bucket/my-app/app.db'] });
  const rendered = pod(chart);
  assert.deepEqual(restoreContainer(spec), restoreContainer(rendered), 'statefulset.yaml restore container = chart output');
  assert.deepEqual(spec.initContainers, rendered.initContainers, 'statefulset.yaml restore and Litestream sidecar = chart output');
  assert.deepEqual(spec.volumes, rendered.volumes, 'statefulset.yaml volumes = chart output');
  const annotations = (o: K8sObject): unknown => (o.spec as { template: { metadata: { annotations?: unknown } } }).template.metadata.annotations;
  assert.deepEqual(annotations(find(objects, 'StatefulSet')), annotations(find(chart, 'StatefulSet')), "the Litestream configuration = chart output");
  assert.deepEqual(spec.securityContext, rendered.securityContext);
  assert.deepEqual(spec.containers, rendered.containers, 'statefulset.yaml app container = chart output');
  assert.equal(spec.automountServiceAccountToken, false);
  const sa = find(objects, 'ServiceAccount');
  assert.equal(spec.serviceAccountName, sa.metadata.name);
  assert.match(sa.metadata.annotations?.['eks.amazonaws.com/role-arn'] ?? '', /^arn:aws:iam::\d{12}:role\//);

  // verify-cronjob.yaml is the chart's CronJob with the settings its header names.
  const [cron, ...rest] = parseManifests(await readFile(path.join(dir, 'verify-cronjob.yaml'), 'utf8'));
  assert.equal(rest.length, 0);
  validateObject(cron!);
  const args = ['template', 'my-app', exampleChart, '--set', 'fullnameOverride=my-app', '--set', 'restore.replicaUrl=s3://my-bucket/my-app/app.db'];
  args.push('--set', 'restore.extraEnvFrom[0].secretRef.name=my-app-backup-verify', '--set', 'restore.extraEnvFrom[0].secretRef.optional=true');
  const chartCron = find(parseManifests(await helmOk(args)), 'CronJob');
  assert.equal(cron!.metadata.name, chartCron.metadata.name);
  assert.deepEqual(cron!.spec, chartCron.spec, 'verify-cronjob.yaml spec = chart output (only the CronJob\'s own labels differ)');
});

test('the kind end-to-end script and workflow are in place and run the shared checks (they need Docker: not run here)', async () => {
  const script = await readFile(path.join(deployDir, 'kind', 'run-e2e.sh'), 'utf8');
  assert.match(script.split('\n').slice(0, 12).join('\n'), /cannot run .*without Docker|needs Docker/i);
  const workflow = await readFile(path.join(deployDir, 'kind', 'github-workflow.yml'), 'utf8');
  const copy = await readFile(path.join(repoRoot, '.github', 'workflows', 'kind-e2e.yml'), 'utf8');
  assert.equal(copy, workflow, '.github/workflows/kind-e2e.yml is a copy of deploy/kind/github-workflow.yml');
  const parsed = parseYaml(workflow) as { jobs: Record<string, { steps: Array<{ run?: string }> }> };
  const runs = Object.values(parsed.jobs).flatMap((j) => j.steps.map((s) => s.run ?? ''));
  assert.ok(runs.some((r) => r.includes('deploy/kind/run-e2e.sh')), 'the workflow runs the script');
  // kind proves what the project's own cluster proves (test/e2e/k8s.test.ts): the same checks script
  assert.match(script, /deploy\/e2e\/checks\.sh" all/, 'run-e2e.sh runs every check of deploy/e2e/checks.sh');
});
