// The verify command: a full restore into a scratch directory, checked with
// PRAGMA integrity_check, then thrown away. It proves a backup restores,
// without touching any database in use: for a CronJob that tests backups.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from './config.js';
import { StaleBackupError, toLocalIoError } from './errors.js';
import { staleness } from './freshness.js';
import { ensureDirectory } from './local/directories.js';
import type { Layout } from './layout/layout.js';
import type { Logger } from './log.js';
import type { PhaseTracker } from './phase.js';
import { restore } from './restore.js';
import type { Store } from './store/store.js';
import { TOOL } from './version.js';

export interface VerifyReport {
  readonly outcome: 'verified';
  readonly replica: string;
  readonly source?: Readonly<Record<string, unknown>>;
  readonly target?: Readonly<Record<string, string | number>>;
  /** When the verified state was written to the replica. */
  readonly backupTime?: string;
  readonly bytes?: { readonly downloaded: number; readonly database: number };
  /** SHA-256 of the database the backup restored to. */
  readonly sha256?: string;
  readonly verify: 'full';
  readonly warnings?: readonly string[];
  readonly durationsMs: Readonly<Record<string, number>>;
  readonly tool: typeof TOOL;
  readonly time: string;
}

export interface VerifyDeps {
  readonly config: Config;
  readonly store: Store;
  readonly layout: Layout;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly phases?: PhaseTracker;
}

/** The prefix of scratch directories, inside config.verifyDir. */
export const SCRATCH_PREFIX = '.sqlite-s3-restore-verify-';

export async function verifyBackup({ config, store, layout, log, signal, phases }: VerifyDeps): Promise<VerifyReport> {
  let scratch: string;
  await ensureDirectory(config.verifyDir, { setting: 'SQLITE_RESTORE_VERIFY_DIR' });
  try {
    scratch = await fs.mkdtemp(path.join(config.verifyDir, SCRATCH_PREFIX));
  } catch (err) {
    throw toLocalIoError(err, `creating a scratch directory in ${config.verifyDir}`);
  }
  log.info({ event: 'scratch', dir: scratch }, 'restoring into a scratch directory');
  try {
    const marker = await restore({
      config: {
        ...config,
        dbPath: path.join(scratch, path.basename(config.dbPath)),
        markerPath: path.join(scratch, 'marker.json'),
        // A fresh directory, a private file, and no backup is a failure whatever the restore's settings.
        ifExists: 'overwrite',
        ifNoBackup: 'fail',
        verify: 'full',
        file: { mode: 0o600, uid: undefined, gid: undefined },
      },
      store,
      layout,
      log,
      signal,
      ...(phases ? { phases } : {}),
    });
    // The backup restores; whether it is recent enough is the last question, and its own exit code.
    const stale = marker.backupTime && config.target === 'latest' ? staleness(Date.parse(marker.backupTime), config.maxAgeMs) : undefined;
    if (stale) throw new StaleBackupError(`${stale}; it restores and passes integrity_check`);
    return {
      outcome: 'verified',
      replica: marker.replica,
      ...(marker.source ? { source: marker.source } : {}),
      ...(marker.target ? { target: marker.target } : {}),
      ...(marker.backupTime ? { backupTime: marker.backupTime } : {}),
      ...(marker.bytes ? { bytes: marker.bytes } : {}),
      ...(marker.sha256 ? { sha256: marker.sha256 } : {}),
      verify: 'full',
      ...(marker.warnings ? { warnings: marker.warnings } : {}),
      durationsMs: marker.durationsMs,
      tool: TOOL,
      time: new Date().toISOString(),
    };
  } finally {
    await fs.rm(scratch, { recursive: true, force: true }).catch((err: unknown) => {
      log.warn({ event: 'scratch-cleanup', dir: scratch, err }, 'could not remove the scratch directory');
    });
  }
}
