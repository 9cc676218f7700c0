// Positional writes that overlap with the work producing them: up to
// `limitBytes` may be in flight while the caller decodes the next chunk.
// The first failure (e.g. ENOSPC) is rethrown by the next call.
import type fs from 'node:fs/promises';

export class WriteQueue {
  private readonly inflight: Array<{ done: Promise<void>; bytes: number }> = [];
  private bytes = 0;
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly handle: fs.FileHandle,
    private readonly limitBytes = 8 << 20,
  ) {}

  async write(data: Uint8Array, position: number): Promise<void> {
    this.check();
    const done = writeAll(this.handle, data, position).catch((error: unknown) => {
      this.failure ??= { error };
    });
    this.inflight.push({ done, bytes: data.length });
    this.bytes += data.length;
    while (this.bytes > this.limitBytes) await this.settleOldest();
    this.check();
  }

  async flush(): Promise<void> {
    while (this.inflight.length > 0) await this.settleOldest();
    this.check();
  }

  private async settleOldest(): Promise<void> {
    const oldest = this.inflight.shift();
    if (!oldest) return;
    await oldest.done;
    this.bytes -= oldest.bytes;
  }

  private check(): void {
    if (this.failure) throw this.failure.error;
  }
}

export async function writeAll(handle: fs.FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}
