// Secret values known from the environment, and a scrubber that replaces them
// in everything the process writes for humans (log lines, the termination
// message, stderr). The configuration never holds a secret; this is the
// second line of defence for whatever text a library or an error carries.
import fs from 'node:fs';
import path from 'node:path';

/** Shorter values are not scrubbed: they would mangle ordinary words, and are not credible secrets. */
export const MIN_SECRET_LENGTH = 6;
export const REDACTED = '[redacted]';

// A variable whose name says it holds a secret: AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
// AWS_CONTAINER_AUTHORIZATION_TOKEN, MINIO_ROOT_PASSWORD, ...
const SECRET_NAME = /SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|PRIVATE_KEY|API_?KEY/i;
// ...unless its value is where the secret is, not the secret: then a *_FILE is read.
const LOCATION_NAME = /_(FILE|PATH|URI|URL|DIR|ARN)$/i;
const MAX_TOKEN_FILE_BYTES = 64 * 1024;

/**
 * Reads a small regular file without blocking on a FIFO (O_NONBLOCK) and
 * without reading more than a token could be; undefined when it is anything else.
 * Symbolic links are followed: Kubernetes projects tokens through them.
 */
export function readTokenFile(file: string): string | undefined {
  if (!path.isAbsolute(file) || file.includes('\0')) return undefined;
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) return undefined;
    const buffer = Buffer.alloc(Math.min(stat.size, MAX_TOKEN_FILE_BYTES));
    const n = fs.readSync(fd, buffer, 0, buffer.length, 0);
    return buffer.subarray(0, n).toString('utf8');
  } catch {
    return undefined;
  } finally {
    try {
      if (fd !== undefined) fs.closeSync(fd);
    } catch {
      // Read already, or nothing to read.
    }
  }
}

/** The userinfo of a URL-looking value (`scheme://user:password@host`), decoded and as written. */
function userinfo(value: string): string[] {
  if (!/^\s*[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(value)) return [];
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // Not parseable: take the text between "//" and the last "@" of the authority.
    const match = /:\/\/([^/]*)@/.exec(value);
    return match?.[1] ? [match[1], ...match[1].split(':')] : [];
  }
  const parts = [url.username, url.password];
  const out: string[] = [];
  for (const part of parts) {
    if (!part) continue;
    out.push(part);
    try {
      out.push(decodeURIComponent(part));
    } catch {
      // A malformed escape: the written form is all there is.
    }
  }
  return out;
}

/**
 * Every secret value the environment holds: variables named like secrets, the
 * content of *_TOKEN_FILE-like files, and the userinfo of any URL (an endpoint
 * or replica URL with `user:password@`).
 */
export function secretsIn(environment: NodeJS.ProcessEnv, readFile: (file: string) => string | undefined = readTokenFile): string[] {
  const found = new Set<string>();
  const add = (value: string | undefined): void => {
    if (value === undefined) return;
    for (const candidate of [value, value.trim()]) if (candidate.length >= MIN_SECRET_LENGTH) found.add(candidate);
  };
  for (const [name, value] of Object.entries(environment)) {
    if (!value) continue;
    if (SECRET_NAME.test(name)) {
      if (!LOCATION_NAME.test(name)) add(value);
      else if (/_FILE$/i.test(name)) add(readFile(value.trim()));
    }
    for (const part of userinfo(value)) add(part);
  }
  return [...found];
}

export interface Scrubber {
  /** Plain text: every secret replaced. */
  text(value: string): string;
  /** One JSON log line: secrets replaced inside its strings, so it stays valid JSON. */
  jsonLine(line: string): string;
}

export function createScrubber(secrets: readonly string[]): Scrubber {
  // A secret shows up as written, JSON-escaped inside a log line, or %-encoded in a URL.
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    forms.add(secret);
    forms.add(JSON.stringify(secret).slice(1, -1));
    forms.add(encodeURIComponent(secret));
  }
  // Longest first, so a secret that contains another is replaced whole.
  const patterns = [...forms].sort((a, b) => b.length - a.length);
  const contains = (value: string): boolean => patterns.some((p) => value.includes(p));
  const text = (value: string): string => {
    if (!contains(value)) return value;
    let out = value;
    for (const p of patterns) out = out.split(p).join(REDACTED);
    return out;
  };
  const scrubValue = (value: unknown): unknown => {
    if (typeof value === 'string') return text(value);
    if (typeof value === 'number' || typeof value === 'bigint') return contains(String(value)) ? REDACTED : value;
    if (Array.isArray(value)) return value.map(scrubValue);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [text(k), scrubValue(v)]));
    }
    return value;
  };
  return {
    text,
    jsonLine(line) {
      if (!contains(line)) return line;
      try {
        // Parsed, so a replacement can never cut through the JSON structure.
        return `${JSON.stringify(scrubValue(JSON.parse(line)))}\n`;
      } catch {
        return text(line);
      }
    },
  };
}
