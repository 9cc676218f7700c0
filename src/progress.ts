// Counts downloaded bytes and logs progress at a fixed interval.
import type { Logger } from './log.js';

export class Progress {
  bytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly started = Date.now();

  constructor(
    private readonly log: Logger,
    private readonly totalBytes: number,
    private readonly intervalMs = 5_000,
  ) {}

  readonly add = (n: number): void => {
    this.bytes += n;
  };

  start(): void {
    let lastBytes = 0;
    let lastTime = Date.now();
    this.timer = setInterval(() => {
      const now = Date.now();
      const rate = ((this.bytes - lastBytes) * 1000) / Math.max(1, now - lastTime);
      this.log.info(
        {
          event: 'progress',
          downloadedBytes: this.bytes,
          totalBytes: this.totalBytes,
          percent: this.totalBytes ? Math.round((this.bytes / this.totalBytes) * 1000) / 10 : 100,
          bytesPerSecond: Math.round(rate),
        },
        'downloading',
      );
      lastBytes = this.bytes;
      lastTime = now;
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): number {
    clearInterval(this.timer);
    return Date.now() - this.started;
  }
}
