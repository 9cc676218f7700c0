// Streams plan steps in order while prefetching the small ones ahead of time,
// with bounded concurrency and a bounded number of bytes held in memory.
// Large objects are never buffered: they stream when their turn comes.
import { Readable } from 'node:stream';
import type { PlanStep } from '../layout/layout.js';
import type { Store } from '../store/store.js';

export interface FetchOptions {
  readonly concurrency: number;
  /** Bytes of prefetched objects held at most. */
  readonly budgetBytes: number;
  readonly signal: AbortSignal;
  readonly onBytes?: (n: number) => void;
}

export interface Fetched<T extends PlanStep> {
  readonly step: T;
  readonly body: Readable;
  /** The whole object when it was prefetched (then `body` streams the same bytes). */
  readonly buffer?: Buffer;
}

async function collect(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function* fetchInOrder<T extends PlanStep>(
  store: Store,
  steps: readonly T[],
  options: FetchOptions,
): AsyncGenerator<Fetched<T>> {
  const { concurrency, budgetBytes, signal, onBytes } = options;
  // An object counts as small when a full window of them fits the budget.
  const smallLimit = Math.max(1, Math.floor(budgetBytes / concurrency));
  const prefetched = new Map<number, Promise<Buffer>>();
  let heldBytes = 0;
  let next = 0;

  const fill = (head: number) => {
    next = Math.max(next, head + 1);
    while (next < steps.length && prefetched.size < concurrency) {
      const object = (steps[next] as T).object;
      if (object.size > smallLimit || heldBytes + object.size > budgetBytes) break;
      const pending = store.readAll ? store.readAll(object, { signal, onBytes }) : collect(store.read(object, { signal, onBytes }));
      pending.catch(() => undefined); // surfaced when its turn comes; avoid unhandled rejections meanwhile
      prefetched.set(next, pending);
      heldBytes += object.size;
      next += 1;
    }
  };

  try {
    // The first object too, when it is small (a small snapshot is then decoded without a worker thread).
    fill(-1);
    for (let head = 0; head < steps.length; head += 1) {
      const step = steps[head] as T;
      const ready = prefetched.get(head);
      fill(head);
      if (ready) {
        const buffer = await ready;
        prefetched.delete(head);
        let body: Readable | undefined;
        // Made on demand: most prefetched segments are decoded straight from the buffer.
        yield {
          step,
          buffer,
          get body() {
            return (body ??= Readable.from([buffer]));
          },
        };
        heldBytes -= step.object.size;
      } else {
        yield { step, body: store.read(step.object, { signal, onBytes }) };
      }
    }
  } finally {
    prefetched.clear();
  }
}
