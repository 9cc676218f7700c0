// Preloaded into the CLI (NODE_OPTIONS=--import=<this module's URL>) to imitate a
// volume on which removing a file hangs, as on a stalled NFS server: every
// asynchronous rm/unlink/rmdir waits SLOW_DELETES_MS before it starts. Nothing
// blocks a thread, so the process can still exit; what it shows is whether the
// CLI waits for a cleanup that does not come. (A thread really stuck in the
// kernel is different: see the note in test/e2e/hostile-config.test.ts.)
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const delayMs = Number(process.env.SLOW_DELETES_MS ?? '30000');
type AnyFn = (...args: unknown[]) => unknown;

for (const name of ['rm', 'unlink', 'rmdir'] as const) {
  const promised = fs.promises[name] as AnyFn;
  Object.assign(fs.promises, {
    [name]: (...args: unknown[]) => new Promise((resolve) => setTimeout(resolve, delayMs)).then(() => promised(...args)),
  });
  const callback = fs[name] as AnyFn;
  Object.assign(fs, { [name]: (...args: unknown[]) => void setTimeout(() => callback(...args), delayMs) });
}
// Named imports of node:fs and node:fs/promises see the replacements too.
syncBuiltinESMExports();
