// Litestream container images for the backup sidecar, built locally with
// podman (no registry here): the runtime base image that image-setup.sh makes
// (glibc, no shell, user 65532) plus a Litestream binary that setup.sh built
// into the tool cache, stripped of its debug information. Like the official
// litestream/litestream images, the entrypoint is /usr/local/bin/litestream,
// so the chart's sidecar (args: replicate -config ...) runs either.
import { access, constants, mkdir } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { litestreamBin } from './paths.js';
import { litestreamV5Bin } from './litestream-v5.js';
import { RUNTIME_IMAGE, explainPodman, podman } from './podman.js';

const run = promisify(execFile);

/** The Litestream releases the cluster tests run as sidecars, and their configuration formats. */
export const SIDECAR_LITESTREAMS = [
  { version: '0.3.13', configVersion: 'v0.3' },
  { version: '0.5.18', configVersion: 'v0.5' },
] as const;

export type SidecarLitestream = (typeof SIDECAR_LITESTREAMS)[number];

export function litestreamImage(version: string): string {
  return `localhost/ssr-test/litestream:${version}`;
}

function binaryOf(version: string): string {
  return version.startsWith('0.3.') ? litestreamBin : litestreamV5Bin(version);
}

/**
 * Builds localhost/ssr-test/litestream:<version> (cached by podman: the same
 * stripped binary is the same layer). Returns the image and the build time.
 */
export async function buildLitestreamImage(version: string, workDir: string): Promise<{ image: string; durationMs: number }> {
  const bin = binaryOf(version);
  await access(bin, constants.X_OK).catch(() => {
    throw new Error(`${bin} is missing: run bash test/support/setup.sh`);
  });
  const context = path.join(workDir, `litestream-${version}-image`);
  await mkdir(context, { recursive: true });
  // --strip-debug keeps the symbols Go needs and drops DWARF (about half the size).
  await run('strip', ['--strip-debug', '-o', path.join(context, 'litestream'), bin]);
  await writeFile(
    path.join(context, 'Containerfile'),
    [
      'ARG BASE',
      'FROM ${BASE}',
      'COPY litestream /usr/local/bin/litestream',
      'USER 65532:65532',
      'ENTRYPOINT ["/usr/local/bin/litestream"]',
      '',
    ].join('\n'),
  );
  const image = litestreamImage(version);
  const build = await podman(['build', '--pull=never', '--network=none', '--build-arg', `BASE=${RUNTIME_IMAGE}`, '-t', image, '-f', path.join(context, 'Containerfile'), context], {
    timeoutMs: 10 * 60_000,
  });
  if (build.code !== 0) throw new Error(`podman build ${image} failed\n${explainPodman(build)}`);
  return { image, durationMs: build.durationMs };
}
