// npm run bench:limits: our restore against Litestream 0.3.13's, both inside
// a cgroup with a container's limits, on the small-segments backup of `npm
// run bench` (1 GiB by default, BENCH_DB_MIB), over loopback. A memory limit
// counts the page cache, as in a pod: a database larger than the limit leaves
// it, and our verification reads it back from disk. Settings: the chart's
// default limits (1 CPU, 384 MiB), the same CPU with memory for the database
// (its size + 400 MiB), and no limits. Best of BENCH_RUNS each, tools
// interleaved, with the ratio ours / Litestream of the same setting. Needs
// root and cgroup v2 (memory and cpu controllers) or v1.
import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileSha256, logicalDigest } from '../test/support/digest.js';
import { tmpRoot } from '../test/support/paths.js';
import { ensureBackup, sameDigest } from './build-backup.js';
import { makeCgroup, type Limits } from './cgroup.js';
import { startMinioAt } from './minio-dir.js';
import { backupParams, parseParams } from './params.js';
import { LITESTREAM_V3, runLitestream, runOurs, type Replica } from './runners.js';
import { secs, sizeLabel } from './targets.js';

const params = parseParams(process.env);
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const say = (msg: string): void => void process.stdout.write(`[bench:limits] ${msg}\n`);
// A signal still removes the cgroups (bench/cgroup.ts removes them on exit).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

const MiB = 1 << 20;
const mib = params.smallSegments.dbMiB;
const settings: Array<{ label: string; limits: Limits }> = [
  { label: "the chart's default: 1 CPU, 384 MiB", limits: { cpus: 1, memoryBytes: 384 * MiB } },
  { label: `1 CPU, ${mib + 400} MiB (the database + 400 MiB)`, limits: { cpus: 1, memoryBytes: (mib + 400) * MiB } },
  { label: 'no limits', limits: { cpus: undefined, memoryBytes: undefined } },
];

const backup = await ensureBackup(backupParams(params, 'small-segments', mib), params.litestreamV5, (m) => say(`[build] ${m}`));
const { v3 } = backup;
const minio = await startMinioAt(backup.dataDir, v3.credentials);
const replica: Replica = { s3: { endpoint: minio.endpoint, region: minio.region, accessKey: minio.accessKey, secretKey: minio.secretKey }, bucket: v3.bucket, prefix: v3.prefix };
const dir = path.join(tmpRoot, `bench-limits-${process.pid}`);
// removed at exit, also after SIGINT/SIGTERM (process.exit skips finally blocks)
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
const rows: string[] = [];
let checked = false;
try {
  for (const [i, setting] of settings.entries()) {
    const cgroup = await makeCgroup(`sqlite-s3-restore-bench-${process.pid}-${i}`, setting.limits);
    try {
      const ours: Array<{ ms: number; verify: number }> = [];
      const theirs: number[] = [];
      for (let r = 0; r < params.runs; r++) {
        const o = await runOurs(replica, path.join(dir, 'ours'), params.concurrency, [], cgroup.launcher);
        const sha = await fileSha256(o.dbPath);
        if (sha !== o.marker.sha256) throw new Error(`our restore's marker sha256 ${o.marker.sha256} differs from the file's ${sha}`);
        if (!checked) {
          if (!sameDigest(logicalDigest(o.dbPath), v3.digest)) throw new Error('our restored database differs from the source');
          checked = true;
        }
        const m = o.marker.durationsMs;
        ours.push({ ms: o.ms, verify: m.verify ?? NaN });
        say(`${setting.label}: ours ${secs(o.ms)} (plan ${m.plan}, download+apply ${m.download}, verify ${m.verify} ms), peak RSS ${o.rssMiB.toFixed(0)} MiB`);
        await rm(path.join(dir, 'ours'), { recursive: true, force: true });
        const l = await runLitestream(LITESTREAM_V3, replica, v3.sourceDbPath, path.join(dir, 'litestream'), cgroup.launcher);
        theirs.push(l.ms);
        say(`${setting.label}: litestream ${LITESTREAM_V3} ${secs(l.ms)}`);
        await rm(path.join(dir, 'litestream'), { recursive: true, force: true });
      }
      const best = ours.reduce((a, b) => (b.ms < a.ms ? b : a));
      const bestTheirs = Math.min(...theirs);
      rows.push(`| ${setting.label} | ${secs(best.ms)} (verify ${secs(best.verify)}) | ${secs(bestTheirs)} | ${(best.ms / bestTheirs).toFixed(2)}x |`);
    } finally {
      cgroup.remove();
    }
  }
} finally {
  await minio.stop();
}
process.stdout.write(
  `\n${sizeLabel(mib)} small-segments backup, loopback MinIO, best of ${params.runs}:\n\n` +
    `| limits | ours (of which verify) | litestream ${LITESTREAM_V3} | ours / litestream (time) |\n|---|---|---|---|\n${rows.join('\n')}\n`,
);
