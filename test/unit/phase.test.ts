// The phase on every line and the heartbeat (src/phase.ts): a silent phase
// gets a line once per interval, a chatty one none, and a finished run none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../src/log.js';
import { PhaseTracker } from '../../src/phase.js';

function recorder(phases: PhaseTracker) {
  const lines: Array<{ fields: Record<string, unknown>; msg: string }> = [];
  const log = {
    info(fields: Record<string, unknown>, msg: string) {
      phases.touch();
      lines.push({ fields: { ...fields, ...phases.mixin() }, msg });
    },
  } as unknown as Logger;
  return { log, lines };
}

test('a silent phase gets a heartbeat per interval, naming the phase and its time so far', async () => {
  const phases = new PhaseTracker();
  const { log, lines } = recorder(phases);
  phases.enter('verify');
  phases.watch(log, 200);
  await sleep(700);
  phases.stop(true);
  const beats = lines.filter((l) => l.fields.event === 'heartbeat');
  assert.ok(beats.length >= 2 && beats.length <= 4, `${beats.length} heartbeats in 700 ms at 200 ms`);
  assert.ok(beats.every((b) => b.fields.phase === 'verify' && /^still in verify, \d+ s so far$/.test(b.msg)));
  assert.ok((beats.at(-1)?.fields.phaseMs as number) >= 400);
  const after = lines.length;
  await sleep(400);
  assert.equal(lines.length, after, 'no heartbeat once stopped');
  assert.equal(phases.phase, 'done');
});

test('lines written within the interval keep the heartbeat quiet; a failed run keeps its phase', async () => {
  const phases = new PhaseTracker();
  const { log, lines } = recorder(phases);
  phases.enter('download');
  phases.watch(log, 300);
  for (let i = 0; i < 8; i += 1) {
    log.info({ event: 'progress' }, 'downloading');
    await sleep(100);
  }
  phases.stop(false);
  assert.equal(lines.filter((l) => l.fields.event === 'heartbeat').length, 0);
  assert.equal(phases.phase, 'download');
});
