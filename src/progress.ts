// Counts downloaded bytes and logs progress at a fixed interval, with the
// rate and an estimate of the time left; once every byte is in, what remains
// of the build is applying them (the 'apply' phase).
import { formatBytes as size } from './byte-size.js';
import type { Logger } from './log.js';
import { PROGRESS_INTERVAL_MS, type PhaseTracker } from './phase.js';

export class Progress {
  bytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private started = Date.now();

  constructor(
    private readonly log: Logger,
    private readonly totalBytes: number,
    private readonly phases?: PhaseTracker,
    private readonly intervalMs = PROGRESS_INTERVAL_MS,
  ) {}

  readonly add = (n: number): void => {
    this.bytes += n;
    if (this.bytes >= this.totalBytes) this.phases?.enter('apply');
  };

  start(): void {
    this.started = Date.now();
    this.phases?.enter(this.totalBytes > 0 ? 'download' : 'apply');
    let lastBytes = 0;
    let lastTime = this.started;
    this.timer = setInterval(() => {
      const now = Date.now();
      const rate = ((this.bytes - lastBytes) * 1000) / Math.max(1, now - lastTime);
      // The average since the start: steadier than the last interval's rate.
      const average = (this.bytes * 1000) / Math.max(1, now - this.started);
      const left = Math.max(0, this.totalBytes - this.bytes);
      const etaSeconds = average > 0 ? Math.ceil(left / average) : undefined;
      const percent = this.totalBytes ? Math.round((this.bytes / this.totalBytes) * 1000) / 10 : 100;
      this.log.info(
        {
          event: 'progress',
          downloadedBytes: this.bytes,
          totalBytes: this.totalBytes,
          percent,
          bytesPerSecond: Math.round(rate),
          ...(etaSeconds !== undefined ? { etaSeconds } : {}),
        },
        left === 0
          ? `downloaded ${size(this.totalBytes)}, applying`
          : `downloading: ${percent}% of ${size(this.totalBytes)} at ${size(rate)}/s${etaSeconds !== undefined ? `, about ${etaSeconds} s left` : ''}`,
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
