// Long-running helper processes (MinIO, Litestream) started by tests: keeps a
// tail of their output for failure messages and stops them by PID. Anything
// still alive when the test process exits is killed, so a failed test never
// leaks servers.
import { spawn, type ChildProcess } from 'node:child_process';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves when the process has exited. */
  readonly exited: Promise<ExitStatus>;
  /** Last ~64 KiB of combined stdout/stderr. */
  output(): string;
  /** Sends `signal` (default SIGTERM), waits up to `graceMs`, then SIGKILL. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ExitStatus>;
}

const live = new Set<number>();
process.on('exit', () => {
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

const tailLimit = 64 * 1024;

export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string },
): ManagedProcess {
  const child = spawn(command, args, {
    env: options.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${name}: spawn of ${command} failed`);
  const pid = child.pid;
  live.add(pid);
  let tail = '';
  const collect = (chunk: Buffer): void => {
    tail += chunk.toString('utf8');
    if (tail.length > tailLimit) tail = tail.slice(-tailLimit);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<ExitStatus>((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(pid);
      resolve({ code, signal });
    });
    child.on('error', (err) => {
      collect(Buffer.from(`\n[spawn error] ${err.message}\n`));
    });
  });
  let done = false;
  void exited.then(() => {
    done = true;
  });

  return {
    name,
    pid,
    child,
    exited,
    output: () => tail,
    async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<ExitStatus> {
      if (!done) {
        try {
          process.kill(pid, signal);
        } catch {
          // exited in between
        }
        const timer = setTimeout(() => {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // exited in between
          }
        }, graceMs);
        try {
          return await exited;
        } finally {
          clearTimeout(timer);
        }
      }
      return exited;
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every `intervalMs` until it returns a non-undefined value or `timeoutMs` passes. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 30_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
