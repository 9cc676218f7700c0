// Every failure the tool can report is one of these classes. Each carries the
// process exit code (sysexits style, documented in the README) and a one-line
// message meant for the operator reading `kubectl describe pod`.

export const ExitCode = {
  ok: 0,
  corrupt: 65, // backup corrupt, non-contiguous, or failed verification
  noBackup: 66, // no backup found while one is required, or none at the requested point
  stale: 69, // verify: the newest backup is older than SQLITE_RESTORE_MAX_AGE
  internal: 70,
  localIo: 74, // disk full, read-only target, permission on the volume
  temporary: 75, // storage unreachable / throttled after retries
  auth: 77, // credentials rejected or access denied
  config: 78,
  sigint: 130,
  sigterm: 143,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export abstract class RestoreError extends Error {
  abstract readonly exitCode: ExitCodeValue;
  /** Short machine-friendly name used in logs and the marker. */
  abstract readonly kind: string;

  constructor(message: string, options?: { cause?: unknown }) {
    // Keep the message on one line: it ends up in the termination message.
    super(message.replace(/\s*\n\s*/g, ' '), options);
    this.name = new.target.name;
  }
}

export class ConfigError extends RestoreError {
  readonly exitCode = ExitCode.config;
  readonly kind = 'config';
}

export class AuthError extends RestoreError {
  readonly exitCode = ExitCode.auth;
  readonly kind = 'auth';
}

export class NoBackupError extends RestoreError {
  readonly exitCode = ExitCode.noBackup;
  readonly kind = 'no-backup';
}

/**
 * Backups exist, but none holds the requested point in time (or TXID, or WAL
 * index) exactly, or nothing is that old: exit 66 like "no backup", but never
 * turned into a first boot.
 */
export class TargetUnreachableError extends RestoreError {
  readonly exitCode = ExitCode.noBackup;
  readonly kind = 'target-unreachable';
}

/** `verify` only: the backup restores, but its newest state is older than SQLITE_RESTORE_MAX_AGE. */
export class StaleBackupError extends RestoreError {
  readonly exitCode = ExitCode.stale;
  readonly kind = 'stale';
}

export class CorruptBackupError extends RestoreError {
  readonly exitCode = ExitCode.corrupt;
  readonly kind = 'corrupt';
}

export class TemporaryError extends RestoreError {
  readonly exitCode = ExitCode.temporary;
  readonly kind = 'temporary';
}

export class LocalIoError extends RestoreError {
  readonly exitCode = ExitCode.localIo;
  readonly kind = 'local-io';
}

export class InternalError extends RestoreError {
  readonly exitCode = ExitCode.internal;
  readonly kind = 'internal';
}

/** Raised when the run is cancelled by SIGTERM/SIGINT or the overall timeout. */
export class AbortedError extends RestoreError {
  readonly exitCode: ExitCodeValue;
  readonly kind = 'aborted';

  constructor(message: string, exitCode: ExitCodeValue) {
    super(message);
    this.exitCode = exitCode;
  }
}

const localIoCodes = new Set(['ENOSPC', 'EROFS', 'EACCES', 'EPERM', 'EDQUOT', 'EIO', 'ENOTDIR', 'EISDIR', 'EMFILE']);

/** Turns a Node file-system error into a LocalIoError with a readable message. */
export function toLocalIoError(err: unknown, action: string): RestoreError {
  if (err instanceof RestoreError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  const detail = err instanceof Error ? err.message : String(err);
  if (code && (localIoCodes.has(code) || code === 'ENOENT')) {
    const hint =
      code === 'ENOSPC' || code === 'EDQUOT'
        ? ' (the volume is full)'
        : code === 'EROFS'
          ? ' (the file system is read-only)'
          : code === 'EACCES' || code === 'EPERM'
            ? ' (permission denied: check the volume owner, fsGroup and runAsUser)'
            : '';
    return new LocalIoError(`${action} failed${hint}: ${detail}`, { cause: err });
  }
  return new InternalError(`${action} failed: ${detail}`, { cause: err });
}
