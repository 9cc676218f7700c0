// pino writing JSON lines synchronously to stdout: a short-lived process must
// not lose its last lines on exit. Secrets are never logged on purpose; the
// redaction list and the scrubber (every secret value the environment holds,
// replaced in each line as it is written) are the second line of defence.
import pino from 'pino';
import type { PhaseTracker } from './phase.js';
import type { Scrubber } from './secrets.js';

export type Logger = pino.Logger;

/**
 * `fd` 2 sends the log lines to stderr, for commands whose stdout is their
 * output (list, --json). With `phases`, every line carries the run's phase
 * and counts for its heartbeat.
 */
export function createLogger(level: string = 'info', fd: 1 | 2 = 1, scrubber?: Scrubber, phases?: PhaseTracker): Logger {
  return pino(
    {
      level,
      base: { tool: 'sqlite-s3-restore' },
      ...(phases ? { mixin: phases.mixin } : {}),
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: ['*.secretAccessKey', '*.sessionToken', '*.credentials', '*.authorization', '*.Authorization', 'err.cause.$response'],
        censor: '[redacted]',
      },
      hooks: {
        ...(scrubber ? { streamWrite: (line: string) => scrubber.jsonLine(line) } : {}),
        ...(phases
          ? {
              logMethod(this: pino.Logger, args: Parameters<pino.LogFn>, method: pino.LogFn) {
                phases.touch();
                return method.apply(this, args);
              },
            }
          : {}),
      },
    },
    pino.destination({ dest: fd, sync: true }),
  );
}
