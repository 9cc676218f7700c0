// Reads the whole configuration once, from environment variables only, into a
// frozen typed object. Every problem becomes a ConfigError (exit 78) whose
// message names the variable but never echoes a value that could be a secret.
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import envVar from 'env-var';
import { ConfigError } from './errors.js';
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
}

/** Every variable this tool reads; the README table documents exactly these. */
export const CONFIG_VARIABLES = [
  'SQLITE_RESTORE_REPLICA_URL',
  'SQLITE_RESTORE_LAYOUT',
  'SQLITE_RESTORE_DB_PATH',
  'SQLITE_RESTORE_S3_ENDPOINT',
  'SQLITE_RESTORE_S3_FORCE_PATH_STYLE',
  'SQLITE_RESTORE_S3_REGION',
  'SQLITE_RESTORE_S3_CHECKSUMS',
  'SQLITE_RESTORE_IF_EXISTS',
  'SQLITE_RESTORE_IF_NO_BACKUP',
  'SQLITE_RESTORE_VERIFY',
  'SQLITE_RESTORE_MARKER_PATH',
  'SQLITE_RESTORE_TIMEOUT_SECONDS',
  'SQLITE_RESTORE_CONCURRENCY',
  'SQLITE_RESTORE_MAX_ATTEMPTS',
  'SQLITE_RESTORE_RETRY_WINDOW_SECONDS',
  'SQLITE_RESTORE_IDLE_TIMEOUT_SECONDS',
  'SQLITE_RESTORE_LOG_LEVEL',
  'SQLITE_RESTORE_TERMINATION_LOG',
  'SQLITE_RESTORE_FILE_MODE',
  'SQLITE_RESTORE_FILE_UID',
  'SQLITE_RESTORE_FILE_GID',
  'SQLITE_RESTORE_TARGET_TIME',
  'SQLITE_RESTORE_TARGET_GENERATION',
  'SQLITE_RESTORE_TARGET_INDEX',
  'SQLITE_RESTORE_TARGET_TXID',
  'SQLITE_RESTORE_TARGET_MATCH',
  'SQLITE_RESTORE_VERIFY_DIR',
] as const;

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
    const bucket = url.hostname;
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new ConfigError(`SQLITE_RESTORE_REPLICA_URL has an invalid bucket name "${bucket}"`);
    }
    if (url.username || url.password || url.search || url.hash) {
      throw new ConfigError(
        'SQLITE_RESTORE_REPLICA_URL must not carry credentials, a query or a fragment: use the AWS_* variables for credentials',
      );
    }
    let prefix: string;
    try {
      prefix = decodeURIComponent(url.pathname).replace(/^\/+/, '').replace(/\/+$/, '');
    } catch {
      throw new ConfigError('SQLITE_RESTORE_REPLICA_URL path has a malformed %-escape');
    }
    return Object.freeze({ kind: 's3', bucket, prefix, url: `s3://${bucket}/${prefix}` });
  }
  if (url.protocol === 'file:') {
    if (url.hostname && url.hostname !== 'localhost') {
      throw new ConfigError('SQLITE_RESTORE_REPLICA_URL file URLs must be local: file:///absolute/dir');
    }
    const dir = path.resolve(fileURLToPath(url));
    return Object.freeze({ kind: 'file', dir, url: `file://${dir}` });
  }
  throw new ConfigError(
    `SQLITE_RESTORE_REPLICA_URL has unsupported scheme "${url.protocol}": expected s3:// or file://`,
  );
}

function absolutePath(name: string, value: string): string {
  if (!path.isAbsolute(value)) throw new ConfigError(`${name} must be an absolute path`);
  if (value.endsWith('/')) throw new ConfigError(`${name} must name a file, not a directory`);
  return path.normalize(value);
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
  const env = envVar.from(environment);
  try {
    const replica = parseReplicaUrl(
      env.get('SQLITE_RESTORE_REPLICA_URL').required().example('s3://my-bucket/db/app.db').asString(),
    );
    const givenDbPath = env.get('SQLITE_RESTORE_DB_PATH').required(command === 'restore').example('/data/app.db').asString();
    const verifyDirValue = env.get('SQLITE_RESTORE_VERIFY_DIR').example('/scratch').asString();
    const verifyDir = verifyDirValue
      ? absoluteDir('SQLITE_RESTORE_VERIFY_DIR', verifyDirValue)
      : givenDbPath
        ? path.dirname(absolutePath('SQLITE_RESTORE_DB_PATH', givenDbPath))
        : os.tmpdir();
    // list never writes a database; verify writes into its own scratch directory.
    const dbPath = absolutePath('SQLITE_RESTORE_DB_PATH', givenDbPath ?? path.join(verifyDir, 'verify.db'));
    const endpoint = env.get('SQLITE_RESTORE_S3_ENDPOINT').example('http://minio:9000').asUrlString();
    const forcePathStyle = env
      .get('SQLITE_RESTORE_S3_FORCE_PATH_STYLE')
      .default(endpoint ? 'true' : 'false')
      .asBoolStrict();
    const region =
      env.get('SQLITE_RESTORE_S3_REGION').asString() ??
      env.get('AWS_REGION').asString() ??
      env.get('AWS_DEFAULT_REGION').asString() ??
      'us-east-1';
    const checksumSetting = env
      .get('SQLITE_RESTORE_S3_CHECKSUMS')
      .default('auto')
      .asEnum(['auto', 'when_required', 'when_supported']);
    const sdkChecksumVarsSet =
      environment.AWS_REQUEST_CHECKSUM_CALCULATION !== undefined ||
      environment.AWS_RESPONSE_CHECKSUM_VALIDATION !== undefined;
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

    const rawMode = env.get('SQLITE_RESTORE_FILE_MODE').default('0644').example('0660').asString();
    if (!/^0?[0-7]{3}$/.test(rawMode)) {
      throw new ConfigError('SQLITE_RESTORE_FILE_MODE must be octal permission bits such as 0644 or 0660');
    }
    const config: Config = {
      replica,
      layout: env.get('SQLITE_RESTORE_LAYOUT').default('auto').asEnum(['auto', 'litestream-v0.3', 'litestream-v0.5', 'zlayer']),
      file: Object.freeze({
        mode: Number.parseInt(rawMode, 8),
        uid: env.get('SQLITE_RESTORE_FILE_UID').example('1000').asIntPositive(),
        gid: env.get('SQLITE_RESTORE_FILE_GID').example('1000').asIntPositive(),
      }),
      s3: Object.freeze({
        endpoint: endpoint?.replace(/\/+$/, ''),
        forcePathStyle,
        region,
        checksumMode,
        maxAttempts: optionalPositive(env.get('SQLITE_RESTORE_MAX_ATTEMPTS').asIntPositive(), 'SQLITE_RESTORE_MAX_ATTEMPTS'),
        retryWindowMs: 1000 * retryWindowSeconds(env.get('SQLITE_RESTORE_RETRY_WINDOW_SECONDS').default('60').asIntPositive()),
        idleTimeoutMs:
          1000 *
          positive(
            env.get('SQLITE_RESTORE_IDLE_TIMEOUT_SECONDS').default('30').asIntPositive(),
            'SQLITE_RESTORE_IDLE_TIMEOUT_SECONDS',
          ),
      }),
      dbPath,
      ifExists: env.get('SQLITE_RESTORE_IF_EXISTS').default('skip').asEnum(['skip', 'overwrite']),
      ifNoBackup: env.get('SQLITE_RESTORE_IF_NO_BACKUP').default('fail').asEnum(['fail', 'allow']),
      verify: env.get('SQLITE_RESTORE_VERIFY').default('quick').asEnum(['none', 'quick', 'full']),
      markerPath: absolutePath(
        'SQLITE_RESTORE_MARKER_PATH',
        env.get('SQLITE_RESTORE_MARKER_PATH').default(`${dbPath}.restore.json`).asString(),
      ),
      timeoutSeconds: positive(
        env.get('SQLITE_RESTORE_TIMEOUT_SECONDS').default('900').asIntPositive(),
        'SQLITE_RESTORE_TIMEOUT_SECONDS',
      ),
      concurrency: positive(env.get('SQLITE_RESTORE_CONCURRENCY').default('8').asIntPositive(), 'SQLITE_RESTORE_CONCURRENCY'),
      logLevel: env
        .get('SQLITE_RESTORE_LOG_LEVEL')
        .default('info')
        .asEnum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']),
      terminationLogPath: env.get('SQLITE_RESTORE_TERMINATION_LOG').default('/dev/termination-log').asString(),
      target: parseTarget(environment),
      verifyDir,
    };
    if (config.concurrency > 64) throw new ConfigError('SQLITE_RESTORE_CONCURRENCY must be between 1 and 64');
    if (config.markerPath === config.dbPath) {
      throw new ConfigError('SQLITE_RESTORE_MARKER_PATH must differ from SQLITE_RESTORE_DB_PATH');
    }
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
  if (!path.isAbsolute(value)) throw new ConfigError(`${name} must be an absolute path`);
  return path.normalize(value).replace(/(.)\/+$/, '$1');
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
