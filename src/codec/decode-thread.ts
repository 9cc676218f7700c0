// Worker-thread entry of WorkerDecoder (worker-decoder.ts): decodes the
// objects the main thread streams to it, one job at a time, and posts each
// piece of output back in a buffer of its own, at most MAX_PIECES_AHEAD ahead
// of what the main thread has consumed.
import { parentPort } from 'node:worker_threads';
import { CorruptBackupError } from '../errors.js';
import { createDecoder, type Decoder } from './decoder.js';
import { release } from './release.js';
import type { DecodeReply, DecodeRequest } from './worker-decoder.js';

/** Pieces posted and not yet acknowledged: one being consumed, one ready. */
const MAX_PIECES_AHEAD = 2;

const port = parentPort as NonNullable<typeof parentPort>;
const reply = (message: DecodeReply, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

let decoder: Decoder | undefined;
let job = 0;
let failed = false;
/** The newest job the main thread cancelled (possibly before its messages were handled here). */
let cancelled = 0;
/** The current job failed or was cancelled: its remaining messages are ignored. */
const dead = () => failed || job <= cancelled;
let ahead = 0;
let wake: (() => void) | undefined;

/** Thrown out of a job the main thread cancelled. */
class Cancelled extends Error {}

async function post(piece: Uint8Array): Promise<void> {
  while (ahead >= MAX_PIECES_AHEAD && !dead()) await new Promise<void>((resolve) => (wake = resolve));
  if (dead()) throw new Cancelled();
  // The decoder reuses its output buffer: the piece moves in a copy.
  const copy = new Uint8Array(piece);
  ahead += 1;
  reply({ type: 'piece', job, buffer: copy.buffer as ArrayBuffer }, [copy.buffer as ArrayBuffer]);
}

async function handle(message: Extract<DecodeRequest, { type: 'begin' | 'input' | 'end' }>): Promise<void> {
  if (message.type === 'begin') {
    job = message.job;
    failed = false;
    ahead = 0;
    decoder = await createDecoder(message.compression, message.name);
    return;
  }
  if (dead() || message.job !== job || !decoder) return;
  if (message.type === 'input') {
    const input = new Uint8Array(message.buffer, 0, message.length);
    decoder.push(input);
    for (let piece = decoder.read(); piece; piece = decoder.read()) await post(piece);
    // Read dry: the decoder holds no reference to the input any more.
    release(input);
    reply({ type: 'consumed', job });
    return;
  }
  decoder.end();
  decoder = undefined;
  reply({ type: 'ended', job });
}

// Jobs' messages one at a time, in order; acknowledgements and cancellations at once.
let queue = Promise.resolve();
port.on('message', (message: DecodeRequest) => {
  if (message.type === 'cancel') {
    cancelled = Math.max(cancelled, message.job);
    wake?.();
    return;
  }
  if (message.type === 'ack') {
    if (message.job === job) ahead -= 1;
    wake?.();
    return;
  }
  queue = queue.then(async () => {
    try {
      await handle(message);
    } catch (err) {
      if (dead()) return;
      failed = true;
      reply({ type: 'error', job, corrupt: err instanceof CorruptBackupError, message: err instanceof Error ? err.message : String(err) });
    }
  });
});
