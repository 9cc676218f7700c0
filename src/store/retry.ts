// When to retry a store request that failed transiently, and when to give up:
// exponential backoff with jitter over a window of time counted from the
// request's first failure in a row (any progress starts the count again), and
// optionally at most a number of attempts. Pure: the clock and the random
// source are injectable, so the schedule is unit-tested without waiting.

export interface RetryPolicy {
  /** How long a failing request is retried, from its first failure in a row. 0: never. */
  readonly windowMs: number;
  /** At most this many attempts in a row; undefined: the window alone decides. */
  readonly maxAttempts?: number | undefined;
}

/** One retry, as it is logged. */
export interface RetryReport {
  /** What failed, e.g. "listing s3://bucket/prefix/generations/" or "downloading <key>". */
  readonly what: string;
  /** The error's name and code, e.g. "ECONNREFUSED" or "SlowDown (HTTP 503)"; never a secret. */
  readonly error: string;
  /** The attempt that failed (1 = the first). */
  readonly attempt: number;
  readonly delayMs: number;
  /** Of the window, after this delay. */
  readonly windowLeftMs: number;
}

/** First delay; each further failure doubles it, up to MAX_DELAY_MS. */
export const BASE_DELAY_MS = 250;
export const MAX_DELAY_MS = 5_000;

/** The delay before retry number `failures` (1-based), jittered into [half, full] of the backoff. */
export function backoffMs(failures: number, random: () => number = Math.random): number {
  const full = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.min(failures - 1, 30));
  return Math.round(full * (0.5 + random() / 2));
}

/**
 * The failures of one request (a listing page, one object's bytes) since it
 * last made progress. Each failure asks for the delay before the next
 * attempt; undefined means give up. The last attempt is made at the end of the
 * window, so a store that comes back within the window is always found.
 */
export class RetryWindow {
  private failures = 0;
  private firstFailureAt = 0;

  constructor(
    private readonly policy: RetryPolicy,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  /** Attempts that failed in a row so far. */
  get attempts(): number {
    return this.failures;
  }

  /** Time since the first failure in a row, in ms. */
  get elapsedMs(): number {
    return this.failures === 0 ? 0 : this.now() - this.firstFailureAt;
  }

  /** The request made progress (a page listed, bytes received): a later failure starts a new window. */
  progress(): void {
    this.failures = 0;
  }

  /** Records a failure; returns the delay before the next attempt with what is left of the window after it, or undefined to give up. */
  failed(): { delayMs: number; windowLeftMs: number } | undefined {
    const now = this.now();
    if (this.failures === 0) this.firstFailureAt = now;
    this.failures += 1;
    if (this.policy.maxAttempts !== undefined && this.failures >= this.policy.maxAttempts) return undefined;
    const left = this.firstFailureAt + this.policy.windowMs - now;
    if (left <= 0) return undefined;
    const delayMs = Math.min(backoffMs(this.failures, this.random), left);
    return { delayMs, windowLeftMs: left - delayMs };
  }
}

/** The one line logged for a retry. */
export function describeRetry(r: RetryReport): string {
  return `${r.what} failed (${r.error}), attempt ${r.attempt}: retrying in ${seconds(r.delayMs)}, ${seconds(r.windowLeftMs)} left in the retry window`;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
