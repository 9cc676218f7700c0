#!/usr/bin/env node
// The process boundary: reads the configuration, runs one command, and turns
// the outcome into an exit code, a termination message and a final log line.
import fs from 'node:fs';
import { describeConfig, loadConfig, type Command, type Config } from './config.js';
import { AbortedError, ConfigError, ExitCode, InternalError, RestoreError, TemporaryError } from './errors.js';
import { autoLayout, layoutByName } from './layout/detect.js';
import type { Layout } from './layout/layout.js';
import { checkTargetSupported } from './layout/target.js';
import { listingJson, listingText, listReplica } from './list.js';
import { createLogger, type Logger } from './log.js';
import { restore } from './restore.js';
import { FileStore } from './store/file.js';
import { S3Store } from './store/s3.js';
import type { Store } from './store/store.js';
import { verifyBackup } from './verify.js';
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

Configured only through environment variables; see README.md for the list.
Exit codes: 0 ok, 65 corrupt backup, 66 no backup (or none at the target), 70 internal,
74 local I/O, 75 storage unavailable, 77 auth, 78 configuration, 130/143 interrupted.`;

function createStore(config: Config, log: Logger, chatty: 'info' | 'debug'): Store {
  const { replica } = config;
  return replica.kind === 's3'
    ? new S3Store({ bucket: replica.bucket, prefix: replica.prefix, settings: config.s3, concurrency: config.concurrency, log, infoLevel: chatty })
    : new FileStore(replica.dir);
}

function chooseLayout(config: Config): Layout {
  return config.layout === 'auto' ? autoLayout : layoutByName(config.layout);
}

function writeTerminationMessage(path: string | undefined, message: string): void {
  if (!path) return;
  try {
    // Kubernetes reads at most 4096 bytes; keep it one line.
    fs.writeFileSync(path, Buffer.from(message.replace(/\s+/g, ' ')).subarray(0, 4096));
  } catch {
    // Not in Kubernetes, or not writable: the log line says it all.
  }
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

interface Invocation {
  readonly command: Command;
  readonly json: boolean;
}

async function run({ command, json }: Invocation, log: Logger): Promise<number> {
  let terminationLog: string | undefined = process.env.SQLITE_RESTORE_TERMINATION_LOG ?? '/dev/termination-log';
  const controller = new AbortController();
  const onSignal = (name: 'SIGTERM' | 'SIGINT') => () => {
    log.warn({ event: 'signal', signal: name }, 'interrupted: cleaning up');
    controller.abort(new AbortedError(`interrupted by ${name}`, name === 'SIGTERM' ? ExitCode.sigterm : ExitCode.sigint));
  };
  process.once('SIGTERM', onSignal('SIGTERM'));
  process.once('SIGINT', onSignal('SIGINT'));
  // list is for people at a terminal: its own start and end lines only at debug level.
  const chatty = command === 'list' ? 'debug' : 'info';

  const started = Date.now();
  try {
    const config = loadConfig(process.env, command);
    terminationLog = config.terminationLogPath;
    log.level = config.logLevel;
    log[chatty]({ event: 'start', command, version: TOOL.version, config: describeConfig(config, command) }, `starting ${command}`);
    const timeout = AbortSignal.timeout(config.timeoutSeconds * 1000);
    timeout.addEventListener('abort', () =>
      controller.abort(new TemporaryError(`timed out after ${config.timeoutSeconds} s (SQLITE_RESTORE_TIMEOUT_SECONDS)`)),
    );
    const layout = chooseLayout(config);
    checkTargetSupported(layout, config.target);
    const deps = { config, store: createStore(config, log, chatty), layout, log, signal: controller.signal };
    switch (command) {
      case 'restore': {
        const marker = await restore(deps);
        log.info({ event: 'done', outcome: marker.outcome, marker, exitCode: 0 }, `restore finished: ${marker.outcome}`);
        writeTerminationMessage(terminationLog, `${marker.outcome}: ${marker.database}`);
        break;
      }
      case 'list': {
        const listing = await listReplica(config, deps.store, layout, controller.signal);
        await writeStdout(json ? listingJson(listing) : listingText(listing));
        const found = listing.layouts.map((l) => l.layout).join(', ') || 'no backup';
        log.debug({ event: 'done', outcome: 'listed', layouts: listing.layouts.length, exitCode: 0 }, `list finished: ${found}`);
        writeTerminationMessage(terminationLog, `listed: ${found} at ${config.replica.url}`);
        break;
      }
      case 'verify': {
        const report = await verifyBackup(deps);
        if (json) await writeStdout(`${JSON.stringify(report, null, 2)}\n`);
        log.info({ event: 'done', outcome: report.outcome, report, exitCode: 0 }, 'verify finished: the backup restores and passes integrity_check');
        writeTerminationMessage(terminationLog, `verified: ${config.replica.url}`);
        break;
      }
    }
    return ExitCode.ok;
  } catch (caught) {
    const err = toRestoreError(caught, controller.signal);
    log.debug({ err: caught }, 'failure details');
    log.error({ event: 'done', command, outcome: 'failed', kind: err.kind, exitCode: err.exitCode, durationMs: Date.now() - started }, err.message);
    writeTerminationMessage(terminationLog, `${err.kind}: ${err.message}`);
    return err.exitCode;
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
  let invocation: ReturnType<typeof parseArgs>;
  try {
    invocation = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
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
  const log = createLogger('info', invocation.command === 'list' || invocation.json ? 2 : 1);
  return run(invocation, log);
}

process.exitCode = await main(process.argv.slice(2));
// Logs are synchronous, so nothing is lost if a stray socket or timer would
// otherwise keep the process alive after the work is done.
setTimeout(() => process.exit(), 2_000).unref();
