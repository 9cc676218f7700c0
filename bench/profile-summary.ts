// Summarises V8 CPU profiles (`node --cpu-prof`, *.cpuprofile JSON): self
// time per function, inclusive time per function and self time per module,
// so a slow restore can be read without DevTools.
//
//   node dist/bench/profile-summary.js <file.cpuprofile | dir> [top=20]
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  selfByFunction: Array<[string, number]>;
  totalByFunction: Array<[string, number]>;
  selfByModule: Array<[string, number]>;
  selfByCategory: Array<[string, number]>;
}

/** A short, stable name for a script URL: package name, product file, or node internal. */
function moduleOf(url: string): string {
  if (!url) return '(native/vm)';
  if (url.startsWith('node:')) return url;
  const clean = url.replace(/^file:\/\//, '');
  const nm = clean.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = clean.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? clean);
  }
  const dist = clean.indexOf('/dist/');
  if (dist >= 0) return clean.slice(dist + 1);
  return path.basename(clean);
}

/** A coarse bucket for a frame, to see at a glance what kind of work dominates. */
export function categoryOf(f: CallFrame): string {
  const { functionName: fn, url } = f;
  if (fn === '(idle)') return 'idle (waiting for I/O or timers)';
  if (fn === '(garbage collector)') return 'garbage collection';
  if (fn === '(program)' || fn === '(root)') return 'V8/native (program)';
  if (url.includes('/lz4/')) return 'LZ4 decoding (product JS)';
  if (url.includes('xxhash') || fn.startsWith('wasm-function') || url.startsWith('wasm://')) return 'xxhash32 (wasm)';
  if (url.includes('@smithy/') || url.includes('@aws-sdk/')) return 'AWS SDK (middleware, signing, parsing)';
  if (url.startsWith('node:_http') || url === 'node:http' || url === 'node:net' || fn === 'writeLatin1String' || fn === 'writeUtf8String' || fn === 'writev') {
    return 'HTTP/socket (node)';
  }
  if (url.startsWith('node:internal/crypto') || url === 'node:crypto') return 'hashing (node:crypto)';
  if (url.startsWith('node:internal/streams') || url === 'node:stream') return 'node streams machinery';
  if (url.startsWith('node:internal/fs') || url === 'node:fs') return 'file I/O (node:fs JS)';
  if (fn === 'writeBuffer' || fn === 'read' || fn === 'writeString' || fn === 'fsync' || fn === 'fstat') return 'native I/O calls (fs/socket)';
  if (url.includes('/node_modules/better-sqlite3/')) return 'SQLite (better-sqlite3)';
  if (url.includes('/dist/src/sqlite/') || url.includes('/dist/src/spill') || url.includes('/dist/src/build')) return 'WAL parse, fold, spill, copy (product JS)';
  if (url.includes('/dist/src/')) return 'product JS (other)';
  if (url.startsWith('node:internal/modules') || url.startsWith('node:internal/bootstrap') || url.includes('cjs-module-lexer')) return 'module loading';
  if (url.startsWith('node:internal/process') || fn === 'runMicrotasks') return 'promise/nextTick machinery';
  if (url.startsWith('node:internal/buffer') || url === 'node:buffer') return 'Buffer allocation/copy';
  return 'other';
}

function functionKey(f: CallFrame): string {
  const name = f.functionName || '(anonymous)';
  if (!f.url) return name;
  return `${name} ${moduleOf(f.url)}:${f.lineNumber + 1}`;
}

export function summarise(profile: CpuProfile, file: string, top = 20): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const modules = new Map<string, number>();
  const categories = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, v: number): void => {
    m.set(k, (m.get(k) ?? 0) + v);
  };
  let totalUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i] is the time since the previous sample: charge the interval to the sample that ends it.
    const us = profile.timeDeltas[i] ?? 0;
    totalUs += us;
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    add(self, functionKey(node.callFrame), us);
    add(categories, categoryOf(node.callFrame), us);
    add(modules, node.callFrame.url ? moduleOf(node.callFrame.url) : node.callFrame.functionName || '(native/vm)', us);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const k = functionKey(byId.get(id)!.callFrame);
      if (!seen.has(k)) {
        seen.add(k);
        add(total, k, us);
      }
    }
  }
  const sorted = (m: Map<string, number>): Array<[string, number]> =>
    [...m.entries()]
      .map(([k, v]): [string, number] => [k, v / 1000])
      .sort((a, b) => b[1] - a[1])
      .slice(0, top);
  return {
    file,
    totalMs: totalUs / 1000,
    selfByFunction: sorted(self),
    totalByFunction: sorted(total).filter(([k]) => k !== '(root)'),
    selfByModule: sorted(modules),
    selfByCategory: sorted(categories),
  };
}

export function formatSummary(s: ProfileSummary): string {
  const pct = (ms: number): string => `${((100 * ms) / s.totalMs).toFixed(1).padStart(5)}%`;
  const rows = (list: Array<[string, number]>): string =>
    list.map(([k, ms]) => `    ${(ms / 1000).toFixed(2).padStart(7)} s ${pct(ms)}  ${k}`).join('\n');
  return [
    `profile ${s.file}: ${(s.totalMs / 1000).toFixed(2)} s sampled`,
    '  self time by category:',
    rows(s.selfByCategory),
    '  self time by module:',
    rows(s.selfByModule.slice(0, 12)),
    '  self time by function:',
    rows(s.selfByFunction),
    '  inclusive time by function:',
    rows(s.totalByFunction),
  ].join('\n');
}

export async function summariseFiles(target: string, top = 20): Promise<ProfileSummary[]> {
  const files = (await stat(target)).isDirectory()
    ? (await readdir(target)).filter((f) => f.endsWith('.cpuprofile')).sort().map((f) => path.join(target, f))
    : [target];
  const out: ProfileSummary[] = [];
  for (const f of files) out.push(summarise(JSON.parse(await readFile(f, 'utf8')) as CpuProfile, f, top));
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const target = process.argv[2];
  if (!target) {
    process.stderr.write('usage: node dist/bench/profile-summary.js <file.cpuprofile | dir> [top]\n');
    process.exit(64);
  }
  for (const s of await summariseFiles(target, Number(process.argv[3] ?? 20))) process.stdout.write(formatSummary(s) + '\n\n');
}
