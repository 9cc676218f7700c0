// Reads the whole configuration once, from environment variables only, into a
// frozen typed object. Every problem becomes a ConfigError (exit 78) whose
// message names the variable but never echoes a value that could be a secret.
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import envVar from 'env-var';
import { ConfigError } from './errors.js';
import { parseMaxAge } from './freshness.js';
import { defaultOf, SETTING_NAMES } from './settings.js';
import {
  describeTarget,
  parseGeneration,
  parseRfc3339,
  parseTxid,
  parseWalIndex,
  type RestoreTarget,
  type TargetMatch,
} from './layout/target.js';

/** The command the configuration is for: only `restore` needs SQLITE_RESTORE_DB_PATH. */
export type Command = 'restore' | 'list' | 'verify';

export type IfExists = 'skip' | 'overwrite';
export type IfNoBackup = 'fail' | 'allow';
export type VerifyLevel = 'none' | 'quick' | 'full';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
/** Which backup layout to read; auto looks at the replica and picks the one it holds. */
export type LayoutSetting = 'auto' | 'litestream-v0.3' | 'litestream-v0.5' | 'zlayer';

export type ReplicaLocation =
  | { readonly kind: 's3'; readonly bucket: string; readonly prefix: string; readonly url: string }
  | { readonly kind: 'file'; readonly dir: string; readonly url: string };

export interface S3Settings {
  readonly endpoint: string | undefined;
  readonly forcePathStyle: boolean;
  readonly region: string;
  /** Undefined leaves the SDK default (which also honours the AWS_* variables). */
  readonly checksumMode: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED' | undefined;
  /** At most this many attempts of one request in a row; undefined: the retry window alone decides. */
  readonly maxAttempts: number | undefined;
  /** How long a request failing transiently is retried, from its first failure in a row. */
  readonly retryWindowMs: number;
  /** A response body that delivers nothing for this long is dropped and resumed. */
  readonly idleTimeoutMs: number;
}

export interface FileOwnership {
  /** Permission bits of the restored database, applied whatever the umask. */
  readonly mode: number;
  /** Owner to set, when the app runs under another uid than this container. */
  readonly uid: number | undefined;
  readonly gid: number | undefined;
}

export interface Config {
  readonly replica: ReplicaLocation;
  readonly layout: LayoutSetting;
  readonly file: FileOwnership;
  readonly s3: S3Settings;
  readonly dbPath: string;
  readonly ifExists: IfExists;
  readonly ifNoBackup: IfNoBackup;
  readonly verify: VerifyLevel;
  readonly markerPath: string;
  readonly timeoutSeconds: number;
  readonly concurrency: number;
  readonly logLevel: LogLevel;
  readonly terminationLogPath: string;
  /** 'latest', or a point in time (SQLITE_RESTORE_TARGET_*). */
  readonly target: RestoreTarget;
  /**
   * Where `verify` makes its scratch directory: SQLITE_RESTORE_VERIFY_DIR, else
   * the directory of SQLITE_RESTORE_DB_PATH when set, else the OS temp dir.
   */
  readonly verifyDir: string;
  /** SQLITE_RESTORE_MAX_AGE: how old the newest backup may be (a warning on restore, exit 69 on verify); undefined: no check. */
  readonly maxAgeMs: number | undefined;
  /** At most this long without a log line while a run works (progress lines, heartbeats). */
  readonly progressIntervalMs: number;
}

/** Every variable this tool reads (src/settings.ts). */
export const CONFIG_VARIABLES = SETTING_NAMES;

export function parseReplicaUrl(raw: string): ReplicaLocation {
  // Checked on the raw text: the URL parser would silently resolve these away.
  const rawPath = raw.replace(/^[a-z0-9+.-]+:\/\/[^/]*/i, '').split(/[?#]/)[0] ?? '';
  if (rawPath.split(/\/|%2f/i).some((part) => /^(\.|%2e){1,2}$/i.test(part))) {
    throw new ConfigError('SQLITE_RESTORE_REPLICA_URL path must not contain "." or ".." segments');
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(
      'SQLITE_RESTORE_REPLICA_URL is not a URL: expected s3://bucket/path or file:///absolute/dir',
    );
  }
  if (url.protocol === 's3:') {
    // Credentials first: the bucket check below would echo the host.
    if (url.username || url.password || url.search || url.hash) {
      throw new ConfigError(
        'SQLITE_RESTORE_REPLICA_URL must not carry credentials, a query or a fragment: use the AWS_* variables for credentials',
      );
    }
    const bucket = url.hostname;
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new ConfigError(`SQLITE_RESTORE_REPLICA_URL has an invalid bucket name "${bucket}"`);
    }
    if (url.port) {
      throw new ConfigError('SQLITE_RESTORE_REPLICA_URL must not carry a port: set the store\'s address in SQLITE_RESTORE_S3_ENDPOINT');
    }
    let prefix: string;
    try {
      prefix = decodeURIComponent(url.pathname).replace(/^\/+/, '').replace(/\/+$/, '');
    } catch {
      throw new ConfigError('SQLITE_RESTORE_REPLICA_URL path has a malformed %-escape');
    }
    if (prefix.includes('\0')) throw new ConfigError('SQLITE_RESTORE_REPLICA_URL path must not contain a NUL byte (%00)');
    return Object.freeze({ kind: 's3', bucket, prefix, url: `s3://${bucket}/${prefix}` });
  }
  if (url.protocol === 'file:') {
    if (url.hostname && url.hostname !== 'localhost') {
      throw new ConfigError('SQLITE_RESTORE_REPLICA_URL file URLs must be local: file:///absolute/dir');
    }
    let dir: string;
    try {
      dir = path.resolve(fileURLToPath(url));
    } catch {
      // Node refuses an encoded "/" (%2F) in a file URL's path.
      throw new ConfigError('SQLITE_RESTORE_REPLICA_URL file path must not encode "/" as %2F: expected file:///absolute/dir');
    }
    if (dir.includes('\0')) throw new ConfigError('SQLITE_RESTORE_REPLICA_URL path must not contain a NUL byte (%00)');
    return Object.freeze({ kind: 'file', dir, url: `file://${dir}` });
  }
  // The scheme is not echoed: a pasted "key:secret" parses as one.
  throw new ConfigError('SQLITE_RESTORE_REPLICA_URL has an unsupported scheme: expected s3:// or file://');
}

/** Linux's limit for one name in a path. */
const MAX_NAME_BYTES = 255;
/**
 * The database's and the marker's file names get suffixes for temporary files
 * (".<name>.restoring-<12 hex>.spill-journal" and the like): room is kept for them.
 */
export const MAX_FILE_NAME_BYTES = 191;
/** The database's, less what the default marker name adds (".restore.json"). */
export const MAX_DB_NAME_BYTES = MAX_FILE_NAME_BYTES - '.restore.json'.length;
/** Well below PATH_MAX (4096), leaving room for the names the tool adds. */
export const MAX_PATH_BYTES = 3072;

/** An absolute, normalised path without NUL, every name within the kernel's limit. */
function checkedPath(name: string, value: string): string {
  if (value.includes('\0')) throw new ConfigError(`${name} must not contain a NUL byte`);
  if (!path.isAbsolute(value)) throw new ConfigError(`${name} must be an absolute path`);
  const normalized = path.normalize(value);
  if (Buffer.byteLength(normalized) > MAX_PATH_BYTES) throw new ConfigError(`${name} is longer than ${MAX_PATH_BYTES} bytes`);
  if (normalized.split('/').some((part) => Buffer.byteLength(part) > MAX_NAME_BYTES)) {
    throw new ConfigError(`${name} has a name longer than ${MAX_NAME_BYTES} bytes`);
  }
  return normalized;
}

/** The path of a file: it must end in a name, not "/", "/." or "/.." (which normalise to a directory). */
function absolutePath(name: string, value: string, maxNameBytes: number = MAX_NAME_BYTES): string {
  const last = value.slice(value.lastIndexOf('/') + 1);
  if (value.endsWith('/') || last === '.' || last === '..') {
    throw new ConfigError(`${name} must name a file, not a directory (it ends in "/", "/." or "/..")`);
  }
  const normalized = checkedPath(name, value);
  if (Buffer.byteLength(path.basename(normalized)) > maxNameBytes) {
    throw new ConfigError(`${name} has a file name longer than ${maxNameBytes} bytes`);
  }
  return normalized;
}

/**
 * The largest whole number of seconds a Node timer can wait (2^31 - 1 ms,
 * about 24.8 days); a larger delay would fire at once.
 */
export const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/** Seconds for a timer: 1 to MAX_TIMER_SECONDS. */
function timerSeconds(value: number, name: string): number {
  if (value < 1 || value > MAX_TIMER_SECONDS) throw new ConfigError(`${name} must be between 1 and ${MAX_TIMER_SECONDS} seconds`);
  return value;
}

/** SQLITE_RESTORE_PROGRESS_SECONDS: 1 s to an hour. */
function progressSeconds(value: number): number {
  if (value < 1 || value > 3600) throw new ConfigError('SQLITE_RESTORE_PROGRESS_SECONDS must be between 1 and 3600');
  return value;
}

/** The largest uid or gid: 2^32 - 1 itself means "no change" to chown(2). */
export const MAX_OWNER_ID = 2 ** 32 - 2;

function ownerId(value: number | undefined, name: string): number | undefined {
  if (value !== undefined && value > MAX_OWNER_ID) throw new ConfigError(`${name} must be between 0 and ${MAX_OWNER_ID}`);
  return value;
}

/** An S3 endpoint: http(s), no credentials (they belong in the AWS_* variables), no query. */
export function parseEndpoint(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('SQLITE_RESTORE_S3_ENDPOINT is not a URL: expected http(s)://host[:port], e.g. http://minio:9000');
  }
  // Never echoed: the value may hold a password.
  if (url.username || url.password) {
    throw new ConfigError(
      'SQLITE_RESTORE_S3_ENDPOINT must not carry credentials (user:password@): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError('SQLITE_RESTORE_S3_ENDPOINT must be an http:// or https:// URL');
  }
  if (url.search || url.hash) throw new ConfigError('SQLITE_RESTORE_S3_ENDPOINT must not carry a query or a fragment');
  return url.toString();
}

/**
 * The signing region, from the first of these that is set. The SDK refuses
 * anything but a hostname label, even for a custom endpoint, and that refusal
 * used to surface as "storage unavailable" (75).
 */
function parseRegion(environment: NodeJS.ProcessEnv): string {
  for (const name of ['SQLITE_RESTORE_S3_REGION', 'AWS_REGION', 'AWS_DEFAULT_REGION']) {
    const value = environment[name];
    if (value === undefined) continue;
    if (!/^(?!-)[a-zA-Z0-9-]{1,63}(?<!-)$/.test(value)) {
      throw new ConfigError(`${name} must be a region name such as us-east-1 (letters, digits and inner hyphens)`);
    }
    return value;
  }
  return 'us-east-1';
}

/** Variables that must be set even when empty, so an empty one gets its own message. */
function requiredVariables(command: Command): Set<string> {
  return new Set(['SQLITE_RESTORE_REPLICA_URL', ...(command === 'restore' ? ['SQLITE_RESTORE_DB_PATH'] : [])]);
}

/**
 * The environment as read: an optional variable set to an empty or blank value
 * counts as unset (templated manifests often render `value: ""`).
 */
function withoutBlanks(environment: NodeJS.ProcessEnv, command: Command): NodeJS.ProcessEnv {
  const required = requiredVariables(command);
  return Object.fromEntries(
    Object.entries(environment).filter(([name, value]) => value !== undefined && (value.trim() !== '' || required.has(name))),
  );
}

/** SQLite's files beside a database, which nothing else may be written over. */
function databaseFiles(dbPath: string): string[] {
  return [dbPath, `${dbPath}-wal`, `${dbPath}-shm`, `${dbPath}-journal`];
}

/**
 * Where the termination message goes. A path that would overwrite the
 * database, one of its SQLite files or the marker is refused.
 */
function terminationLogPath(value: string, dbPath: string, markerPath: string): string {
  const file = absolutePath('SQLITE_RESTORE_TERMINATION_LOG', value);
  if ([...databaseFiles(dbPath), markerPath].includes(file)) {
    throw new ConfigError('SQLITE_RESTORE_TERMINATION_LOG must differ from the database, its -wal/-shm/-journal and the marker');
  }
  return file;
}

export const DEFAULT_TERMINATION_LOG = defaultOf('SQLITE_RESTORE_TERMINATION_LOG');

/**
 * The termination log to use when the configuration as a whole is invalid:
 * SQLITE_RESTORE_TERMINATION_LOG if it is usable on its own, else the default.
 */
export function fallbackTerminationLog(environment: NodeJS.ProcessEnv): string {
  const env = withoutBlanks(environment, 'list');
  const value = env.SQLITE_RESTORE_TERMINATION_LOG;
  if (value === undefined) return DEFAULT_TERMINATION_LOG;
  try {
    const normalize = (raw: string | undefined): string => (raw && !raw.includes('\0') ? path.normalize(raw) : '');
    const dbPath = normalize(env.SQLITE_RESTORE_DB_PATH);
    return terminationLogPath(value, dbPath, normalize(env.SQLITE_RESTORE_MARKER_PATH) || `${dbPath}.restore.json`);
  } catch {
    return DEFAULT_TERMINATION_LOG;
  }
}

/**
 * At most one kind of target: a time, a generation (optionally with a WAL
 * index), or a TXID; SQLITE_RESTORE_TARGET_MATCH only with one of them.
 */
export function parseTarget(environment: NodeJS.ProcessEnv): RestoreTarget {
  const get = (name: string): string | undefined => {
    const value = environment[name];
    return value === undefined || value.trim() === '' ? undefined : value;
  };
  const time = get('SQLITE_RESTORE_TARGET_TIME');
  const generation = get('SQLITE_RESTORE_TARGET_GENERATION');
  const index = get('SQLITE_RESTORE_TARGET_INDEX');
  const txid = get('SQLITE_RESTORE_TARGET_TXID');
  const matchValue = get('SQLITE_RESTORE_TARGET_MATCH');
  const kinds = [
    time !== undefined ? 'SQLITE_RESTORE_TARGET_TIME' : undefined,
    generation !== undefined || index !== undefined ? 'SQLITE_RESTORE_TARGET_GENERATION/INDEX' : undefined,
    txid !== undefined ? 'SQLITE_RESTORE_TARGET_TXID' : undefined,
  ].filter((k) => k !== undefined);
  if (kinds.length > 1) throw new ConfigError(`only one kind of restore target may be set, got ${kinds.join(' and ')}`);
  if (matchValue !== undefined && !['exact', 'at-or-before'].includes(matchValue.trim())) {
    throw new ConfigError('SQLITE_RESTORE_TARGET_MATCH must be exact or at-or-before');
  }
  if (kinds.length === 0) {
    if (matchValue !== undefined) {
      throw new ConfigError('SQLITE_RESTORE_TARGET_MATCH is set but no target is: set SQLITE_RESTORE_TARGET_TIME, _GENERATION (+ _INDEX) or _TXID');
    }
    return 'latest';
  }
  const match = (matchValue?.trim() ?? 'exact') as TargetMatch;
  if (time !== undefined) return Object.freeze({ kind: 'time', time: parseRfc3339(time, 'SQLITE_RESTORE_TARGET_TIME'), match });
  if (txid !== undefined) return Object.freeze({ kind: 'txid', txid: parseTxid(txid, 'SQLITE_RESTORE_TARGET_TXID'), match });
  if (generation === undefined) {
    throw new ConfigError('SQLITE_RESTORE_TARGET_INDEX needs SQLITE_RESTORE_TARGET_GENERATION: WAL indexes restart in every generation');
  }
  return Object.freeze({
    kind: 'generation',
    generation: parseGeneration(generation, 'SQLITE_RESTORE_TARGET_GENERATION'),
    index: index === undefined ? undefined : parseWalIndex(index, 'SQLITE_RESTORE_TARGET_INDEX'),
    match,
  });
}

export function loadConfig(environment: NodeJS.ProcessEnv = process.env, command: Command = 'restore'): Config {
  const present = withoutBlanks(environment, command);
  const env = envVar.from(present);
  try {
    const replica = parseReplicaUrl(
      env.get('SQLITE_RESTORE_REPLICA_URL').required().example('s3://my-bucket/db/app.db').asString(),
    );
    const givenDbPath = env.get('SQLITE_RESTORE_DB_PATH').required(command === 'restore').example('/data/app.db').asString();
    const verifyDirValue = env.get('SQLITE_RESTORE_VERIFY_DIR').example('/scratch').asString();
    const maxAge = env.get('SQLITE_RESTORE_MAX_AGE').example('26h').asString();
    const verifyDir = verifyDirValue
      ? absoluteDir('SQLITE_RESTORE_VERIFY_DIR', verifyDirValue)
      : givenDbPath
        ? path.dirname(absolutePath('SQLITE_RESTORE_DB_PATH', givenDbPath, MAX_DB_NAME_BYTES))
        : os.tmpdir();
    // list never writes a database; verify writes into its own scratch directory.
    const dbPath = absolutePath('SQLITE_RESTORE_DB_PATH', givenDbPath ?? path.join(verifyDir, 'verify.db'), MAX_DB_NAME_BYTES);
    const markerPath = absolutePath(
      'SQLITE_RESTORE_MARKER_PATH',
      env.get('SQLITE_RESTORE_MARKER_PATH').default(`${dbPath}.restore.json`).asString(),
      MAX_FILE_NAME_BYTES,
    );
    if (databaseFiles(dbPath).includes(markerPath)) {
      throw new ConfigError('SQLITE_RESTORE_MARKER_PATH must differ from SQLITE_RESTORE_DB_PATH and its -wal, -shm and -journal files');
    }
    const endpoint = parseEndpoint(env.get('SQLITE_RESTORE_S3_ENDPOINT').asString());
    const forcePathStyle = env
      .get('SQLITE_RESTORE_S3_FORCE_PATH_STYLE')
      .default(endpoint ? 'true' : 'false')
      .asBoolStrict();
    const region = parseRegion(present);
    const checksumSetting = env
      .get('SQLITE_RESTORE_S3_CHECKSUMS')
      .default(defaultOf('SQLITE_RESTORE_S3_CHECKSUMS'))
      .asEnum(['auto', 'when_required', 'when_supported']);
    const sdkChecksumVarsSet =
      present.AWS_REQUEST_CHECKSUM_CALCULATION !== undefined || present.AWS_RESPONSE_CHECKSUM_VALIDATION !== undefined;
    // Many S3-compatible stores mishandle the SDK's default CRC32 checksums, so a
    // custom endpoint gets WHEN_REQUIRED unless the user chose otherwise.
    const checksumMode =
      checksumSetting === 'when_required'
        ? 'WHEN_REQUIRED'
        : checksumSetting === 'when_supported'
          ? 'WHEN_SUPPORTED'
          : endpoint && !sdkChecksumVarsSet
            ? 'WHEN_REQUIRED'
            : undefined;

    const rawMode = env.get('SQLITE_RESTORE_FILE_MODE').default(defaultOf('SQLITE_RESTORE_FILE_MODE')).example('0660').asString();
    if (!/^0?[0-7]{3}$/.test(rawMode)) {
      throw new ConfigError('SQLITE_RESTORE_FILE_MODE must be octal permission bits such as 0644 or 0660');
    }
    const config: Config = {
      replica,
      layout: env.get('SQLITE_RESTORE_LAYOUT').default(defaultOf('SQLITE_RESTORE_LAYOUT')).asEnum(['auto', 'litestream-v0.3', 'litestream-v0.5', 'zlayer']),
      file: Object.freeze({
        mode: Number.parseInt(rawMode, 8),
        uid: ownerId(env.get('SQLITE_RESTORE_FILE_UID').example('1000').asIntPositive(), 'SQLITE_RESTORE_FILE_UID'),
        gid: ownerId(env.get('SQLITE_RESTORE_FILE_GID').example('1000').asIntPositive(), 'SQLITE_RESTORE_FILE_GID'),
      }),
      s3: Object.freeze({
        endpoint: endpoint?.replace(/\/+$/, ''),
        forcePathStyle,
        region,
        checksumMode,
        maxAttempts: optionalPositive(env.get('SQLITE_RESTORE_MAX_ATTEMPTS').asIntPositive(), 'SQLITE_RESTORE_MAX_ATTEMPTS'),
        retryWindowMs: 1000 * retryWindowSeconds(env.get('SQLITE_RESTORE_RETRY_WINDOW_SECONDS').default(defaultOf('SQLITE_RESTORE_RETRY_WINDOW_SECONDS')).asIntPositive()),
        idleTimeoutMs:
          1000 *
          timerSeconds(
            env.get('SQLITE_RESTORE_IDLE_TIMEOUT_SECONDS').default(defaultOf('SQLITE_RESTORE_IDLE_TIMEOUT_SECONDS')).asIntPositive(),
            'SQLITE_RESTORE_IDLE_TIMEOUT_SECONDS',
          ),
      }),
      dbPath,
      ifExists: env.get('SQLITE_RESTORE_IF_EXISTS').default(defaultOf('SQLITE_RESTORE_IF_EXISTS')).asEnum(['skip', 'overwrite']),
      ifNoBackup: env.get('SQLITE_RESTORE_IF_NO_BACKUP').default(defaultOf('SQLITE_RESTORE_IF_NO_BACKUP')).asEnum(['fail', 'allow']),
      verify: env.get('SQLITE_RESTORE_VERIFY').default(defaultOf('SQLITE_RESTORE_VERIFY')).asEnum(['none', 'quick', 'full']),
      markerPath,
      timeoutSeconds: timerSeconds(
        env.get('SQLITE_RESTORE_TIMEOUT_SECONDS').default(defaultOf('SQLITE_RESTORE_TIMEOUT_SECONDS')).asIntPositive(),
        'SQLITE_RESTORE_TIMEOUT_SECONDS',
      ),
      concurrency: positive(env.get('SQLITE_RESTORE_CONCURRENCY').default(defaultOf('SQLITE_RESTORE_CONCURRENCY')).asIntPositive(), 'SQLITE_RESTORE_CONCURRENCY'),
      logLevel: env
        .get('SQLITE_RESTORE_LOG_LEVEL')
        .default(defaultOf('SQLITE_RESTORE_LOG_LEVEL'))
        .asEnum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']),
      terminationLogPath: terminationLogPath(
        env.get('SQLITE_RESTORE_TERMINATION_LOG').default(DEFAULT_TERMINATION_LOG).asString(),
        dbPath,
        markerPath,
      ),
      target: parseTarget(present),
      verifyDir,
      maxAgeMs: maxAge === undefined ? undefined : parseMaxAge(maxAge, 'SQLITE_RESTORE_MAX_AGE'),
      progressIntervalMs: 1000 * progressSeconds(env.get('SQLITE_RESTORE_PROGRESS_SECONDS').default(defaultOf('SQLITE_RESTORE_PROGRESS_SECONDS')).asIntPositive()),
    };
    if (config.concurrency > 64) throw new ConfigError('SQLITE_RESTORE_CONCURRENCY must be between 1 and 64');
    return Object.freeze(config);
  } catch (err) {
    if (err instanceof envVar.EnvVarError) {
      // env-var prefixes (and sometimes repeats) its own name; keep one clean sentence.
      const message = err.message.split(/:?\s*env-var:\s*/).find((part) => part.length > 0) ?? err.message;
      throw new ConfigError(message, { cause: err });
    }
    throw err;
  }
}

function absoluteDir(name: string, value: string): string {
  return checkedPath(name, value).replace(/(.)\/+$/, '$1');
}

function optionalPositive(value: number | undefined, name: string): number | undefined {
  return value === undefined ? undefined : positive(value, name);
}

/** The documented maximum of SQLITE_RESTORE_RETRY_WINDOW_SECONDS. */
const MAX_RETRY_WINDOW_SECONDS = 3600;

function retryWindowSeconds(value: number): number {
  if (value > MAX_RETRY_WINDOW_SECONDS) {
    throw new ConfigError(`SQLITE_RESTORE_RETRY_WINDOW_SECONDS must be between 0 and ${MAX_RETRY_WINDOW_SECONDS}`);
  }
  return value;
}

function positive(value: number, name: string): number {
  // env-var's asIntPositive accepts 0, which is never meaningful here.
  if (value < 1) throw new ConfigError(`${name} must be at least 1`);
  return value;
}

/** The configuration as it is safe to log: no secrets are part of Config at all. */
export function describeConfig(config: Config, command: Command = 'restore'): Record<string, unknown> {
  const source = {
    replica: config.replica.url,
    layout: config.layout,
    s3: config.replica.kind === 's3' ? config.s3 : undefined,
    timeoutSeconds: config.timeoutSeconds,
    concurrency: config.concurrency,
    ...(config.maxAgeMs !== undefined ? { maxAgeSeconds: config.maxAgeMs / 1000 } : {}),
    progressSeconds: config.progressIntervalMs / 1000,
  };
  if (command === 'list') return source;
  if (command === 'verify') {
    return { ...source, verifyDir: config.verifyDir, verify: 'full', target: describeTarget(config.target) };
  }
  return {
    ...source,
    dbPath: config.dbPath,
    ifExists: config.ifExists,
    ifNoBackup: config.ifNoBackup,
    verify: config.verify,
    file: { mode: `0${config.file.mode.toString(8)}`, uid: config.file.uid, gid: config.file.gid },
    markerPath: config.markerPath,
    target: describeTarget(config.target),
  };
}
