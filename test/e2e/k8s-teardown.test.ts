// The test cluster leaves nothing behind however its owner ends. A child
// process (test/support/cluster-child.ts) starts a cluster with a pod and is
// then interrupted (SIGINT: exit 130), terminated (SIGTERM: 143), ended by an
// uncaught exception (exit 1, the synchronous teardown at exit) or killed
// outright (SIGKILL: the cluster's guard process tears it down). Afterwards no
// process of the cluster runs, nothing is mounted below its directory, and
// the host is as before: sysctls, iptables, cgroups, directories. (The normal
// end, stop() from an after hook, is checked by every test that stops a
// cluster: stop() itself compares the host with its state before the start.)
// A start whose daemon dies (here: its port is taken) ends at once, naming
// the daemon, and leaves the host as it was too.
//
// The host's state is read under the host lock that test clusters take, so a
// cluster of another test process cannot change it in between.
import { waitForSlowSetup } from '../support/slow-setup.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { clusterSkipReason, LocalCluster, runCommand } from '../support/cluster.js';
import { clusterLeftovers, hostChanges, type HostState } from '../support/cluster-host.js';
import { freePorts } from '../support/minio.js';
import { cacheRoot, removeDir, repoRoot } from '../support/paths.js';
import { sleep } from '../support/process.js';

// Needs the slow part of the setup (run-tests.sh runs this file after it).
await waitForSlowSetup('kubernetes');

const skip = clusterSkipReason();
const childScript = path.join(repoRoot, 'dist', 'test', 'support', 'cluster-child.js');
const lockFile = path.join(cacheRoot, 'k8s', 'cluster.lock');

/** The host's state, read while holding the host lock (no test cluster runs meanwhile). */
async function lockedHostState(): Promise<HostState> {
  const r = await runCommand('flock', ['-w', '900', lockFile, process.execPath, childScript, 'host-state'], { timeoutMs: 1_000_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as HostState;
}

interface Ending {
  how: string;
  signal?: NodeJS.Signals;
  mode: 'hold' | 'throw';
  /** exit code, or the signal that ended the child */
  expect: number | NodeJS.Signals;
}

const endings: Ending[] = [
  { how: 'SIGINT (Ctrl-C)', signal: 'SIGINT', mode: 'hold', expect: 130 },
  { how: 'SIGTERM', signal: 'SIGTERM', mode: 'hold', expect: 143 },
  { how: 'an uncaught exception', mode: 'throw', expect: 1 },
  { how: 'SIGKILL (the guard tears down)', signal: 'SIGKILL', mode: 'hold', expect: 'SIGKILL' },
];

for (const e of endings) {
  test(`a: the cluster is torn down and the host restored when its test process ends by ${e.how}`, { skip, timeout: 600_000 }, async () => {
    const before = await lockedHostState();
    const child = spawn(process.execPath, [childScript, e.mode], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal })),
    );
    const started = Date.now();
    while (!/^READY (.+)$/m.test(out)) {
      if (child.exitCode !== null || Date.now() - started > 300_000) assert.fail(`the child did not get its cluster ready\n${out}\n${err}`);
      await sleep(200);
    }
    const dir = /^READY (.+)$/m.exec(out)![1]!;
    assert.ok((await clusterLeftovers(dir)).length > 0, 'the cluster runs');
    const t = Date.now();
    if (e.signal) child.kill(e.signal);
    const end = await exited;
    assert.deepEqual(typeof e.expect === 'number' ? end.code : end.signal, e.expect, `${e.how}: ${JSON.stringify(end)}\n${err.slice(-3000)}`);
    if (e.signal === 'SIGKILL') {
      // the guard notices within a second and runs the teardown
      for (let i = 0; i < 300 && (await clusterLeftovers(dir)).length > 0; i++) await sleep(500);
    }
    console.log(`# ${e.how}: torn down ${((Date.now() - t) / 1000).toFixed(1)} s after the end`);
    assert.deepEqual(await clusterLeftovers(dir), [], 'no process of the cluster, nothing mounted below its directory');
    assert.deepEqual(hostChanges(before, await lockedHostState()), [], 'the host is as before');
    // stop() and the exit handler remove the directory; the guard leaves it for inspection
    if (e.signal === 'SIGKILL') await removeDir(dir);
    assert.equal(existsSync(dir), false);
  });
}

test('b: a daemon that cannot bind its port ends the start at once, named with its log, and the host is restored', { skip, timeout: 600_000 }, async () => {
  const before = await lockedHostState();
  const [port] = (await freePorts(1)) as [number];
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
  try {
    const t = Date.now();
    // without the check, up waited out the 120 s for a default ServiceAccount that never came
    await assert.rejects(LocalCluster.start({ ports: { KCM_PORT: port } }), (err: Error) => {
      assert.match(err.message, /kube-controller-manager exited while waiting for/);
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`), 'its log says which address it could not bind');
      return true;
    });
    console.log(`# start failed ${((Date.now() - t) / 1000).toFixed(1)} s after it began`);
  } finally {
    holder.close();
  }
  assert.deepEqual(hostChanges(before, await lockedHostState()), [], 'the host is as before');
});
