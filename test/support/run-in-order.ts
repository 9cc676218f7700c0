// Runs test files one at a time in the order given, TAP on stdout, exit code 1
// if any test failed: `node --test` sorts the files it is given, and the late
// files (run-tests.sh) must run in the order the slow setup readies their parts.
//
//   node dist/test/support/run-in-order.js FILE...
import { run } from 'node:test';
import { tap } from 'node:test/reporters';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: run-in-order.js FILE...');
  process.exit(2);
}
const stream = run({ files, concurrency: 1 });
stream.on('test:fail', () => {
  process.exitCode = 1;
});
stream.compose(tap).pipe(process.stdout);
