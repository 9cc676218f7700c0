// A cgroup for one benchmark setting: a memory limit (which, like a
// container's, also counts the page cache) and a CPU quota, on cgroup v2 or
// v1. Needs root. The launcher moves the process it starts into the cgroup
// before exec, so the measured process keeps its pid; remove() deletes the
// cgroup again once nothing runs in it.
import { existsSync, readFileSync, rmdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Launcher } from './runners.js';

export interface Limits {
  /** Bytes, or undefined for none. */
  readonly memoryBytes: number | undefined;
  /** CPUs, or undefined for none. */
  readonly cpus: number | undefined;
}

export interface Cgroup {
  readonly launcher: Launcher;
  remove(): void;
}

const ROOT = '/sys/fs/cgroup';
const PERIOD_US = 100_000;

export async function makeCgroup(name: string, limits: Limits): Promise<Cgroup> {
  const dirs = existsSync(path.join(ROOT, 'cgroup.controllers')) ? await makeV2(name, limits) : await makeV1(name, limits);
  const remove = (): void => {
    process.off('exit', remove);
    for (const dir of dirs) removeSync(dir);
  };
  process.once('exit', remove);
  const enter = dirs.map((dir) => `echo $$ > ${dir}/cgroup.procs`).join(' && ');
  return { launcher: ['sh', '-c', `${enter} && exec "$0" "$@"`], remove };
}

/**
 * Synchronous, for the exit handler. After Ctrl-C a restore may still be in
 * the cgroup (it got the signal too): it is killed, and given up to a second to leave.
 */
function removeSync(dir: string): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EBUSY') return;
    }
    const pids = readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    Atomics.wait(pause, 0, 0, 20);
  }
  process.stderr.write(`could not remove the cgroup ${dir}: remove it with rmdir once its processes are gone\n`);
}

async function makeV2(name: string, limits: Limits): Promise<string[]> {
  const enabled = (await readFile(path.join(ROOT, 'cgroup.subtree_control'), 'utf8')).split(/\s+/);
  for (const controller of ['memory', 'cpu']) {
    if (!enabled.includes(controller)) throw new Error(`cgroup v2: the ${controller} controller is not enabled in ${ROOT}/cgroup.subtree_control`);
  }
  const dir = path.join(ROOT, name);
  await mkdir(dir);
  await writeFile(path.join(dir, 'memory.max'), limits.memoryBytes === undefined ? 'max' : String(limits.memoryBytes));
  await writeFile(path.join(dir, 'cpu.max'), `${limits.cpus === undefined ? 'max' : Math.round(limits.cpus * PERIOD_US)} ${PERIOD_US}`);
  return [dir];
}

async function makeV1(name: string, limits: Limits): Promise<string[]> {
  const memory = path.join(ROOT, 'memory', name);
  const cpu = path.join(ROOT, 'cpu', name);
  for (const hierarchy of [path.dirname(memory), path.dirname(cpu)]) {
    if (!existsSync(hierarchy)) throw new Error(`cgroup v1: no ${hierarchy} hierarchy mounted`);
  }
  await mkdir(memory);
  await mkdir(cpu);
  if (limits.memoryBytes !== undefined) await writeFile(path.join(memory, 'memory.limit_in_bytes'), String(limits.memoryBytes));
  await writeFile(path.join(cpu, 'cpu.cfs_period_us'), String(PERIOD_US));
  await writeFile(path.join(cpu, 'cpu.cfs_quota_us'), limits.cpus === undefined ? '-1' : String(Math.round(limits.cpus * PERIOD_US)));
  return [memory, cpu];
}
