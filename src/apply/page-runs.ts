// Pages written straight into the database file, without the spill: a run of
// consecutive pages (an LTX file's pages ascend) is gathered into one buffer
// and written with one synchronous positional write, as the spill would have
// been, minus the spill's read back and second write. Synchronous, so two
// copies of one page are never in flight at once: the newer lands last.
import { writeAllSync } from './write-all.js';

const RUN_BYTES = 1 << 20;

export class PageRuns {
  private buffer: Buffer | undefined;
  /** File position of the buffer's first byte. */
  private start = 0;
  private used = 0;

  constructor(private readonly fd: number) {}

  write(data: Uint8Array, position: number): void {
    if (this.used > 0 && (position !== this.start + this.used || this.used + data.length > RUN_BYTES)) this.flush();
    if (data.length > RUN_BYTES) {
      writeAllSync(this.fd, data, position);
      return;
    }
    // Allocated on first use: a restore that spills everything never touches it.
    this.buffer ??= Buffer.allocUnsafe(RUN_BYTES);
    if (this.used === 0) this.start = position;
    this.buffer.set(data, this.used);
    this.used += data.length;
  }

  /** Writes out the run being gathered. */
  flush(): void {
    if (this.used === 0 || !this.buffer) return;
    writeAllSync(this.fd, this.buffer.subarray(0, this.used), this.start);
    this.used = 0;
  }
}
