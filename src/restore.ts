// The restore pipeline, in order:
//   directories -> lock -> leftovers -> marker slot -> existing database -> plan
//   -> fetch+apply (build) -> verify -> publish -> marker
// Whatever fails, the target path is left as it was and temp files are removed.
import { open } from 'node:fs/promises';
import path from 'node:path';
import { buildDatabase } from './apply/build.js';
import type { Config, VerifyLevel } from './config.js';
import { CorruptBackupError, NoBackupError, toLocalIoError } from './errors.js';
import { planWrittenAt, type Layout, type RestorePlan } from './layout/layout.js';
import { ensureDirectory } from './local/directories.js';
import { inspectTarget, judgeExisting } from './local/existing-database.js';
import { trackTemp } from './local/exit-cleanup.js';
import { fileSha256 } from './local/file-sha256.js';
import { acquireRestoreLock, lockDeadline } from './local/lock.js';
import { previousProvenance, reserveMarker, type Marker, type MarkerSlot } from './local/marker.js';
import { verifyFromDiskWarning } from './local/page-cache-room.js';
import { publishFile } from './local/publish.js';
import { removeLeftovers, removeQuietly, tempPaths } from './local/temp-files.js';
import type { Logger } from './log.js';
import type { PhaseTracker } from './phase.js';
import { Progress } from './progress.js';
import { verifyDatabase } from './sqlite/verify.js';
import { staleness } from './freshness.js';
import { describeNearby } from './store/nearby.js';
import type { Store } from './store/store.js';

export interface RestoreDeps {
  readonly config: Config;
  readonly store: Store;
  readonly layout: Layout;
  readonly log: Logger;
  readonly signal: AbortSignal;
  /** Stamps the run's phase on its log lines (cli.ts); absent in unit tests. */
  readonly phases?: PhaseTracker;
}

/** Flushes a file this run wrote; a write-back error (a full disk, EIO) surfaces here. */
async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function restore(deps: RestoreDeps): Promise<Marker> {
  const { config, log, signal } = deps;
  const t0 = Date.now();
  deps.phases?.enter('prepare');
  // Directories this run creates get the database's owner: the app must be able to create its -wal there.
  for (const [file, setting] of [
    [config.dbPath, 'SQLITE_RESTORE_DB_PATH'],
    [config.markerPath, 'SQLITE_RESTORE_MARKER_PATH'],
  ] as const) {
    const created = await ensureDirectory(path.dirname(file), { setting, ownership: config.file });
    if (created.length > 0) log.info({ event: 'mkdir', directories: created }, 'created missing directories');
  }
  const lock = await acquireRestoreLock(config.dbPath, { log, signal, deadline: lockDeadline(config.timeoutSeconds), mode: config.file.mode });
  try {
    // Only now: without the lock, a live run's temp files look exactly like these.
    const leftovers = [...(await removeLeftovers(config.dbPath)), ...(await removeLeftovers(config.markerPath))];
    if (leftovers.length > 0) log.warn({ event: 'cleanup', files: leftovers }, 'removed temporary files of an earlier interrupted run');
    const marker = await reserveMarker(config.markerPath);
    try {
      return await restoreLocked(deps, marker, t0);
    } finally {
      await marker.discard();
    }
  } finally {
    await lock.release();
  }
}

async function restoreLocked({ config, store, layout, log, signal, phases }: RestoreDeps, marker: MarkerSlot, t0: number): Promise<Marker> {
  const existing = await inspectTarget(config.dbPath);
  if (existing.state === 'present' && config.ifExists === 'skip') {
    const judgement = await judgeExisting(config.dbPath, signal);
    if (judgement.valid) {
      if (judgement.warning) log.warn({ event: 'existing-kept', database: config.dbPath, reason: judgement.warning }, `the database in place: ${judgement.warning}`);
      log.info({ event: 'skip', database: config.dbPath, bytes: judgement.bytes, checks: judgement.checks }, 'a valid database is already in place; not restoring');
      const restoredBy = await previousProvenance(config.markerPath, config.dbPath);
      return marker.write({
        outcome: 'skipped',
        database: config.dbPath,
        replica: config.replica.url,
        checks: judgement.checks,
        ...(restoredBy ? { restoredBy } : {}),
        ...(judgement.warning ? { warnings: [judgement.warning] } : {}),
        durationsMs: { total: Date.now() - t0 },
      });
    }
    log.warn({ event: 'existing-invalid', database: config.dbPath, reason: judgement.reason }, 'the file in place is not a valid database; it will be replaced');
  }

  const tPlan = Date.now();
  phases?.enter('list');
  const plan = await layout.plan(store, signal, config.target);
  phases?.enter('plan');
  const planMs = Date.now() - tPlan;
  if (!plan) {
    // What stands around the prefix, so that a mistyped one shows where the operator looks.
    const nearby = await describeNearby(store, signal);
    if (config.ifNoBackup === 'allow') {
      log.warn(
        { event: 'first-boot', replica: store.location },
        `no backup found at ${store.location}${nearby}; allowed as a first boot, the app starts without a restored database`,
      );
      return marker.write({
        outcome: 'first-boot',
        database: config.dbPath,
        replica: config.replica.url,
        ...(nearby ? { warnings: [`no backup found${nearby}`] } : {}),
        durationsMs: { plan: planMs, total: Date.now() - t0 },
      });
    }
    throw new NoBackupError(
      `no backup found at ${store.location}${nearby}; for a new app's first deploy set SQLITE_RESTORE_IF_NO_BACKUP=allow (an empty start)`,
    );
  }
  if (plan.choice) log.info({ event: 'choice', layout: plan.layout }, plan.choice);
  for (const warning of plan.warnings) log.warn({ event: 'backup-warning' }, warning);
  // Only the newest state can be stale: an older target was asked for.
  const stale = config.target === 'latest' ? staleness(planWrittenAt(plan), config.maxAgeMs) : undefined;
  if (stale) log.warn({ event: 'stale-backup', backupTime: new Date(planWrittenAt(plan)).toISOString() }, stale);
  const totalBytes = plan.steps.reduce((sum, step) => sum + step.object.size, 0);
  log.info(
    {
      event: 'plan',
      layout: plan.layout,
      source: plan.source,
      ...(plan.target ? { target: plan.target } : {}),
      objects: plan.steps.length,
      totalBytes,
      durationMs: planMs,
    },
    'restore planned',
  );

  const temp = tempPaths(config.dbPath);
  // A forced exit (deadline, signal) removes them even if the code below cannot.
  const untrackTemp = [trackTemp(temp.db), trackTemp(temp.spill)];
  let downloaded = 0;
  /** Builds and verifies one plan into the temporary file. */
  const attempt = async (candidate: RestorePlan) => {
    const verify = stricter(config.verify, candidate.minVerify);
    const progress = new Progress(log, candidate.steps.reduce((sum, step) => sum + step.object.size, 0), phases, config.progressIntervalMs);
    try {
      progress.start();
      const built = await buildDatabase({
        store,
        plan: candidate,
        dbTempPath: temp.db,
        spillPath: temp.spill,
        concurrency: config.concurrency,
        signal,
        onBytes: progress.add,
      });
      const downloadMs = progress.stop();
      await removeQuietly(temp.spill);
      log.info(
        { event: 'applied', ...built.details, transactions: built.transactions, pagesWritten: built.pagesWritten, pagesSpilled: built.pagesSpilled, pageSize: built.pageSize, durationMs: downloadMs },
        'backup applied',
      );

      phases?.enter('verify');
      const check = verify === 'full' ? 'integrity_check' : 'quick_check';
      log.info({ event: 'verify-start', verify }, verify === 'none' ? 'verification off: header checks only' : `verifying the database (${check})`);
      const fromDisk = verify === 'none' ? undefined : verifyFromDiskWarning(built.pageCount * built.pageSize, check);
      if (fromDisk) log.warn({ event: 'verify-from-disk' }, fromDisk);
      const tVerify = Date.now();
      // SQLite checks the file in a worker thread while this thread hashes it
      // and the kernel writes it to disk: the checks read the page cache, and
      // the flush (about 0.5 s per GiB here) costs no time of its own.
      const [verified, sha256] = await Promise.all([
        verifyDatabase(temp.db, verify, candidate.source.snapshot?.toString() ?? candidate.layout, signal),
        fileSha256(temp.db, signal),
        syncFile(temp.db),
      ]);
      // Opening the file for checks may leave SQLite's side files: never publish those.
      for (const suffix of ['-wal', '-shm']) await removeQuietly(`${temp.db}${suffix}`);
      const verifyMs = Date.now() - tVerify;
      log.info(
        { event: 'verified', verify, pageCount: verified.pageCount, sha256, durationMs: verifyMs, ...(verified.readAhead ? { readAhead: verified.readAhead } : {}) },
        `verified (${verify}) in ${verifyMs} ms`,
      );
      return { built, verified, sha256, verify, downloadMs, verifyMs };
    } finally {
      progress.stop();
      downloaded += progress.bytes;
    }
  };

  try {
    // A layout whose objects are not provably linked offers fallbacks, best
    // first: a candidate whose content is rejected (corrupt, or failing
    // verification) gives way to the next, loudly.
    const candidates = [plan, ...(plan.fallbacks ?? [])];
    const rejections: string[] = [];
    let chosen = plan;
    let result: Awaited<ReturnType<typeof attempt>> | undefined;
    for (const [i, candidate] of candidates.entries()) {
      try {
        result = await attempt(candidate);
        chosen = candidate;
        break;
      } catch (err) {
        const next = candidates[i + 1];
        if (!next || !(err instanceof CorruptBackupError) || signal.aborted) throw err;
        const message = `rejected ${describePlan(candidate)}: ${err.message}; falling back to ${describePlan(next)}`;
        log.warn({ event: 'fallback', rejected: candidate.source, next: next.source, reason: err.message }, message);
        rejections.push(message);
        for (const warning of next.warnings) if (!plan.warnings.includes(warning)) log.warn({ event: 'backup-warning' }, warning);
        await removeQuietly(temp.db, temp.spill, `${temp.db}-wal`, `${temp.db}-shm`);
      }
    }
    const { built, verified, sha256, verify, downloadMs, verifyMs } = result as NonNullable<typeof result>;
    const warnings = [...rejections, ...chosen.warnings, ...(stale ? [stale] : [])];

    signal.throwIfAborted();
    phases?.enter('publish');
    const tPublish = Date.now();
    await publishFile(temp.db, config.dbPath, config.file);
    const publishMs = Date.now() - tPublish;

    const databaseBytes = verified.pageCount * verified.pageSize;
    return await marker.write({
      outcome: 'restored',
      database: config.dbPath,
      replica: config.replica.url,
      source: { layout: chosen.layout, ...chosen.source, ...(built.details.position ? { position: built.details.position } : {}) },
      ...(chosen.target ? { target: chosen.target } : {}),
      backupTime: new Date(planWrittenAt(chosen)).toISOString(),
      bytes: { downloaded, database: databaseBytes },
      sha256,
      verify,
      ...(warnings.length > 0 ? { warnings } : {}),
      durationsMs: { plan: planMs, download: downloadMs, verify: verifyMs, publish: publishMs, total: Date.now() - t0 },
    }).then((marker) => {
      log.info({ event: 'published', database: config.dbPath, marker: config.markerPath, durationMs: publishMs }, 'database and marker in place');
      return marker;
    });
  } catch (err) {
    throw toLocalIoError(err, 'restoring');
  } finally {
    await removeQuietly(temp.db, temp.spill);
    for (const untrack of untrackTemp) untrack();
  }
}

const VERIFY_LEVELS: readonly VerifyLevel[] = ['none', 'quick', 'full'];

/** The stronger of the configured verification and the one a plan needs. */
function stricter(configured: VerifyLevel, needed: VerifyLevel | undefined): VerifyLevel {
  return needed && VERIFY_LEVELS.indexOf(needed) > VERIFY_LEVELS.indexOf(configured) ? needed : configured;
}

function describePlan(plan: RestorePlan): string {
  return plan.description ?? String(plan.source.snapshot ?? plan.layout);
}
