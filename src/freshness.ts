// How old the newest backup is, against SQLITE_RESTORE_MAX_AGE: a replica
// whose writer stopped still restores, but an operator wants to know (a
// warning on restore) and a backup check must fail (verify, exit 69).
import { ConfigError } from './errors.js';

const UNITS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(?:\d+(?:\.\d+)?[smhd])+$/;
/** A year: anything longer is a typo, not a freshness requirement. */
const MAX_AGE_LIMIT_MS = 365 * UNITS.d!;

/** "90s", "15m", "4h", "1h30m", "2d" (Go-style, as in Litestream's config), or whole seconds ("3600"). */
export function parseMaxAge(value: string, name: string): number {
  const v = value.trim();
  let ms: number;
  if (/^\d+$/.test(v)) ms = Number(v) * 1_000;
  else if (DURATION.test(v)) ms = [...v.matchAll(/(\d+(?:\.\d+)?)([smhd])/g)].reduce((sum, [, n, unit]) => sum + Number(n) * UNITS[unit as string]!, 0);
  else throw new ConfigError(`${name} must be a duration such as 90s, 15m, 4h, 1h30m or 2d (or whole seconds)`);
  if (!(ms >= 1_000 && ms <= MAX_AGE_LIMIT_MS)) throw new ConfigError(`${name} must be between 1s and 365d`);
  return Math.round(ms);
}

/** "5h3m12s", "42s": an age for people. */
export function formatAge(ms: number): string {
  let rest = Math.max(0, Math.round(ms / 1_000));
  const parts: string[] = [];
  for (const [unit, seconds] of [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]] as const) {
    if (rest >= seconds || (unit === 's' && parts.length === 0)) {
      parts.push(`${Math.floor(rest / seconds)}${unit}`);
      rest %= seconds;
    }
  }
  return parts.join('');
}

/**
 * Why a backup written at `writtenAt` is too old for `maxAgeMs` at `now`
 * (undefined when it is fresh enough, or no maximum is set).
 */
export function staleness(writtenAt: number, maxAgeMs: number | undefined, now = Date.now()): string | undefined {
  if (maxAgeMs === undefined) return undefined;
  const age = now - writtenAt;
  if (age <= maxAgeMs) return undefined;
  return (
    `the newest backup was written ${formatAge(age)} ago (${new Date(writtenAt).toISOString()}), more than SQLITE_RESTORE_MAX_AGE (${formatAge(maxAgeMs)}): ` +
    'has its writer (Litestream) stopped? An idle database uploads nothing, so allow for the snapshot interval'
  );
}
