// Every variable the tool reads, declared once: config.ts takes its defaults
// from here, --help lists it, and test/support/settings-sync.ts writes the
// README's configuration table, the charts' schema entries and the template's
// env list from it (a unit test fails when any of them drifts).
import type { Command } from './config.js';

/** A JSON-schema fragment for the chart value of a setting. */
export type SchemaFragment = Readonly<Record<string, unknown>>;

export interface Setting {
  readonly name: string;
  /** The restore values key of the charts (dotted path); absent: not set from a chart. */
  readonly key?: string;
  /** The commands that read it. */
  readonly commands: readonly Command[];
  /** The tool's default as the variable's text; undefined: unset (or computed, see defaultDoc). */
  readonly default?: string;
  /** The README's "Default" cell (markdown), when it is not simply the default. */
  readonly defaultDoc?: string;
  readonly example: string;
  /** One short line: --help, the schema's description. */
  readonly summary: string;
  /** The README's "Meaning" cell (markdown). */
  readonly doc: string;
  /** The chart value's schema (type, enum, pattern, bounds), without description and default. */
  readonly schema?: SchemaFragment;
  /** The chart's default value: null or "" leave the variable unset (the tool's default applies). */
  readonly chartDefault?: unknown;
}

const ALL: readonly Command[] = ['restore', 'list', 'verify'];
const RESTORE_VERIFY: readonly Command[] = ['restore', 'verify'];
const RESTORE: readonly Command[] = ['restore'];

const intOrNull = (minimum: number, maximum: number): SchemaFragment => ({ type: ['integer', 'null'], minimum, maximum });

export const SETTINGS: readonly Setting[] = [
  {
    name: 'SQLITE_RESTORE_REPLICA_URL',
    key: 'replicaUrl',
    commands: ALL,
    defaultDoc: '(required)',
    example: '`s3://my-bucket/db/app.db` or `file:///backups/app.db`',
    summary: 's3://bucket/path or file:///dir: where the Litestream (or zlayer) replica lives',
    doc: "Where the Litestream replica lives (the replica's `bucket` + `path`, or a `file` replica's directory).",
    schema: { type: 'string', pattern: '^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?|file:///.*)?$' },
    chartDefault: '',
  },
  {
    name: 'SQLITE_RESTORE_LAYOUT',
    key: 'layout',
    commands: ALL,
    default: 'auto',
    example: '`litestream-v0.5`',
    summary: 'auto | litestream-v0.3 | litestream-v0.5 | zlayer',
    doc: 'Backup layout to read: `auto` (probe the replica), `litestream-v0.3`, `litestream-v0.5` or `zlayer` (zlayer-storage).',
    schema: { enum: ['', 'auto', 'litestream-v0.3', 'litestream-v0.5', 'zlayer'] },
    chartDefault: '',
  },
  {
    name: 'SQLITE_RESTORE_DB_PATH',
    key: 'database.path',
    // verify: the scratch database's name, and its directory when SQLITE_RESTORE_VERIFY_DIR is unset.
    commands: RESTORE_VERIFY,
    defaultDoc: '(required by `restore`)',
    example: '`/data/app.db`',
    summary: 'absolute path of the database to create',
    doc: 'Absolute path of the database to create. Its directory is created if missing. It must end in a file name (not `/`, `/.` or `/..`) of at most 178 bytes (room for the marker\'s and the temporary files\' names).',
    schema: { type: 'string', pattern: '^/.*[^/]$' },
    chartDefault: '/data/app.db',
  },
  {
    name: 'SQLITE_RESTORE_S3_ENDPOINT',
    key: 's3.endpoint',
    commands: ALL,
    defaultDoc: 'AWS',
    example: '`http://minio.minio:9000`',
    summary: 'custom endpoint for MinIO, Ceph RGW, R2...',
    doc: 'Custom endpoint for MinIO, Ceph RGW, R2 and other S3-compatible stores: `http://` or `https://`, without a query. Credentials in it (`http://user:password@host`) are refused (exit 78, the value is not echoed): use `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`.',
    schema: { type: 'string', pattern: '^(https?://[^\\s/]+(/.*)?)?$' },
    chartDefault: '',
  },
  {
    name: 'SQLITE_RESTORE_S3_FORCE_PATH_STYLE',
    key: 's3.forcePathStyle',
    commands: ALL,
    defaultDoc: '`true` with an endpoint, else `false`',
    example: '`true`',
    summary: 'path-style addressing (endpoint/bucket/key)',
    doc: 'Path-style addressing (`endpoint/bucket/key`).',
    schema: { type: ['boolean', 'null'] },
    chartDefault: null,
  },
  {
    name: 'SQLITE_RESTORE_S3_REGION',
    key: 's3.region',
    commands: ALL,
    defaultDoc: '`AWS_REGION`, `AWS_DEFAULT_REGION`, then `us-east-1`',
    example: '`eu-west-1`',
    summary: 'region used for signing',
    doc: 'Region used for signing: letters, digits and inner hyphens, as the SDK requires (also checked in the AWS variables it falls back to).',
    schema: { type: 'string', pattern: '^([a-z0-9-]+)?$' },
    chartDefault: '',
  },
  {
    name: 'SQLITE_RESTORE_S3_CHECKSUMS',
    key: 's3.checksums',
    commands: ALL,
    default: 'auto',
    example: '`when_supported`',
    summary: 'auto | when_required | when_supported: S3 checksums on the SDK requests',
    doc: "S3 checksums on the SDK's requests: listing, and object downloads from S3 Express buckets and multi-region access points. `auto`: `when_required` for custom endpoints (many S3-compatibles break on the SDK's default CRC32 checksums) unless `AWS_REQUEST_CHECKSUM_CALCULATION`/`AWS_RESPONSE_CHECKSUM_VALIDATION` are set, the SDK default on AWS. `when_required` / `when_supported` force one. Other object downloads are signed GETs sent without the SDK's per-request stack (a restore makes thousands); their bytes are checked by the backup format's own checksums (LZ4 and zstd content checksums, WAL frame checksums, LTX CRC-64), which are always verified.",
    schema: { enum: ['', 'auto', 'when_required', 'when_supported'] },
    chartDefault: '',
  },
  {
    name: 'SQLITE_RESTORE_IF_EXISTS',
    key: 'ifExists',
    commands: RESTORE,
    default: 'skip',
    example: '`overwrite`',
    summary: 'skip (keep a valid database already there) | overwrite',
    doc: 'What to do when a valid SQLite database is already at the path. `skip` exits 0 with a "skipped" marker; `overwrite` restores over it, replacing it (and removing its `-wal`/`-shm`) only once the new file is verified. "Valid" is judged with its `-wal` and `-journal`, as SQLite opens it (see [The target directory](docs/how-it-works.md#the-target-directory)). A 0-byte or non-SQLite file is never "valid" and is always replaced.',
    schema: { enum: ['skip', 'overwrite'] },
    chartDefault: 'skip',
  },
  {
    name: 'SQLITE_RESTORE_IF_NO_BACKUP',
    key: 'ifNoBackup',
    commands: RESTORE,
    default: 'fail',
    example: '`allow`',
    summary: 'fail (exit 66) | allow (a first boot: the app creates the database)',
    doc: '`fail`: no backup at the URL is exit 66. `allow`: exit 0 with a "first-boot" marker and no database (the app creates it). Either way the message (and the marker\'s warnings) names what stands around the prefix: what it holds, and its siblings (e.g. `beside it in s3://backups/apps/: app-a/, app-b/`), so that a mistyped or one-level-off prefix shows in the pod\'s termination message.',
    schema: { enum: ['fail', 'allow'] },
    chartDefault: 'fail',
  },
  {
    name: 'SQLITE_RESTORE_VERIFY',
    key: 'verify',
    commands: RESTORE,
    default: 'quick',
    example: '`full`',
    summary: 'none | quick (quick_check) | full (integrity_check), before publishing',
    doc: '`none` (header and size checks only), `quick` (`PRAGMA quick_check`), `full` (`PRAGMA integrity_check`).',
    schema: { enum: ['none', 'quick', 'full'] },
    chartDefault: 'quick',
  },
  {
    name: 'SQLITE_RESTORE_MARKER_PATH',
    key: 'markerPath',
    commands: RESTORE,
    defaultDoc: '`<db path>.restore.json`',
    example: '`/data/restore.json`',
    summary: 'where the JSON marker goes',
    doc: 'Where the JSON marker is written after a successful run (see [The marker](#the-marker)). Not the database nor its `-wal`, `-shm` or `-journal`; a file name of at most 191 bytes. Checked before anything is published: a directory there, a read-only or unwritable directory, a mount point or an immutable file is exit 74 with the target untouched.',
    schema: { type: 'string', pattern: '^(/.*[^/])?$' },
    chartDefault: '',
  },
  {
    name: 'SQLITE_RESTORE_TIMEOUT_SECONDS',
    key: 'timeoutSeconds',
    commands: ALL,
    default: '900',
    example: '`300`',
    summary: 'overall deadline in seconds (exit 75 when exceeded)',
    doc: 'Overall deadline, counted from the start of the process (1 to 2147483, the longest a Node timer holds, about 24.8 days); exceeding it is exit 75 with the target untouched. The process ends within this + 1 s.',
    schema: { type: 'integer', minimum: 1, maximum: 604800 },
    chartDefault: 900,
  },
  {
    name: 'SQLITE_RESTORE_CONCURRENCY',
    key: 'concurrency',
    commands: ALL,
    default: '32',
    example: '`8`',
    summary: 'parallel downloads (1-64); also the HTTP connection pool size',
    doc: 'Parallel downloads (1-64); also the HTTP connection pool size. Object storage answers each GET after tens of milliseconds and carries a limited rate per connection, so many small WAL segments need many requests in flight: 32 downloads the bench\'s S3-like link about twice as fast as 8. Memory does not grow with it: objects held ahead of their turn share one 8 MiB budget, and a large object is fetched as at most 4 ranged parts at a time.',
    schema: intOrNull(1, 64),
    chartDefault: null,
  },
  {
    name: 'SQLITE_RESTORE_MAX_ATTEMPTS',
    key: 'maxAttempts',
    commands: ALL,
    defaultDoc: '(none: the retry window decides)',
    example: '`8`',
    summary: 'at most this many attempts of a failing request, 1-100',
    doc: 'At most this many attempts in a row of one failing store request (a listing page; an object download since it last received a byte), within the retry window: whichever ends first. See [Retries](#retries).',
    schema: intOrNull(1, 100),
    chartDefault: null,
  },
  {
    name: 'SQLITE_RESTORE_RETRY_WINDOW_SECONDS',
    key: 'retryWindowSeconds',
    commands: ALL,
    default: '60',
    example: '`300`',
    summary: 'how long a transiently failing request is retried, 0-3600 s',
    doc: 'How long a store request that fails transiently is retried, 0-3600 seconds, counted from its first failure in a row: a store not listening yet, connections refused or reset, a host name that does not resolve (yet), timeouts, 5xx, throttling. Then exit 75. `0`: no retries. See [Retries](#retries).',
    schema: intOrNull(0, 3600),
    chartDefault: null,
  },
  {
    name: 'SQLITE_RESTORE_IDLE_TIMEOUT_SECONDS',
    key: 'idleTimeoutSeconds',
    commands: ALL,
    default: '30',
    example: '`10`',
    summary: 'a download stalled this long is resumed, 1-3600 s',
    doc: 'A download that receives nothing for this long (response headers included) is dropped and resumed from the last byte received. 1 to 2147483.',
    schema: intOrNull(1, 3600),
    chartDefault: null,
  },
  {
    name: 'SQLITE_RESTORE_FILE_MODE',
    key: 'fileMode',
    commands: RESTORE,
    default: '0644',
    example: '`0660`',
    summary: 'permission bits of the restored database, octal (0660 with fsGroup)',
    doc: 'Permission bits of the restored database, whatever the umask. Use `0660` with `fsGroup` when the app runs under another uid. Directories the restore creates get these bits plus search (x) wherever read or write is allowed (`0644` → `0755`, `0660` → `0770`).',
    schema: { type: 'string', pattern: '^0?[0-7]{3}$' },
    chartDefault: '0644',
  },
  {
    name: 'SQLITE_RESTORE_FILE_UID',
    key: 'fileUid',
    commands: RESTORE,
    defaultDoc: 'unchanged',
    example: '`1000`',
    summary: 'owner of the restored database and the directories it creates (needs CAP_CHOWN)',
    doc: 'Owner to give the restored database, and every directory the restore creates for it or for the marker (needs root or CAP_CHOWN): 0 to 4294967294 (4294967295 would mean "no change" to `chown`, so it is refused).',
    schema: intOrNull(0, 2147483647),
    chartDefault: null,
  },
  {
    name: 'SQLITE_RESTORE_FILE_GID',
    key: 'fileGid',
    commands: RESTORE,
    defaultDoc: 'unchanged',
    example: '`1000`',
    summary: 'group of the restored database and the directories it creates',
    doc: 'Group to give them (a non-root process may only choose a group it belongs to): 0 to 4294967294.',
    schema: intOrNull(0, 2147483647),
    chartDefault: null,
  },
  {
    name: 'SQLITE_RESTORE_LOG_LEVEL',
    key: 'logLevel',
    commands: ALL,
    default: 'info',
    example: '`debug`',
    summary: 'fatal | error | warn | info | debug | trace',
    doc: '`fatal`, `error`, `warn`, `info`, `debug` or `trace`.',
    schema: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] },
    chartDefault: 'info',
  },
  {
    name: 'SQLITE_RESTORE_PROGRESS_SECONDS',
    key: 'progressSeconds',
    commands: ALL,
    default: '5',
    example: '`30`',
    summary: 'at most this long without a log line while working, 1-3600 s',
    doc: 'At most this long without a log line while a run works: download progress (rate and time left) at this interval, and a `heartbeat` line in any phase that is otherwise silent (a long listing, `integrity_check`, an fsync). 1 to 3600.',
    schema: intOrNull(1, 3600),
    chartDefault: null,
  },
  {
    name: 'SQLITE_RESTORE_TERMINATION_LOG',
    commands: ALL,
    default: '/dev/termination-log',
    defaultDoc: '`/dev/termination-log`',
    example: '`/tmp/termination-log`',
    summary: "where the one-line outcome goes (Kubernetes' terminationMessagePath)",
    doc: 'Where the one-line outcome (at most 4096 bytes) is written for Kubernetes. An absolute path, not the database, its SQLite files or the marker. Best effort, never blocking and never changing the exit code: only a regular file without other hard links is written (or created); a symbolic link is not followed, a FIFO, a directory or an unwritable path is skipped, and the `done` log line says so (`terminationLog.notWritten`).',
  },
  {
    name: 'SQLITE_RESTORE_TARGET_TIME',
    key: 'target.time',
    commands: ALL,
    defaultDoc: '(none: the newest state)',
    example: '`2026-03-01T12:00:00Z`',
    summary: 'restore the state as of this RFC 3339 time (with a zone)',
    doc: 'Restore the state as of this RFC 3339 time (a zone is required). See [Point-in-time restore](docs/point-in-time.md).',
    schema: { type: 'string', pattern: '^([0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2}))?$' },
    chartDefault: '',
  },
  {
    name: 'SQLITE_RESTORE_TARGET_GENERATION',
    key: 'target.generation',
    commands: ALL,
    defaultDoc: '(none)',
    example: '`d6c4f0d7dfecb368`',
    summary: 'Litestream v0.3: restore this generation (16 hex digits)',
    doc: 'Litestream v0.3: restore this generation: its newest state, or up to `SQLITE_RESTORE_TARGET_INDEX`.',
    schema: { type: 'string', pattern: '^([0-9a-f]{16})?$' },
    chartDefault: '',
  },
  {
    name: 'SQLITE_RESTORE_TARGET_INDEX',
    key: 'target.index',
    commands: ALL,
    defaultDoc: '(none)',
    example: '`0000002a`',
    summary: 'Litestream v0.3: the WAL index to restore up to, in hex ("0000002a"; a number is read as hex digits)',
    doc: 'Litestream v0.3: the WAL index to restore up to and including, in hex as in the object names. Needs `SQLITE_RESTORE_TARGET_GENERATION`.',
    // A number from `--set target.index=12` stands for the hex digits "12".
    schema: { type: ['string', 'integer'], pattern: '^((0[xX])?[0-9a-fA-F]{1,8})?$', minimum: 0, maximum: 99999999 },
    chartDefault: '',
  },
  {
    name: 'SQLITE_RESTORE_TARGET_TXID',
    key: 'target.txid',
    commands: ALL,
    defaultDoc: '(none)',
    example: '`0000000000000abc`',
    summary: 'Litestream v0.5: the TXID to restore to (a number, 0x-hex, or 16 hex digits)',
    doc: 'Litestream v0.5: the TXID to restore to: decimal, `0x`-prefixed hex, or 16 hex digits as in LTX file names and the marker.',
    // Numbers beyond 2^53 lose digits in YAML and JSON: give those as strings.
    schema: { type: ['string', 'integer'], pattern: '^(0x[0-9a-fA-F]{1,16}|[0-9a-fA-F]{16}|[0-9]{1,20})?$', minimum: 1, maximum: 9007199254740991 },
    chartDefault: '',
  },
  {
    name: 'SQLITE_RESTORE_TARGET_MATCH',
    key: 'target.match',
    commands: ALL,
    default: 'exact',
    example: '`at-or-before`',
    summary: 'exact | at-or-before: how a point-in-time target must be reached',
    doc: '`exact`: a target the backups cannot reach exactly is exit 66. `at-or-before`: the newest restorable state not after it. Only together with a target.',
    schema: { enum: ['', 'exact', 'at-or-before'] },
    chartDefault: '',
  },
  {
    name: 'SQLITE_RESTORE_VERIFY_DIR',
    key: 'verifyDir',
    commands: ['verify'],
    defaultDoc: 'the directory of `SQLITE_RESTORE_DB_PATH` if set, else the OS temp dir',
    example: '`/scratch`',
    summary: 'verify: where the scratch directory is made',
    doc: 'Where `verify` creates its scratch directory (and removes it); created if missing. Needs room for the database and, while restoring, its changed pages.',
    schema: { type: 'string', pattern: '^(/.*)?$' },
    chartDefault: '',
  },
  {
    name: 'SQLITE_RESTORE_MAX_AGE',
    key: 'maxAge',
    commands: RESTORE_VERIFY,
    defaultDoc: '(no check)',
    example: '`26h`',
    summary: 'how old the newest backup may be (90s, 15m, 4h, 2d): restore warns, verify exits 69',
    doc: 'How old the newest backup may be: a duration (`90s`, `15m`, `4h`, `1h30m`, `2d`) or whole seconds, 1s to 365d. Its time is the newest upload among the objects the restore reads. Older: `restore` warns (log line `stale-backup`, and in the marker\'s warnings) and restores it anyway; `verify` exits **69** after proving it restores. Point-in-time targets are not checked. An idle database uploads nothing (Litestream 0.3 only snapshots on its `snapshot-interval` or retention check, 0.5 on `snapshot.interval`), so set it above that interval.',
    // Whole seconds may come as a number.
    schema: { type: ['string', 'integer'], pattern: '^$|^[0-9]+$|^([0-9]+(\\.[0-9]+)?[smhd])+$', minimum: 1, maximum: 31536000 },
    chartDefault: '',
  },
];

/** Every variable this tool reads. */
export const SETTING_NAMES: readonly string[] = SETTINGS.map((s) => s.name);

/** The table's default of a setting that has one (config.ts). */
export function defaultOf(name: string): string {
  const value = SETTINGS.find((s) => s.name === name)?.default;
  if (value === undefined) throw new Error(`${name} has no default in src/settings.ts`);
  return value;
}

const plain = (markdown: string): string => markdown.replaceAll('`', '');

/** The default as one short parenthesis for people, or '' when there is none to tell. */
function defaultNote(s: Setting): string {
  if (s.default !== undefined) return `(default ${s.default})`;
  if (s.defaultDoc === undefined || s.defaultDoc === '(none)') return '';
  return s.defaultDoc.startsWith('(') ? plain(s.defaultDoc) : `(default: ${plain(s.defaultDoc)})`;
}

/** The variables for --help: name, what it is, and its default. */
export function helpLines(): string[] {
  const width = Math.max(...SETTINGS.map((s) => s.name.length));
  return SETTINGS.map((s) => `  ${s.name.padEnd(width)}  ${[s.summary, defaultNote(s)].filter(Boolean).join(' ')}`);
}

/** The chart schema's description of a setting's value: the summary, the variable, and what an empty value means. */
export function schemaDescription(s: Setting): string {
  const unset = s.chartDefault === null ? 'null' : s.chartDefault === '' ? '""' : undefined;
  const note = defaultNote(s).replace(/^\((default:? )?/, '').replace(/\)$/, '');
  if (unset === undefined) return `${s.name}: ${s.summary}`;
  if (s.defaultDoc?.startsWith('(required')) return `${s.name}: ${s.summary} (required)`;
  return `${s.name}: ${s.summary}; ${unset}: ${note ? `the tool's default (${note})` : 'not set'}`;
}
