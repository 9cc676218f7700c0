// Well-known locations of the repository, resolved from this compiled module
// (dist/test/support/paths.js) so tests work from any working directory.
import { mkdtemp, mkdir, readdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';

export const repoRoot = path.resolve(fileURLToPath(new URL('../../../', import.meta.url)));
/** Scratch space for tests (git-ignored). */
export const tmpRoot = path.join(repoRoot, '.tmp');
/**
 * Heavy builds (MinIO, Litestream, helm, images, bench backups), kept outside the clone so a fresh
 * clone reuses them; the same rule as test/support/setup.sh.
 */
export const cacheRoot =
  process.env.SQLITE_S3_RESTORE_CACHE ||
  path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'sqlite-s3-restore');
/** Binaries built by test/support/setup.sh. */
export const binDir = path.join(cacheRoot, 'bin');
export const minioBin = path.join(binDir, 'minio');
export const litestreamBin = path.join(binDir, 'litestream');
export const cliPath = path.join(repoRoot, 'dist', 'src', 'cli.js');

/** A fresh directory under .tmp/; remove it with `rm(dir, { recursive: true, force: true })`. */
export async function makeTempDir(prefix: string): Promise<string> {
  await mkdir(tmpRoot, { recursive: true });
  return mkdtemp(path.join(tmpRoot, `${prefix}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Names in `dir` that contain `.restoring-` (the CLI's temp files); must be empty after every run. */
export async function restoringLeftovers(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => n.includes('.restoring-'));
}
