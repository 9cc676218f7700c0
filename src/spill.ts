// An append-only scratch file for WAL pages, so transactions of any size are
// held on disk, not in memory, until the page folder knows which version of
// each page survives.
import fs from 'node:fs/promises';

const BUFFER_SIZE = 4 << 20;

export class SpillFile {
  private buffer = Buffer.allocUnsafe(BUFFER_SIZE);
  private used = 0;
  private flushed = 0;
  private queued = 0;
  private readonly queue: Buffer[] = [];

  private constructor(
    readonly path: string,
    private readonly handle: fs.FileHandle,
  ) {}

  static async create(path: string): Promise<SpillFile> {
    return new SpillFile(path, await fs.open(path, 'wx+', 0o600));
  }

  /** Copies `page` into the spill and returns its location. Call drain() regularly. */
  append(page: Uint8Array): number {
    if (this.used + page.length > this.buffer.length) {
      this.enqueue();
      this.buffer = Buffer.allocUnsafe(Math.max(BUFFER_SIZE, page.length));
    }
    const location = this.flushed + this.queued + this.used;
    this.buffer.set(page, this.used);
    this.used += page.length;
    return location;
  }

  /** Writes out full buffers; keeps memory bounded between chunks. */
  async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const chunk = this.queue[0] as Buffer;
      await this.handle.write(chunk, 0, chunk.length, this.flushed);
      this.flushed += chunk.length;
      this.queued -= chunk.length;
      this.queue.shift();
    }
  }

  async flush(): Promise<void> {
    if (this.used > 0) {
      this.enqueue();
      this.buffer = Buffer.allocUnsafe(BUFFER_SIZE);
    }
    await this.drain();
  }

  /** Bytes written so far (after flush(): the whole spill). */
  get size(): number {
    return this.flushed + this.queued + this.used;
  }

  async read(into: Buffer, length: number, location: number): Promise<void> {
    const { bytesRead } = await this.handle.read(into, 0, length, location);
    if (bytesRead !== length) throw new Error(`spill file short read at ${location}`);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }

  private enqueue(): void {
    this.queue.push(this.buffer.subarray(0, this.used));
    this.queued += this.used;
    this.used = 0;
  }
}
