// The byte-level half of every format parser here: input arrives in chunks of
// any size, and the parser wants items of known size (a header, a block, a
// frame). take(n) returns the next n bytes as one array: a view of the chunk
// when they lie inside it, or a copy staged across chunks when they do not,
// so memory holds at most one item beyond the caller's chunk.

export class ItemReader {
  private input: Uint8Array = new Uint8Array(0);
  private offset = 0;
  private stage = new Uint8Array(16);
  private staged = 0;
  /** Bytes consumed from the whole input so far. */
  position = 0;
  /** Position of the first byte of the item last taken (or being staged), for messages. */
  itemPosition = 0;

  /** The next chunk; everything pushed before must have been consumed. */
  push(chunk: Uint8Array, owner: string): void {
    if (this.offset < this.input.length) throw new Error(`${owner}.push called before the previous chunk was read`);
    this.input = chunk;
    this.offset = 0;
  }

  /** Bytes of the current chunk not consumed yet. */
  get available(): number {
    return this.input.length - this.offset;
  }

  /** True when an item is half staged (the input ended inside it). */
  get partial(): boolean {
    return this.staged > 0;
  }

  /** The next `n` bytes, or undefined when the chunk ends first (they are kept for the next push). */
  take(n: number): Uint8Array | undefined {
    const available = this.input.length - this.offset;
    if (this.staged === 0 && available >= n) {
      const item = this.input.subarray(this.offset, this.offset + n);
      this.itemPosition = this.position;
      this.offset += n;
      this.position += n;
      return item;
    }
    if (available === 0) return undefined;
    if (this.staged === 0) this.itemPosition = this.position;
    if (n > this.stage.length) {
      const bigger = new Uint8Array(n);
      bigger.set(this.stage.subarray(0, this.staged));
      this.stage = bigger;
    }
    const count = Math.min(n - this.staged, available);
    this.stage.set(this.input.subarray(this.offset, this.offset + count), this.staged);
    this.staged += count;
    this.offset += count;
    this.position += count;
    if (this.staged < n) return undefined;
    this.staged = 0;
    return this.stage.subarray(0, n);
  }

  /** Up to `n` bytes of the current chunk as they are (not staged), consumed. */
  takeSome(n: number): Uint8Array {
    const part = this.input.subarray(this.offset, this.offset + Math.min(n, this.input.length - this.offset));
    this.offset += part.length;
    this.position += part.length;
    return part;
  }

  /** The rest of the current chunk, not consumed (see consumed()). */
  peekRest(): Uint8Array {
    return this.input.subarray(this.offset);
  }

  /** Marks `n` bytes of peekRest() as consumed. */
  consumed(n: number): void {
    this.offset += n;
    this.position += n;
  }
}
