#!/usr/bin/env node
// The process boundary: reads the configuration, runs one command, and turns
// the outcome into an exit code, a termination message and a final log line.
import { setMaxListeners } from 'node:events';
import { CONFIG_VARIABLES, describeConfig, fallbackTerminationLog, loadConfig, type Command, type Config } from './config.js';
import { AbortedError, ConfigError, ExitCode, InternalError, RestoreError, TemporaryError } from './errors.js';
import { ProcessEnd, type Ending } from './exit.js';
import { autoLayout, layoutByName } from './layout/detect.js';
import type { Layout } from './layout/layout.js';
import { checkTargetSupported } from './layout/target.js';
import { listingJson, listingText, listReplica } from './list.js';
import { createLogger, type Logger } from './log.js';
import { PhaseTracker } from './phase.js';
import { restore } from './restore.js';
import { createScrubber, secretsIn } from './secrets.js';
import { FileStore } from './store/file.js';
import type { Store } from './store/store.js';
import { verifyBackup } from './verify.js';
import { unknownVariables } from './unknown-variables.js';
import { helpLines } from './settings.js';
import { TOOL } from './version.js';

const USAGE = `Usage: sqlite-s3-restore [restore]
       sqlite-s3-restore list [--json]
       sqlite-s3-restore verify [--json]
       sqlite-s3-restore --help | --version

restore  (the default) Restores a SQLite database from a Litestream (v0.3 or v0.5) or
         zlayer-storage backup into SQLITE_RESTORE_DB_PATH: the newest state, or a point
         in time (Litestream only) set by
         SQLITE_RESTORE_TARGET_TIME (RFC 3339), SQLITE_RESTORE_TARGET_GENERATION
         (+ SQLITE_RESTORE_TARGET_INDEX, v0.3) or SQLITE_RESTORE_TARGET_TXID (v0.5), matched
         exactly unless SQLITE_RESTORE_TARGET_MATCH=at-or-before.
list     Shows what the replica holds: generations, snapshots and WAL indexes (v0.3),
         LTX levels and files (v0.5), snapshots and WAL copies (zlayer). An aligned
         table, or one JSON document with --json.
         An empty replica is an empty listing (exit 0).
verify   Restores (the newest state, or the target) into a scratch directory in
         SQLITE_RESTORE_VERIFY_DIR, beside SQLITE_RESTORE_DB_PATH, or in the OS temp dir,
         runs PRAGMA integrity_check, reports, and removes it. --json prints the report
         on stdout (the logs then go to stderr).

Configured only through environment variables (README.md has the details), plus
the AWS credential chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, IRSA, EKS Pod Identity):
${helpLines().join('\n')}

Exit codes: 0 ok, 65 corrupt backup, 66 no backup (or none at the target), 69 backup
older than SQLITE_RESTORE_MAX_AGE (verify), 70 internal,
74 local I/O, 75 storage unavailable, 77 auth, 78 configuration, 130/143 interrupted.`;

/** The store of the replica; the AWS SDK (a large import) is loaded only for an S3 one. */
async function createStore(config: Config, log: Logger, chatty: 'info' | 'debug'): Promise<Store> {
  const { replica } = config;
  if (replica.kind === 'file') return new FileStore(replica.dir);
  // The SDK's multi-line warning about Node versions (it wants Node 22, which
  // the image runs) would break the one-JSON-line-per-event output on older
  // ones; the start line records the Node version instead.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { S3Store } = await import('./store/s3.js');
  return new S3Store({ bucket: replica.bucket, prefix: replica.prefix, settings: config.s3, concurrency: config.concurrency, log, infoLevel: chatty });
}

function chooseLayout(config: Config): Layout {
  return config.layout === 'auto' ? autoLayout : layoutByName(config.layout);
}

function toRestoreError(err: unknown, signal: AbortSignal): RestoreError {
  if (signal.aborted && signal.reason instanceof RestoreError) return signal.reason;
  if (err instanceof RestoreError) return err;
  return new InternalError(`unexpected error: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/** Resolves once the text is handed to the OS (stdout to a pipe is asynchronous). */
function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(text, (err) => (err ? reject(err) : resolve())));
}

/**
 * After a signal or the timeout, the run has this long to clean up and report
 * by itself; then the watchdog ends the process. Short enough that SIGTERM acts
 * within a second, and a run ends within SQLITE_RESTORE_TIMEOUT_SECONDS + 1 s.
 */
export const CLEANUP_GRACE_MS = 800;

interface Invocation {
  readonly command: Command;
  readonly json: boolean;
}

/**
 * Signals, the overall deadline's aftermath and uncaught errors: whichever
 * comes, the process ends within the bound. A signal aborts the run; if the run
 * has not reported within CLEANUP_GRACE_MS, or a second signal comes, the
 * process ends without it, with the abort's code.
 */
function guard(controller: AbortController, log: Logger, end: ProcessEnd, failed: (err: RestoreError, extra?: Record<string, unknown>) => Ending): void {
  const force = (why: string): never => {
    const reason: unknown = controller.signal.reason;
    const err = reason instanceof RestoreError ? reason : new InternalError(`aborted: ${String(reason)}`);
    log.warn({ event: 'forced-exit', reason: why }, `${why}: ending now`);
    return end.now(failed(err, { forced: true }));
  };
  controller.signal.addEventListener(
    'abort',
    () => setTimeout(() => force(`cleanup did not finish within ${CLEANUP_GRACE_MS} ms`), CLEANUP_GRACE_MS),
    { once: true },
  );
  const onSignal = (name: 'SIGTERM' | 'SIGINT') => () => {
    // A second signal (Ctrl-C twice) does not wait for the cleanup.
    if (controller.signal.aborted) return force(`${name} again`);
    log.warn({ event: 'signal', signal: name }, 'interrupted: cleaning up');
    controller.abort(new AbortedError(`interrupted by ${name}`, name === 'SIGTERM' ? ExitCode.sigterm : ExitCode.sigint));
  };
  process.on('SIGTERM', onSignal('SIGTERM'));
  process.on('SIGINT', onSignal('SIGINT'));
  // Node's default would print the stack (unscrubbed) and exit 1, skipping the cleanup.
  process.on('uncaughtException', (err) => {
    // During an abort, stray rejections of parallel work are expected: the abort's code stands.
    if (controller.signal.aborted) return force(`uncaught error while aborting: ${err.message}`);
    log.debug({ err }, 'failure details');
    return end.now(failed(new InternalError(`unexpected error: ${err.message}`, { cause: err })));
  });
}

async function run({ command, json }: Invocation, log: Logger, end: ProcessEnd, phases: PhaseTracker): Promise<Ending> {
  const controller = new AbortController();
  // Every request in flight listens to it (layout detection alone lists 15 prefixes at once).
  setMaxListeners(0, controller.signal);
  const started = Date.now();
  const failed = (err: RestoreError, extra: Record<string, unknown> = {}): Ending => ({
    code: err.exitCode,
    level: 'error',
    fields: { event: 'done', command, outcome: 'failed', kind: err.kind, exitCode: err.exitCode, durationMs: Date.now() - started, ...extra },
    message: err.message,
    termination: `${err.kind}: ${err.message}`,
  });
  guard(controller, log, end, failed);
  // list is for people at a terminal: its own start and end lines only at debug level.
  const chatty = command === 'list' ? 'debug' : 'info';
  const unknown = unknownVariables(process.env, CONFIG_VARIABLES);
  const warnUnknown = (): void => {
    for (const { name, closest } of unknown) {
      const shown = name.length > 100 ? `${name.slice(0, 100)}…` : name;
      log.warn({ event: 'unknown-variable', variable: shown, closest }, `${shown} is not a variable this tool reads and is ignored; did you mean ${closest}?`);
    }
  };

  try {
    let config: Config;
    try {
      config = loadConfig(process.env, command);
    } catch (err) {
      warnUnknown();
      throw err;
    }
    end.setTerminationLog(config.terminationLogPath);
    log.level = config.logLevel;
    warnUnknown();
    // Loading the SDK blocks the event loop (seconds on a busy node): done
    // before the first line, so no heartbeat is due while nothing can run.
    const store = await createStore(config, log, chatty);
    log[chatty]({ event: 'start', command, version: TOOL.version, node: process.version, config: describeConfig(config, command) }, `starting ${command}`);
    // A listing is for a terminal: no heartbeat lines among its own.
    if (command !== 'list') phases.watch(log, config.progressIntervalMs);
    // Counted from the start of the process, not of this function: loading the
    // modules takes a while on a busy node, and the deadline is the process's.
    setTimeout(
      () => controller.abort(new TemporaryError(`timed out after ${config.timeoutSeconds} s (SQLITE_RESTORE_TIMEOUT_SECONDS)`)),
      Math.max(0, config.timeoutSeconds * 1000 - performance.now()),
    );
    const layout = chooseLayout(config);
    checkTargetSupported(layout, config.target);
    const deps = { config, store, layout, log, signal: controller.signal, phases };
    switch (command) {
      case 'restore': {
        const marker = await restore(deps);
        phases.stop(true);
        return {
          code: ExitCode.ok,
          level: 'info',
          fields: { event: 'done', outcome: marker.outcome, marker, exitCode: 0 },
          message: `restore finished: ${marker.outcome}`,
          termination: `${marker.outcome}: ${marker.database}`,
        };
      }
      case 'list': {
        phases.enter('list');
        const listing = await listReplica(config, deps.store, layout, controller.signal);
        phases.stop(true);
        await writeStdout(json ? listingJson(listing) : listingText(listing));
        const found = listing.layouts.map((l) => l.layout).join(', ') || 'no backup';
        return {
          code: ExitCode.ok,
          level: 'debug',
          fields: { event: 'done', outcome: 'listed', layouts: listing.layouts.length, exitCode: 0 },
          message: `list finished: ${found}`,
          termination: `listed: ${found} at ${config.replica.url}`,
        };
      }
      case 'verify': {
        const report = await verifyBackup(deps);
        phases.stop(true);
        if (json) await writeStdout(`${JSON.stringify(report, null, 2)}\n`);
        return {
          code: ExitCode.ok,
          level: 'info',
          fields: { event: 'done', outcome: report.outcome, report, exitCode: 0 },
          message: 'verify finished: the backup restores and passes integrity_check',
          termination: `verified: ${config.replica.url}`,
        };
      }
    }
  } catch (caught) {
    phases.stop(false);
    const err = toRestoreError(caught, controller.signal);
    log.debug({ err: caught }, 'failure details');
    return failed(err);
  }
}

/** The command and its flags; anything else is a usage error. */
function parseArgs(argv: string[]): Invocation | 'help' | 'version' {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h') return 'help';
  if (first === '--version') return 'version';
  const command = first ?? 'restore';
  if (command !== 'restore' && command !== 'list' && command !== 'verify') throw new ConfigError(`unknown command "${command}"`);
  let json = false;
  for (const arg of rest) {
    if (arg === '--json' && command !== 'restore') json = true;
    else throw new ConfigError(`unknown argument "${arg}" for ${command}`);
  }
  return { command, json };
}

async function main(argv: string[]): Promise<number> {
  const scrubber = createScrubber(secretsIn(process.env));
  let invocation: ReturnType<typeof parseArgs>;
  try {
    invocation = parseArgs(argv);
  } catch (err) {
    process.stderr.write(scrubber.text(`${(err as Error).message}\n${USAGE}\n`));
    return ExitCode.config;
  }
  if (invocation === 'version') {
    process.stdout.write(`${TOOL.version}\n`);
    return ExitCode.ok;
  }
  if (invocation === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return ExitCode.ok;
  }
  // When stdout carries the command's output, the log lines go to stderr.
  const phases = new PhaseTracker();
  const log = createLogger('info', invocation.command === 'list' || invocation.json ? 2 : 1, scrubber, phases);
  // Until the configuration is known: the configured termination log if it is usable on its own.
  const end = new ProcessEnd(log, fallbackTerminationLog(process.env), Boolean(process.env.SQLITE_RESTORE_TERMINATION_LOG?.trim()), scrubber.text);
  return end.now(await run(invocation, log, end, phases));
}

// Usage, --help and --version write to stdout or stderr, a pipe whose write
// completes asynchronously: the exit waits for it. Every other end calls process.exit().
process.exitCode = await main(process.argv.slice(2));
