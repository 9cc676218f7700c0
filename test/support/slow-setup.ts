// npm test starts the slow part of the setup (test/support/slow-setup.sh: helm
// and the podman base images, Kubernetes, the zlayer writer) in the background
// and runs the tests that need only MinIO and Litestream meanwhile
// (test/support/run-tests.sh). A test file that needs the slow part awaits
// waitForSlowSetup(part) before anything else; run-tests.sh runs those files in
// a second run beside the first.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpRoot } from './paths.js';

const state = path.join(tmpRoot, 'slow-setup');
/** Longer than the slowest cold build measured (Kubernetes and the images at load 15). */
const LIMIT_MS = 60 * 60_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tail(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-40).join('\n') : '(no log)';
}

/** The parts of the slow setup, in the order it finishes them (slow-setup.sh). */
export type SlowPart = 'images' | 'kubernetes' | 'zlayer';

/**
 * Resolves once the part of the slow setup a test file needs is ready; throws, with its log's tail, if the setup failed or died without a
 * result. Without a background setup (setup.sh ran to the end, or not at all)
 * it resolves at once, and the tests' own checks of the tools apply.
 */
export async function waitForSlowSetup(part: SlowPart): Promise<void> {
  const pidFile = path.join(state, 'pid');
  const rcFile = path.join(state, 'rc');
  const log = path.join(state, 'log');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  const started = Date.now();
  let said = false;
  for (;;) {
    if (existsSync(path.join(state, `${part}.done`))) return;
    if (existsSync(rcFile)) {
      const rc = readFileSync(rcFile, 'utf8').trim();
      if (rc === '0') return;
      throw new Error(`the slow setup (test/support/slow-setup.sh) failed with exit code ${rc}; ${log}:\n${tail(log)}`);
    }
    if (!alive(pid)) throw new Error(`the slow setup (pid ${pid}) ended without a result; rerun bash test/support/setup.sh. ${log}:\n${tail(log)}`);
    if (Date.now() - started > LIMIT_MS) throw new Error(`the slow setup is still running after ${LIMIT_MS / 60_000} min; ${log}:\n${tail(log)}`);
    if (!said) {
      console.log(`# waiting for the slow setup (${part}): ${log}`);
      said = true;
    }
    await sleep(2_000);
  }
}
