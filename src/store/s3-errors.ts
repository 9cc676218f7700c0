// Maps what the AWS SDK throws onto our exit-code classes, with a message an
// operator can act on. Only status codes and error names are inspected.
import {
  AuthError,
  ConfigError,
  InternalError,
  RestoreError,
  TemporaryError,
} from '../errors.js';

interface SdkErrorShape {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

const authNames = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'AllAccessDisabled',
  'CredentialsProviderError',
  'InvalidIdentityToken',
  'AccessDeniedException',
]);

// What STS answers when it refuses a web identity token (IRSA): the SDK names
// them after its model's shapes, not after the wire codes (InvalidIdentityToken...).
const webIdentityRefusals = new Set(['InvalidIdentityTokenException', 'ExpiredTokenException', 'IDPRejectedClaimException']);

/**
 * An error of the SDK's STS client (credential providers that assume a role):
 * its AccessDenied is the role's trust policy, not the bucket's.
 */
function fromSts(err: unknown): boolean {
  for (let p = err === null || typeof err !== 'object' ? null : Object.getPrototypeOf(err); p; p = Object.getPrototypeOf(p)) {
    if ((p as { constructor?: { name?: string } }).constructor?.name === 'STSServiceException') return true;
  }
  return false;
}

const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);

/** How long a request was retried before it was given up, for the error message. */
export interface RetryHistory {
  readonly attempts: number;
  readonly elapsedMs: number;
}

export function mapS3Error(err: unknown, what: string, bucket: string, retried?: RetryHistory): RestoreError {
  if (err instanceof RestoreError) return err;
  const e = (err ?? {}) as SdkErrorShape;
  const name = e.name ?? e.Code ?? '';
  const status = e.$metadata?.httpStatusCode;
  const detail = `${name || 'error'}${status ? ` (HTTP ${status})` : ''}`;
  if (name === 'CredentialsProviderError') {
    return new AuthError(
      `${what}: no AWS credentials found (configure IRSA, EKS Pod Identity or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)`,
      { cause: err },
    );
  }
  if ((webIdentityRefusals.has(name) || fromSts(err)) && !isTransient(err)) {
    const reason = (e.message ?? '').split('\n')[0]!.slice(0, 300);
    return new AuthError(
      `${what}: STS refused to issue the role's credentials: ${detail}${reason ? `: ${reason}` : ''}; ` +
        "with IRSA, check the role's trust policy: the cluster's OIDC issuer, the token's audience (sts.amazonaws.com) and the service account (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE)",
      { cause: err },
    );
  }
  if (authNames.has(name) || status === 401 || status === 403) {
    return new AuthError(`${what}: access denied by the storage service: ${detail}; check the credentials and the bucket policy`, {
      cause: err,
    });
  }
  if (name === 'NoSuchBucket') {
    return new ConfigError(`${what}: bucket "${bucket}" does not exist; check SQLITE_RESTORE_REPLICA_URL, the endpoint and the region`, {
      cause: err,
    });
  }
  if (name === 'PermanentRedirect' || name === 'AuthorizationHeaderMalformed' || status === 301) {
    return new ConfigError(`${what}: bucket "${bucket}" is in another region (${detail}); set SQLITE_RESTORE_S3_REGION`, {
      cause: err,
    });
  }
  if (name === 'NoSuchKey' || status === 404) {
    return new TemporaryError(`${what}: object disappeared after it was listed (retention running or a writer replacing the backup?)`, {
      cause: err,
    });
  }
  if (name === 'PreconditionFailed' || status === 412) {
    return new TemporaryError(`${what}: object changed while it was being downloaded`, { cause: err });
  }
  const code = e.code ?? '';
  if (isTransient(err) || e.$retryable !== undefined) {
    const after = retried
      ? `after ${retried.attempts} attempt${retried.attempts === 1 ? '' : 's'} in ${(retried.elapsedMs / 1000).toFixed(1)} s (SQLITE_RESTORE_RETRY_WINDOW_SECONDS)`
      : 'after retries';
    // A name that does not resolve is retried like a store not up yet, but a typo is as likely.
    const hint =
      code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? '; the host name does not resolve: check SQLITE_RESTORE_S3_ENDPOINT (or the region) for a typo, or the cluster DNS'
        : code === 'ECONNREFUSED'
          ? '; nothing listens at the endpoint: is the store up, and is SQLITE_RESTORE_S3_ENDPOINT right?'
          : '';
    return new TemporaryError(`${what}: storage unavailable ${after}: ${detail}${code ? ` ${code}` : ''}: ${e.message ?? ''}`.trim() + hint, {
      cause: err,
    });
  }
  if (status !== undefined && status >= 400) {
    return new ConfigError(`${what}: request rejected by the storage service: ${detail}: ${e.message ?? ''}`.trim(), {
      cause: err,
    });
  }
  return new InternalError(`${what}: ${detail}: ${e.message ?? String(err)}`, { cause: err });
}

/** The error in a few words for a retry line: name, HTTP status and system error code, never a message body. */
export function errorSummary(err: unknown): string {
  const e = (err ?? {}) as SdkErrorShape;
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? e.Code ?? 'error';
  // A system error is its code ("ECONNREFUSED"), not the generic "Error".
  const parts = name === 'Error' && e.code ? [] : [name];
  if (status) parts.push(`HTTP ${status}`);
  if (e.code && e.code !== name) parts.push(e.code);
  return parts.join(', ');
}

/** Errors of the code itself (a bug), never cured by a retry, unless they came with a response (the SDK's parse errors). */
const programmingErrors = new Set(['TypeError', 'RangeError', 'ReferenceError', 'SyntaxError']);

/**
 * A failure that a retry or a resumed read may cure: network (refused,
 * reset, DNS, timeouts), 5xx, throttling, a clock skew the SDK just corrected.
 */
export function isTransient(err: unknown): boolean {
  const e = (err ?? {}) as SdkErrorShape & { $response?: unknown; $metadata?: { clockSkewCorrected?: boolean } };
  const status = e.$metadata?.httpStatusCode;
  if (e.name === 'AbortError' || e.name === 'CredentialsProviderError' || err instanceof RestoreError) return false;
  return (
    (status !== undefined && (status >= 500 || status === 429)) ||
    e.$metadata?.clockSkewCorrected === true ||
    networkCodes.has(e.code ?? '') ||
    e.name === 'TimeoutError' ||
    // STS could not reach the identity provider to check the token: AWS asks for a retry.
    e.name === 'IDPCommunicationErrorException' ||
    e.name === 'IdleTimeoutError' ||
    e.name === 'ShortBodyError' ||
    (status === undefined && (e.$response !== undefined || !programmingErrors.has(e.name ?? '')))
  );
}
