// podman on these machines (no Docker engine, cgroups v1): rootful, runc,
// storage in <cache>/podman so that layers are reused across runs, and the
// product image built from the repository's Dockerfile FROM the local base
// images that test/support/image-setup.sh makes.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cacheRoot, repoRoot } from './paths.js';

/** The product image as the tests build it. */
export const PRODUCT_IMAGE = 'localhost/sqlite-s3-restore:test';
export const BUILD_IMAGE = 'localhost/ssr-test/node-build:22';
export const RUNTIME_IMAGE = 'localhost/ssr-test/node-runtime:22';
const podmanRoot = path.join(cacheRoot, 'podman');
const statusFile = path.join(cacheRoot, 'images', 'status');

/** image-setup.sh's verdict: "ready", "unsupported: <reason>" or "missing". */
export function imageStatus(): string {
  return existsSync(statusFile) ? readFileSync(statusFile, 'utf8').trim() : 'missing';
}

/** Why the image tests skip on this machine (false: they run). */
export function imageSkipReason(status = imageStatus()): string | false {
  return status.startsWith('unsupported') ? `container images: ${status}` : false;
}

/** Throws unless image-setup.sh made the base images. */
export function assertImagesReady(status = imageStatus()): void {
  if (status !== 'ready') throw new Error(`${statusFile} says "${status}": run bash test/support/setup.sh`);
}

export interface PodmanRun {
  code: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** Runs podman with the flags that work here; kills it (and removes the container) on timeout. */
export function podman(args: string[], opts: { timeoutMs?: number; containerName?: string; logFile?: string } = {}): Promise<PodmanRun> {
  const started = Date.now();
  const child = spawn(
    'podman',
    [
      '--root', path.join(podmanRoot, 'root'),
      '--runroot', path.join(podmanRoot, 'run'),
      '--cgroup-manager=cgroupfs',
      '--events-backend=file',
      '--runtime', 'runc',
      ...args,
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CONTAINERS_STORAGE_CONF: undefined } },
  );
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs ?? 120_000);
  return new Promise<PodmanRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const r = { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), durationMs: Date.now() - started };
      const finish = async (): Promise<void> => {
        if (opts.logFile) await writeFile(opts.logFile, `${r.stdout}\n--- stderr ---\n${r.stderr}`);
        if (timedOut) {
          if (opts.containerName) await podman(['rm', '-f', opts.containerName], { timeoutMs: 30_000 }).catch(() => undefined);
          throw new Error(`podman ${args[0]} timed out after ${opts.timeoutMs} ms\n${r.stderr.slice(-4000)}`);
        }
      };
      finish().then(() => resolve(r), reject);
    });
  });
}

export const explainPodman = (r: PodmanRun): string =>
  `exit code ${r.code} after ${r.durationMs} ms\n--- stdout ---\n${r.stdout.slice(-6000)}\n--- stderr ---\n${r.stderr.slice(-6000)}`;

/**
 * Builds PRODUCT_IMAGE from the repository's Dockerfile (layers are cached in
 * <cache>/podman: only changed steps rerun). The build stage is tagged too, so
 * that pruning dangling images afterwards drops superseded layers without
 * losing the cache of the current ones. Returns the build's duration and the
 * image size in bytes.
 */
export async function buildProductImage(logDir: string): Promise<{ durationMs: number; size: number }> {
  const buildArgs = ['build', '--pull=never', '--network=host', '--build-arg', `BUILD_IMAGE=${BUILD_IMAGE}`, '--build-arg', `RUNTIME_IMAGE=${RUNTIME_IMAGE}`];
  // The OCI provenance labels, as a release build sets them (Dockerfile). podman 4.x
  // reuses a cached LABEL step when only the build argument changed (the previous
  // commit's revision stayed on the image), so the labels are also given with
  // --label, which applies at commit, as the Dockerfile tells podman users to.
  const revision = imageRevision();
  const source = imageSource();
  const labels = ['--build-arg', `REVISION=${revision}`, '--build-arg', `SOURCE=${source}`];
  labels.push('--label', `org.opencontainers.image.revision=${revision}`, '--label', `org.opencontainers.image.source=${source}`);
  const build = await podman([...buildArgs, ...labels, '-t', PRODUCT_IMAGE, repoRoot], { timeoutMs: 40 * 60_000, logFile: path.join(logDir, 'build.log') });
  if (build.code !== 0) throw new Error(`podman build failed\n${explainPodman(build)}`);
  const stage = await podman([...buildArgs, '--target', 'build', '-t', `${PRODUCT_IMAGE}-build-stage`, repoRoot], { timeoutMs: 10 * 60_000 });
  if (stage.code !== 0) throw new Error(`podman build --target build failed\n${explainPodman(stage)}`);
  await podman(['image', 'prune', '--force'], { timeoutMs: 120_000 });
  const size = (await podman(['image', 'inspect', '--format', '{{.Size}}', PRODUCT_IMAGE])).stdout.trim();
  return { durationMs: build.durationMs, size: Number(size) };
}

/** Writes `image` as a docker-archive (what `ctr images import` reads) to `file`. */
export async function saveImage(image: string, file: string): Promise<void> {
  const r = await podman(['save', '--quiet', '--format', 'docker-archive', '-o', file, image], { timeoutMs: 10 * 60_000 });
  if (r.code !== 0) throw new Error(`podman save ${image} failed\n${explainPodman(r)}`);
}

function git(args: string[]): string {
  const r = spawnSync('git', args, { cwd: repoRoot, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '';
}

/** The commit the image is built from (the org.opencontainers.image.revision label). */
export function imageRevision(): string {
  return git(['rev-parse', 'HEAD']) || 'unknown';
}

/** Where the source lives (the org.opencontainers.image.source label): the clone's origin, else its path. */
export function imageSource(): string {
  return git(['config', '--get', 'remote.origin.url']) || repoRoot;
}
