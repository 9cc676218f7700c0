// A throw-away Ceph RADOS Gateway (S3) on 127.0.0.1 for one test file: a
// second, independent S3 implementation next to MinIO.
//
// One monitor, one OSD on memstore (objects live in the OSD's memory) and one
// radosgw, all started here as root in the foreground (no systemd), with their
// configuration, logs and data under one directory in .tmp/. Cephx is off
// (auth none), only msgr2 is bound, pools have size 1 and 8 PGs. The packages
// come from Debian: test/support/rgw-setup.sh installs them.
//
// Startup takes 3-6 s here (monitor commits are not batched by the default
// 1 s paxos interval); the first CreateBucket takes a few hundred ms more, as
// radosgw creates its bucket pools lazily.
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePorts } from './minio.js';
import { makeTempDir, removeDir } from './paths.js';
import { startProcess, waitFor, type ManagedProcess } from './process.js';
import type { S3Server } from './s3-server.js';

const run = promisify(execFile);

export interface Rgw extends S3Server {
  /** radosgw, ceph-osd, ceph-mon. */
  processes: ManagedProcess[];
  /** Configuration, logs (`log/`) and daemon data. */
  dataDir: string;
  /** Milliseconds spent in each startup step. */
  timings: Record<string, number>;
}

const binaries = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph', 'monmaptool'];

async function ensureInstalled(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('Ceph RGW for the tests must run as root');
  for (const bin of binaries) {
    try {
      await run('sh', ['-c', `command -v ${bin}`]);
    } catch {
      throw new Error(`${bin} is missing: run bash test/support/setup.sh (it calls test/support/rgw-setup.sh)`);
    }
  }
}

function cephConf(dir: string, fsid: string, monPort: number, rgwPort: number): string {
  // `$cluster`, `$id`, `$name` and `$pid` are expanded by Ceph itself.
  return `[global]
fsid = ${fsid}
mon_host = v2:127.0.0.1:${monPort}
public_addr = 127.0.0.1
ms_bind_msgr1 = false
ms_bind_msgr2 = true
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
mon_allow_pool_size_one = true
# Commit monitor changes (new pools, OSD boot) without the default 1 s batching.
paxos_propose_interval = 0.05
mon_warn_on_pool_no_redundancy = false
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
osd_objectstore = memstore
memstore_device_bytes = ${2 << 30}
osd_data = ${dir}/$cluster-$id
mon_data = ${dir}/mon-$id
run_dir = ${dir}/run
admin_socket = ${dir}/run/$cluster-$name.$pid.asok
log_file = ${dir}/log/$cluster-$name.log
keyring = ${dir}/keyring

[client]
# Without this radosgw keeps retrying its monitor session with -13.
ms_mon_client_mode = crc

[client.rgw.tests]
rgw_frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw_data = ${dir}/rgw
`;
}

export async function startRgw(): Promise<Rgw> {
  await ensureInstalled();
  const started = Date.now();
  const timings: Record<string, number> = {};
  let mark = started;
  const step = (name: string): void => {
    const now = Date.now();
    timings[name] = now - mark;
    mark = now;
  };

  const dir = await makeTempDir('rgw');
  const conf = path.join(dir, 'ceph.conf');
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir };
  const processes: ManagedProcess[] = [];
  const ceph = async (...args: string[]): Promise<string> => {
    const { stdout } = await run('ceph', ['-c', conf, '--connect-timeout', '10', ...args], { env, timeout: 30_000 });
    return stdout;
  };
  const daemon = (name: string, bin: string, args: string[]): ManagedProcess => {
    const p = startProcess(name, bin, ['-c', conf, '-f', ...args], { env, cwd: dir });
    processes.push(p);
    return p;
  };
  const stopAll = async (): Promise<void> => {
    // Everything is thrown away: radosgw takes ~5 s to stop cleanly and the
    // OSD's memstore would serialise every object to disk first, so both are
    // killed; the monitor stops cleanly in a fraction of a second.
    const [mon, osd, rgw] = processes;
    await rgw?.stop('SIGKILL');
    await osd?.stop('SIGKILL');
    await mon?.stop('SIGTERM', 5_000);
  };

  try {
    const [monPort, rgwPort] = (await freePorts(2)) as [number, number];
    const fsid = randomUUID();
    for (const sub of ['run', 'log', 'rgw', 'ceph-0']) await mkdir(path.join(dir, sub), { recursive: true });
    await writeFile(conf, cephConf(dir, fsid, monPort, rgwPort));

    // Monitor: a monmap naming exactly this monitor and address, then mkfs.
    const monmap = path.join(dir, 'monmap');
    await run('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, monmap], { env });
    await run('ceph-mon', ['-c', conf, '--mkfs', '-i', 'a', '--monmap', monmap], { env });
    const mon = daemon('ceph-mon', 'ceph-mon', ['-i', 'a']);
    await waitFor('the Ceph monitor to form a quorum', async () => {
      if (mon.child.exitCode !== null) throw new Error(`ceph-mon exited:\n${mon.output()}`);
      try {
        const status = JSON.parse(await ceph('quorum_status', '-f', 'json')) as { quorum_names?: string[] };
        return status.quorum_names?.includes('a') ? true : undefined;
      } catch {
        return undefined;
      }
    }, { timeoutMs: 30_000, intervalMs: 200 });
    step('mon');

    // OSD 0 on memstore: register it, mkfs, start; it adds itself to the CRUSH map.
    const osdUuid = randomUUID();
    const id = (await ceph('osd', 'new', osdUuid)).trim();
    if (id !== '0') throw new Error(`expected OSD id 0, got ${JSON.stringify(id)}`);
    await run('ceph-osd', ['-c', conf, '-i', '0', '--mkfs', '--osd-uuid', osdUuid], { env });
    const osd = daemon('ceph-osd', 'ceph-osd', ['-i', '0']);
    await waitFor('the OSD to be up', async () => {
      if (osd.child.exitCode !== null) throw new Error(`ceph-osd exited:\n${osd.output()}`);
      try {
        const stat = JSON.parse(await ceph('osd', 'stat', '-f', 'json')) as { num_up_osds?: number };
        return stat.num_up_osds === 1 ? true : undefined;
      } catch {
        return undefined;
      }
    }, { timeoutMs: 60_000, intervalMs: 200 });
    step('osd');


    // radosgw: ready when an anonymous ListBuckets answers 200.
    const rgw = daemon('radosgw', 'radosgw', ['-n', 'client.rgw.tests']);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await waitFor('radosgw to answer HTTP', async () => {
      if (rgw.child.exitCode !== null) throw new Error(`radosgw exited:\n${rgw.output()}`);
      try {
        const res = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        return res.status === 200 ? true : undefined;
      } catch {
        return undefined;
      }
    }, { timeoutMs: 90_000, intervalMs: 200 });
    step('radosgw');

    // One S3 user with known keys.
    const accessKey = `RGW${randomBytes(8).toString('hex').toUpperCase()}`;
    const secretKey = randomBytes(20).toString('hex');
    await run(
      'radosgw-admin',
      ['-c', conf, 'user', 'create', '--uid', 'tests', '--display-name', 'tests', '--access-key', accessKey, '--secret-key', secretKey],
      { env, timeout: 30_000 },
    );
    step('user');
    timings.total = Date.now() - started;

    return {
      endpoint,
      accessKey,
      secretKey,
      region: 'us-east-1',
      processes,
      dataDir: dir,
      timings,
      async stop() {
        await stopAll();
        await removeDir(dir);
      },
    };
  } catch (err) {
    await stopAll();
    const output = [
      ...processes.map((p) => `--- ${p.name} output ---\n${p.output().slice(-2_000)}`),
      await logTails(path.join(dir, 'log')),
    ].join('\n');
    await removeDir(dir);
    throw new Error(`Ceph RGW did not start: ${(err as Error).message}\n${output}`, { cause: err });
  }
}

/** The last lines of every daemon log, for a failed start. */
async function logTails(logDir: string): Promise<string> {
  const names = await readdir(logDir).catch(() => [] as string[]);
  const parts: string[] = [];
  for (const name of names.sort()) {
    const text = await readFile(path.join(logDir, name), 'utf8').catch(() => '');
    parts.push(`--- ${name} (tail) ---\n${text.split('\n').slice(-25).join('\n')}`);
  }
  return parts.join('\n');
}
