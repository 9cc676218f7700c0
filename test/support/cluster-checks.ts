// What a cluster test file of the example chart sets up before it runs steps
// of deploy/e2e/checks.sh: the product image (and any other local image)
// built with podman and imported into the cluster's containerd, MinIO on the
// host's 127.0.0.1 (the releases use hostNetwork to reach it) with a bucket
// and a Secret holding its keys, a copy of the charts with their dependencies
// built, and the environment checks.sh reads. One per test file:
//
//   const ctx = await startChecks({ namespace: 'irsa-e2e', images: [...] });   // before()
//   const got = await ctx.checks(['irsa', 'app']);                              // "result" lines
//   await stopChecks(ctx);                                                      // after()
import assert from 'node:assert/strict';
import { cp } from 'node:fs/promises';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { LocalCluster, assertClusterReady, explainCommand } from './cluster.js';
import { createBucket, s3Client, startMinio, type Minio } from './minio.js';
import { makeTempDir, removeDir, repoRoot } from './paths.js';
import { PRODUCT_IMAGE, buildProductImage } from './podman.js';

export const checksScript = path.join(repoRoot, 'deploy', 'e2e', 'checks.sh');
export const BUCKET = 'backups';
export const DB_PATH = '/data/app.db';
/** The Secret with MinIO's keys, in the test namespace. */
export const CREDENTIALS_SECRET = 'minio-credentials';

export interface ChecksContext {
  work: string;
  minio: Minio;
  client: S3Client;
  cluster: LocalCluster;
  namespace: string;
  /** checks.sh's environment (extended by the test file with its prefixes). */
  env: Record<string, string>;
  startedAt: number;
  /** Runs one step of checks.sh; fails the test with its output unless it exits 0; returns its "result KEY=VALUE" lines. */
  checks(args: string[], extraEnv?: Record<string, string>): Promise<Record<string, string>>;
}

export interface StartChecksOptions {
  namespace: string;
  /** Writes the backups the file needs into MinIO, before the cluster starts. */
  seed?: (minio: Minio, client: S3Client, work: string) => Promise<void>;
  /** Builds more local images (returns their references) to import besides the product's. */
  images?: (work: string) => Promise<string[]>;
}

export async function startChecks(name: string, opts: StartChecksOptions): Promise<ChecksContext> {
  assertClusterReady();
  const startedAt = Date.now();
  const work = await makeTempDir(name);
  const ctx: Partial<ChecksContext> & { work: string; startedAt: number; namespace: string } = { work, startedAt, namespace: opts.namespace };
  try {
    const built = await buildProductImage(work);
    console.log(`# image ${PRODUCT_IMAGE}: podman build ${(built.durationMs / 1000).toFixed(1)} s, ${(built.size / 1e6).toFixed(1)} MB`);
    const t = Date.now();
    const images = (await opts.images?.(work)) ?? [];
    if (images.length) console.log(`# images ${images.join(', ')} built in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    ctx.minio = await startMinio();
    ctx.client = s3Client(ctx.minio);
    await createBucket(ctx.minio, BUCKET);
    await opts.seed?.(ctx.minio, ctx.client, work);

    ctx.cluster = await LocalCluster.start();
    const cluster = ctx.cluster;
    console.log(`# cluster up in ${(cluster.startMs / 1000).toFixed(1)} s (${cluster.dir})`);
    for (const image of [PRODUCT_IMAGE, ...images]) {
      const imported = await cluster.importImage(image);
      console.log(`# ${image} imported into containerd in ${(imported.durationMs / 1000).toFixed(1)} s`);
    }
    await cluster.apply(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: opts.namespace } },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: CREDENTIALS_SECRET, namespace: opts.namespace },
        stringData: { AWS_ACCESS_KEY_ID: ctx.minio.accessKey, AWS_SECRET_ACCESS_KEY: ctx.minio.secretKey },
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
    ctx.env = {
      NAMESPACE: opts.namespace,
      CHART: chart,
      IMAGE_REPOSITORY: repository,
      IMAGE_TAG: tag,
      // imported, never pulled: there is no registry
      IMAGE_PULL_POLICY: 'Never',
      S3_ENDPOINT: ctx.minio.endpoint,
      BUCKET,
      CREDENTIALS_SECRET,
      DB_PATH,
      // MinIO listens on the node's 127.0.0.1
      HELM_EXTRA_ARGS: '--set hostNetwork=true',
      TIMEOUT: '240',
    };
    const full = ctx as ChecksContext;
    full.checks = async (args, extraEnv = {}) => {
      const r = await cluster.run('bash', [checksScript, ...args], { env: { ...full.env, ...extraEnv }, timeoutMs: 900_000 });
      for (const line of r.stdout.split('\n')) if (/^(PASS|FAIL): /.test(line)) console.log(`# ${line}`);
      if (r.code !== 0) assert.fail(`checks.sh ${args.join(' ')} failed\n${explainCommand(r)}\n${await cluster.daemonLogs()}`);
      const results: Record<string, string> = {};
      for (const m of r.stdout.matchAll(/^result ([^=\n]+)=(.*)$/gm)) results[m[1]!] = m[2]!;
      return results;
    };
    return full;
  } catch (err) {
    await stopChecks(ctx).catch(() => undefined);
    throw err;
  }
}

/** Stops the cluster (reporting its peak memory and how long the file took), MinIO, and removes the scratch directory. */
export async function stopChecks(ctx: Partial<ChecksContext> | undefined): Promise<void> {
  if (!ctx) return;
  const errors: unknown[] = [];
  const { cluster } = ctx;
  if (cluster) {
    const peak = cluster.memoryPeak();
    const daemons = Object.entries(peak.daemons)
      .map(([n, mib]) => `${n} ${mib.toFixed(0)}`)
      .join(', ');
    console.log(`# peak RSS (MiB): ${daemons}; daemons together ${peak.daemonsTotal.toFixed(0)}; pods ${peak.pods.toFixed(0)}`);
    const t = Date.now();
    await cluster.stop().catch((err: unknown) => errors.push(err));
    console.log(`# cluster stopped in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  ctx.client?.destroy();
  await ctx.minio?.stop().catch((err: unknown) => errors.push(err));
  if (ctx.work) await removeDir(ctx.work);
  if (ctx.startedAt) console.log(`# file total ${((Date.now() - ctx.startedAt) / 1000).toFixed(0)} s`);
  if (errors.length > 0) throw errors[0];
}
