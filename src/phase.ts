// Which phase a run is in, stamped on every log line (a pino mixin), and a
// heartbeat: a line whenever nothing was logged for one progress interval,
// so that a long listing, integrity_check or fsync is never silence.
import type { Logger } from './log.js';

export type Phase = 'start' | 'prepare' | 'list' | 'plan' | 'download' | 'apply' | 'verify' | 'publish' | 'done';

/** The progress interval: at most this long without a log line while a run works. */
export const PROGRESS_INTERVAL_MS = 5_000;

export class PhaseTracker {
  private current: Phase = 'start';
  private since = Date.now();
  private lastLine = Date.now();
  private timer: NodeJS.Timeout | undefined;

  get phase(): Phase {
    return this.current;
  }

  /** For the logger: the fields every line gets. */
  readonly mixin = (): { phase: Phase } => ({ phase: this.current });

  /** For the logger: called on every line written. */
  readonly touch = (): void => {
    this.lastLine = Date.now();
  };

  enter(phase: Phase): void {
    if (phase === this.current) return;
    this.current = phase;
    this.since = Date.now();
  }

  /** Starts the heartbeat (unref'd: it never keeps the process alive). */
  watch(log: Logger, intervalMs = PROGRESS_INTERVAL_MS): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      const now = Date.now();
      if (now - this.lastLine < intervalMs || this.current === 'done') return;
      const seconds = Math.round((now - this.since) / 1000);
      log.info({ event: 'heartbeat', phaseMs: now - this.since }, `still in ${this.current}, ${seconds} s so far`);
    }, Math.max(50, Math.floor(intervalMs / 5)));
    this.timer.unref();
  }

  /** Ends the heartbeat; a finished run's last lines say 'done', a failed one's keep the phase it failed in. */
  stop(finished: boolean): void {
    clearInterval(this.timer);
    if (finished) this.enter('done');
  }
}
