// What the test cluster may change on the host, read independently of
// cluster.sh so that tests can check its teardown: the sysctls the kubelet
// sets, iptables rules, the cluster's cgroup root, directories outside the
// cluster's own, and the processes and mounts of one cluster directory.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';

const SYSCTLS = ['vm.overcommit_memory', 'vm.panic_on_oom', 'kernel.panic', 'kernel.panic_on_oops', 'kernel.keys.root_maxkeys', 'kernel.keys.root_maxbytes'];
const HOST_DIRS = ['/var/log/containers', '/run/containerd', '/var/lib/cni', '/var/lib/kubelet', '/usr/libexec/kubernetes', '/run/netns', '/opt/containerd', '/etc/kubernetes', '/var/run/kubernetes'];
export const CGROUP_ROOT = 'sqlite-s3-restore-k8s';

export interface HostState {
  sysctls: Record<string, string>;
  /** iptables-save and ip6tables-save, without their comment lines (timestamps). */
  iptables: string;
  dirs: Record<string, boolean>;
  /** The cluster's cgroup root in each hierarchy where it exists. */
  cgroups: string[];
}

async function cgroupRoots(): Promise<string[]> {
  // cgroup v2: one hierarchy at /sys/fs/cgroup; v1 (and hybrid): one per subdirectory
  const hierarchies = existsSync('/sys/fs/cgroup/cgroup.controllers')
    ? ['/sys/fs/cgroup']
    : (await readdir('/sys/fs/cgroup').catch(() => [] as string[])).map((h) => `/sys/fs/cgroup/${h}`);
  return hierarchies.map((h) => `${h}/${CGROUP_ROOT}`).filter((d) => existsSync(d));
}

export async function hostState(): Promise<HostState> {
  const sysctls: Record<string, string> = {};
  for (const name of SYSCTLS) {
    sysctls[name] = (await readFile(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').catch(() => '?')).trim();
  }
  const iptables = ['iptables-save', 'ip6tables-save']
    .map((cmd) => spawnSync(cmd, { encoding: 'utf8' }).stdout ?? '')
    .join('\n')
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('\n');
  const dirs = Object.fromEntries(HOST_DIRS.map((d) => [d, existsSync(d)]));
  return { sysctls, iptables, dirs, cgroups: await cgroupRoots() };
}

/** Differences between two host states, one line each (empty: the same). */
export function hostChanges(before: HostState, after: HostState): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(before.sysctls)) if (after.sysctls[k] !== v) out.push(`sysctl ${k}: ${v} -> ${after.sysctls[k]}`);
  if (before.iptables !== after.iptables) out.push(`iptables rules changed:\n${after.iptables}`);
  for (const [d, existed] of Object.entries(before.dirs)) if (after.dirs[d] !== existed) out.push(`${d}: ${existed ? 'gone' : 'created'}`);
  for (const c of after.cgroups) if (!before.cgroups.includes(c)) out.push(`cgroup ${c} left`);
  return out;
}

/**
 * Processes whose command line names `dir` (the daemons, shims and guard of
 * that cluster; `except` PIDs left out) and mounts below it.
 */
export async function clusterLeftovers(dir: string, except: number[] = []): Promise<string[]> {
  const out: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid || except.includes(Number(pid))) continue;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ');
    if (cmdline.includes(dir)) out.push(`process ${pid}: ${cmdline.slice(0, 200)}`);
  }
  const mounts = await readFile('/proc/mounts', 'utf8');
  for (const line of mounts.split('\n')) {
    const mountPoint = line.split(' ')[1]?.replace(/\\040/g, ' ');
    if (mountPoint && (mountPoint === dir || mountPoint.startsWith(`${dir}/`))) out.push(`mount ${mountPoint}`);
  }
  return out;
}
