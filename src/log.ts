// pino writing JSON lines synchronously to stdout: a short-lived process must
// not lose its last lines on exit. Secrets are never logged on purpose; the
// redaction list is a second line of defence.
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string = 'info'): Logger {
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
    },
    pino.destination({ dest: 1, sync: true }),
  );
}
