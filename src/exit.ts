// How the process ends, whatever ends it (the run's outcome, the watchdog after
// a signal or the timeout, an uncaught error): once, at once, with its code.
// Every write here is synchronous, so process.exit() right after loses nothing,
// and no stray socket or timer can keep a finished run alive.
import { removeTrackedSync } from './local/exit-cleanup.js';
import type { Logger } from './log.js';
import { writeTerminationMessage } from './termination-log.js';

export interface Ending {
  readonly code: number;
  readonly level: 'debug' | 'info' | 'error';
  /** The final log line's fields (event "done", outcome, exit code...). */
  readonly fields: Readonly<Record<string, unknown>>;
  readonly message: string;
  /** The one-line reason for Kubernetes. */
  readonly termination: string;
}

// Outside Kubernetes the default /dev/termination-log is simply not there or not
// writable: no need to say so on every run.
const EXPECTED_OUTSIDE_KUBERNETES = new Set(['ENOENT', 'EACCES', 'EPERM', 'EROFS']);

export class ProcessEnd {
  /**
   * `terminationLogChosen`: SQLITE_RESTORE_TERMINATION_LOG is set, so a message
   * that cannot be written is worth a word in the final line.
   */
  constructor(
    private readonly log: Logger,
    private terminationLog: string,
    private readonly terminationLogChosen: boolean,
    private readonly scrub: (text: string) => string,
  ) {}

  /** Where the termination message goes, once the configuration is known. */
  setTerminationLog(path: string): void {
    this.terminationLog = path;
  }

  /**
   * Removes the temporary files still registered (none when the run cleaned up
   * after itself), writes the termination message and the final log line, exits.
   */
  now(ending: Ending): never {
    const removed = removeTrackedSync();
    const notWritten = writeTerminationMessage(this.terminationLog, this.scrub(ending.termination));
    const report = notWritten !== undefined && (this.terminationLogChosen || !EXPECTED_OUTSIDE_KUBERNETES.has(notWritten));
    try {
      this.log[ending.level](
        {
          ...ending.fields,
          ...(removed.length > 0 ? { removed } : {}),
          ...(report ? { terminationLog: { path: this.terminationLog, notWritten } } : {}),
        },
        ending.message,
      );
    } catch {
      // stdout is gone (a closed pipe): the exit code still tells.
    }
    process.exit(ending.code);
  }
}
