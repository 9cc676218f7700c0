// How far the snapshot writer has got: the bytes at the front of the database
// file that it has written and will never write again (its writes ascend).
// One shared cell, so the snapshot worker can publish it and the fold, in the
// main thread, can write pages below it straight into the file instead of
// spilling them (folded-pages.ts).

export class SnapshotProgress {
  private readonly cell: BigInt64Array;

  /** `buffer`: the cell of another thread's SnapshotProgress (structured clone shares it). */
  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(8)) {
    this.cell = new BigInt64Array(buffer);
  }

  /** Bytes from offset 0 that the snapshot has written for good. */
  get settled(): number {
    return Number(Atomics.load(this.cell, 0));
  }

  /** Called by the writer only after the writes below `bytes` have completed. */
  settle(bytes: number): void {
    Atomics.store(this.cell, 0, BigInt(bytes));
    Atomics.notify(this.cell, 0);
  }

  /** Resolves once the progress is no longer `seen`, or after `ms`. */
  async changed(seen: number, ms: number): Promise<void> {
    const waiting = Atomics.waitAsync(this.cell, 0, BigInt(seen), ms);
    if (!waiting.async) return;
    // A pending waitAsync does not keep Node's event loop alive; this timer does.
    const timer = setTimeout(() => undefined, ms);
    try {
      await waiting.value;
    } finally {
      clearTimeout(timer);
    }
  }
}
