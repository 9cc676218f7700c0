'use strict';
// Preloaded into the restore CLI by the benchmark with
//   NODE_OPTIONS=--require /abs/path/bench/rss-probe.cjs  BENCH_RSS_FILE=/abs/out.json
// When the process exits (normally or through process.exit) it writes the peak
// resident set size the kernel recorded for it (VmHWM in /proc/self/status,
// all threads included) and the CPU time it used (user and system, all
// threads, and apart that of its children: the SQLite check's process) to
// BENCH_RSS_FILE as one JSON line. Written by hand:
// tsc does not compile .cjs files. Does nothing when BENCH_RSS_FILE is unset.
const fs = require('node:fs');

const out = process.env.BENCH_RSS_FILE;
if (out) {
  process.on('exit', () => {
    try {
      const status = fs.readFileSync('/proc/self/status', 'utf8');
      const field = (name) => {
        const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
        return m ? Number(m[1]) : null;
      };
      const usage = process.resourceUsage();
      // cutime and cstime: the CPU of children waited for (the SQLite check's), in USER_HZ ticks.
      const stat = fs.readFileSync('/proc/self/stat', 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const record = {
        pid: process.pid,
        vmHWMKiB: field('VmHWM'),
        vmRSSKiB: field('VmRSS'),
        cpuUserMs: Math.round(usage.userCPUTime / 1000),
        cpuSystemMs: Math.round(usage.systemCPUTime / 1000),
        cpuChildrenMs: ((Number(fields[13]) + Number(fields[14])) * 1000) / 100,
      };
      fs.writeFileSync(out, JSON.stringify(record) + '\n');
    } catch {
      // Never change the outcome of the process being measured.
    }
  });
}
