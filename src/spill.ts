// An append-only scratch file for WAL pages, so transactions of any size are
// held on disk, not in memory, until the page folder knows which version of
// each page survives. One buffer for its whole life, written out synchronously
// when full: memory stays fixed however many pages a chunk decodes to, and the
// collector has nothing to do.
import fs from 'node:fs/promises';
import { writeAllSync } from './write-all.js';

const BUFFER_SIZE = 1 << 20;

export class SpillFile {
  private buffer = Buffer.allocUnsafe(BUFFER_SIZE);
  private used = 0;
  private flushed = 0;

  private constructor(
    readonly path: string,
    private readonly handle: fs.FileHandle,
  ) {}

  static async create(path: string): Promise<SpillFile> {
    return new SpillFile(path, await fs.open(path, 'wx+', 0o600));
  }

  /** Copies `page` into the spill and returns its location. */
  append(page: Uint8Array): number {
    if (this.used + page.length > this.buffer.length) {
      this.flush();
      if (page.length > this.buffer.length) this.buffer = Buffer.allocUnsafe(page.length);
    }
    const location = this.flushed + this.used;
    this.buffer.set(page, this.used);
    this.used += page.length;
    return location;
  }

  /** Writes out what is buffered. */
  flush(): void {
    writeAllSync(this.handle.fd, this.buffer.subarray(0, this.used), this.flushed);
    this.flushed += this.used;
    this.used = 0;
  }

  /** Bytes appended so far (after flush(): the whole spill). */
  get size(): number {
    return this.flushed + this.used;
  }

  async read(into: Buffer, length: number, location: number): Promise<void> {
    const { bytesRead } = await this.handle.read(into, 0, length, location);
    if (bytesRead !== length) throw new Error(`spill file short read at ${location}`);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
