// Writes a snapshot into the database file: input chunks go through the
// layout's snapshot source (see snapshot-source.ts), which decodes them one
// block at a time into writes; the writes go to libuv's threadpool, several
// at a time. Used by the snapshot worker thread (snapshot-worker.ts), and in
// the calling thread for a small snapshot, where starting a worker would cost
// more than the decoding.
import { ftruncateSync, write as writeAsync } from 'node:fs';
import { InternalError } from '../errors.js';
import { DB_HEADER_SIZE } from '../sqlite/header.js';
import { SnapshotProgress } from './snapshot-progress.js';
import type { CreateSnapshotSource, SnapshotSource, SnapshotSourceSpec } from './snapshot-source.js';
import { writeAllSync } from './write-all.js';

/** Compressed bytes pushed to the source at a time. */
const PIECE_BYTES = 256 << 10;
const WRITE_BUFFER_BYTES = 1 << 20;
const WRITE_BUFFERS = 6;
/** Free write buffers wanted before each read: one LZ4 block's worth. */
const ROOM = 4;

/**
 * Positional writes on the threadpool, several in flight: filling the page
 * cache scales with threads (a 1 GiB file took 2.6-4.4 s from one thread and
 * 1.2-1.8 s from two on our build VMs), and decoding goes on meanwhile. Data
 * is copied into a few reused buffers, contiguous writes (an image's blocks,
 * an LTX snapshot's run of pages) into the same one; when none is free, it is
 * written synchronously, so memory stays fixed whatever a read decodes to.
 *
 * Writes must ascend, so that everything before the first write not yet
 * completed is final: that offset is published as the snapshot's progress.
 */
class ParallelWrites {
  constructor(
    private readonly fd: number,
    private readonly progress: SnapshotProgress | undefined,
  ) {}

  private readonly free: Buffer[] = Array.from({ length: WRITE_BUFFERS }, () => Buffer.allocUnsafe(WRITE_BUFFER_BYTES));
  private inflight = 0;
  private failure: { error: unknown } | undefined;
  private wake: (() => void) | undefined;
  /** The buffer being filled, and the file position of its first byte. */
  private current: Buffer | undefined;
  private currentStart = 0;
  private currentFilled = 0;
  /** Submitted writes in position order, until the ones before them are done too. */
  private readonly queue: Array<{ readonly start: number; done: boolean }> = [];
  /** End of the furthest write so far. */
  private end = 0;
  private published = 0;

  write(data: Uint8Array, position: number): void {
    this.check();
    if (position < this.end) throw new InternalError(`snapshot writes must ascend: ${position} after ${this.end}`);
    this.end = position + data.length;
    this.place(data, position);
    this.publish();
  }

  private place(data: Uint8Array, position: number): void {
    let at = 0;
    if (this.current && position === this.currentStart + this.currentFilled) {
      const n = Math.min(this.current.length - this.currentFilled, data.length);
      this.current.set(data.subarray(0, n), this.currentFilled);
      this.currentFilled += n;
      at = n;
      if (this.currentFilled === this.current.length) this.submitCurrent();
    } else {
      this.submitCurrent();
    }
    while (at < data.length) {
      const buffer = this.free.pop();
      if (!buffer) {
        writeAllSync(this.fd, data.subarray(at), position + at);
        return;
      }
      const n = Math.min(buffer.length, data.length - at);
      buffer.set(data.subarray(at, at + n));
      this.current = buffer;
      this.currentStart = position + at;
      this.currentFilled = n;
      at += n;
      if (n === buffer.length) this.submitCurrent();
    }
  }

  /** Waits until `count` buffers are free. */
  async room(count: number): Promise<void> {
    while (this.free.length < count && this.inflight > 0) await new Promise<void>((resolve) => (this.wake = resolve));
    this.check();
  }

  /** End of the furthest write so far. */
  get written(): number {
    return this.end;
  }

  async drain(): Promise<void> {
    this.submitCurrent();
    while (this.inflight > 0) await new Promise<void>((resolve) => (this.wake = resolve));
    this.check();
  }

  private submitCurrent(): void {
    const buffer = this.current;
    if (!buffer) return;
    this.current = undefined;
    this.submit(buffer, 0, this.currentFilled, this.currentStart);
  }

  private submit(buffer: Buffer, offset: number, length: number, position: number, entry = this.enqueue(position)): void {
    this.inflight += 1;
    writeAsync(this.fd, buffer, offset, length, position, (error, written) => {
      this.inflight -= 1;
      if (error) this.failure ??= { error };
      else if (written < length) this.submit(buffer, offset + written, length - written, position + written, entry);
      if (error || written >= length) this.free.push(buffer);
      if (!error && written >= length) {
        entry.done = true;
        while (this.queue[0]?.done) this.queue.shift();
        this.publish();
      }
      const wake = this.wake;
      this.wake = undefined;
      wake?.();
    });
  }

  private enqueue(start: number): { readonly start: number; done: boolean } {
    const entry = { start, done: false };
    this.queue.push(entry);
    return entry;
  }

  /** Everything before the first write still in flight or still buffered is final. */
  private publish(): void {
    if (!this.progress) return;
    const settled = this.queue[0]?.start ?? (this.current ? this.currentStart : this.end);
    if (settled > this.published) {
      this.published = settled;
      this.progress.settle(settled);
    }
  }

  private check(): void {
    if (this.failure) throw this.failure.error;
  }
}

export interface SnapshotFileResult {
  readonly bytes: number;
  readonly head: Uint8Array;
  readonly details?: unknown;
}

export class SnapshotFile {
  private readonly out: ParallelWrites;
  /** The database header, from whatever writes cover its bytes. */
  private readonly head = Buffer.alloc(DB_HEADER_SIZE);
  private headFilled = 0;

  private constructor(
    private readonly fd: number,
    private readonly source: SnapshotSource,
    private readonly progress: SnapshotProgress | undefined,
  ) {
    this.out = new ParallelWrites(fd, progress);
  }

  /** `progress`, a SnapshotProgress's cell when given, follows the writes (see snapshot-progress.ts). */
  static async open(spec: SnapshotSourceSpec, fd: number, name: string, progress?: SharedArrayBuffer): Promise<SnapshotFile> {
    const { createSnapshotSource } = (await import(spec.module)) as { createSnapshotSource: CreateSnapshotSource };
    return new SnapshotFile(fd, await createSnapshotSource(spec.params, name), progress && new SnapshotProgress(progress));
  }

  /** Decodes and writes `input`; `breathe` lets the caller's event loop run between pieces. */
  async feed(input: Uint8Array, breathe?: () => Promise<void>): Promise<void> {
    for (let at = 0; at < input.length; at += PIECE_BYTES) {
      this.source.push(input.subarray(at, Math.min(at + PIECE_BYTES, input.length)));
      for (;;) {
        await this.out.room(ROOM);
        const write = this.source.read();
        if (!write) break;
        if (write.position < DB_HEADER_SIZE) {
          const n = Math.min(write.data.length, DB_HEADER_SIZE - write.position);
          this.head.set(write.data.subarray(0, n), write.position);
          this.headFilled = Math.max(this.headFilled, write.position + n);
        }
        this.out.write(write.data, write.position);
        await breathe?.();
      }
    }
  }

  async finish(): Promise<SnapshotFileResult> {
    const end = this.source.end();
    await this.out.drain();
    // Pages the fold wrote below the progress would be cut off.
    if (end.size < this.out.written) throw new InternalError(`snapshot source wrote up to ${this.out.written} bytes of a ${end.size}-byte file`);
    // Sets the size, and leaves any page the source did not write as zeros.
    ftruncateSync(this.fd, end.size);
    // Done: the whole file is final.
    this.progress?.settle(end.size);
    return { bytes: end.size, head: this.head.subarray(0, Math.min(this.headFilled, end.size)), details: end.details };
  }
}
