// An append-only scratch file of pages, so transactions of any size are held
// on disk, not in memory, until the page map knows which copy of each page
// survives. Pages are addressed by slot (their index in the file): every page
// of one restore has the same size. One buffer for its whole life, written
// out synchronously when full: memory stays fixed however many pages a chunk
// decodes to.
import fs from 'node:fs/promises';
import { writeAllSync } from './write-all.js';

const BUFFER_SIZE = 1 << 20;

export class SpillFile {
  private buffer = Buffer.allocUnsafe(BUFFER_SIZE);
  private used = 0;
  private flushed = 0;
  private slotSize = 0;

  private constructor(
    readonly path: string,
    private readonly handle: fs.FileHandle,
  ) {}

  static async create(path: string): Promise<SpillFile> {
    return new SpillFile(path, await fs.open(path, 'wx+', 0o600));
  }

  /** Copies `page` into the spill and returns its slot; every page has the size of the first (the caller checks). */
  append(page: Uint8Array): number {
    if (this.slotSize === 0) {
      this.slotSize = page.length;
      if (page.length > this.buffer.length) this.buffer = Buffer.allocUnsafe(page.length);
    }
    if (this.used + page.length > this.buffer.length) this.flush();
    const slot = (this.flushed + this.used) / this.slotSize;
    this.buffer.set(page, this.used);
    this.used += page.length;
    return slot;
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

  /** Starts again from an empty file (every page in it has been applied). */
  async reset(): Promise<void> {
    this.used = 0;
    this.flushed = 0;
    await this.handle.truncate(0);
  }

  async read(into: Buffer, length: number, location: number): Promise<void> {
    const { bytesRead } = await this.handle.read(into, 0, length, location);
    if (bytesRead !== length) throw new Error(`spill file short read at ${location}`);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
