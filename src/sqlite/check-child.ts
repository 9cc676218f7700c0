// Child-process entry of sqlite-check.ts: runs one check and prints its outcome as one JSON line.
import { runCheck } from './check-run.js';
import type { CheckJob } from './sqlite-check.js';

process.stdout.write(`${JSON.stringify(runCheck(JSON.parse(process.argv[2] ?? '{}') as CheckJob))}\n`);
