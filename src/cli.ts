#!/usr/bin/env node
// The process boundary: reads the configuration, runs one command, and turns
// the outcome into an exit code, a termination message and a final log line.
import fs from 'node:fs';
import { describeConfig, loadConfig, type Config } from './config.js';
import { AbortedError, ExitCode, InternalError, RestoreError, TemporaryError } from './errors.js';
import { autoLayout, layoutByName } from './layout/detect.js';
import type { Layout } from './layout/layout.js';
import { createLogger, type Logger } from './log.js';
import { restore } from './restore.js';
import { FileStore } from './store/file.js';
import { S3Store } from './store/s3.js';
import type { Store } from './store/store.js';
import { TOOL } from './version.js';

const USAGE = `Usage: sqlite-s3-restore [restore]

Restores a SQLite database from a Litestream (v0.3 or v0.5) backup into SQLITE_RESTORE_DB_PATH.
Configured only through environment variables; see README.md for the list.
Exit codes: 0 ok, 65 corrupt backup, 66 no backup, 70 internal, 74 local I/O,
75 storage unavailable, 77 auth, 78 configuration, 130/143 interrupted.`;

function createStore(config: Config): Store {
  const { replica } = config;
  return replica.kind === 's3'
    ? new S3Store({ bucket: replica.bucket, prefix: replica.prefix, settings: config.s3, concurrency: config.concurrency })
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

async function runRestore(log: Logger): Promise<number> {
  let terminationLog: string | undefined = process.env.SQLITE_RESTORE_TERMINATION_LOG ?? '/dev/termination-log';
  const controller = new AbortController();
  const onSignal = (name: 'SIGTERM' | 'SIGINT') => () => {
    log.warn({ event: 'signal', signal: name }, 'interrupted: cleaning up');
    controller.abort(new AbortedError(`interrupted by ${name}`, name === 'SIGTERM' ? ExitCode.sigterm : ExitCode.sigint));
  };
  process.once('SIGTERM', onSignal('SIGTERM'));
  process.once('SIGINT', onSignal('SIGINT'));

  const started = Date.now();
  try {
    const config = loadConfig();
    terminationLog = config.terminationLogPath;
    log.level = config.logLevel;
    log.info({ event: 'start', version: TOOL.version, config: describeConfig(config) }, 'starting restore');
    const timeout = AbortSignal.timeout(config.timeoutSeconds * 1000);
    timeout.addEventListener('abort', () =>
      controller.abort(new TemporaryError(`timed out after ${config.timeoutSeconds} s (SQLITE_RESTORE_TIMEOUT_SECONDS)`)),
    );
    const marker = await restore({ config, store: createStore(config), layout: chooseLayout(config), log, signal: controller.signal });
    log.info({ event: 'done', outcome: marker.outcome, marker, exitCode: 0 }, `restore finished: ${marker.outcome}`);
    writeTerminationMessage(terminationLog, `${marker.outcome}: ${marker.database}`);
    return ExitCode.ok;
  } catch (caught) {
    const err = toRestoreError(caught, controller.signal);
    log.debug({ err: caught }, 'failure details');
    log.error({ event: 'done', outcome: 'failed', kind: err.kind, exitCode: err.exitCode, durationMs: Date.now() - started }, err.message);
    writeTerminationMessage(terminationLog, `${err.kind}: ${err.message}`);
    return err.exitCode;
  }
}

async function main(argv: string[]): Promise<number> {
  const log = createLogger();
  const command = argv[0] ?? 'restore';
  switch (command) {
    case 'restore':
      return runRestore(log);
    case '--version':
      process.stdout.write(`${TOOL.version}\n`);
      return ExitCode.ok;
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return ExitCode.ok;
    default:
      process.stderr.write(`unknown command "${command}"\n${USAGE}\n`);
      return ExitCode.config;
  }
}

process.exitCode = await main(process.argv.slice(2));
// Logs are synchronous, so nothing is lost if a stray socket or timer would
// otherwise keep the process alive after the work is done.
setTimeout(() => process.exit(), 2_000).unref();
