// pino writing JSON lines synchronously to stdout: a short-lived process must
// not lose its last lines on exit. Secrets are never logged on purpose; the
// redaction list and the scrubber (every secret value the environment holds,
// replaced in each line as it is written) are the second line of defence.
import pino from 'pino';
import type { Scrubber } from './secrets.js';

export type Logger = pino.Logger;

/** `fd` 2 sends the log lines to stderr, for commands whose stdout is their output (list, --json). */
export function createLogger(level: string = 'info', fd: 1 | 2 = 1, scrubber?: Scrubber): Logger {
  return pino(
    {
      level,
      base: { tool: 'sqlite-s3-restore' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: ['*.secretAccessKey', '*.sessionToken', '*.credentials', '*.authorization', '*.Authorization', 'err.cause.$response'],
        censor: '[redacted]',
      },
      ...(scrubber ? { hooks: { streamWrite: (line: string) => scrubber.jsonLine(line) } } : {}),
    },
    pino.destination({ dest: fd, sync: true }),
  );
}
