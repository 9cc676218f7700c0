// Which AWS credentials the S3 store uses, said in the log. The SDK's Node
// provider chain silently takes the first source that works, in its order:
// AWS_PROFILE (which skips the environment keys), static keys in the
// environment, the shared config files, web identity (IRSA), container
// credentials (EKS Pod Identity, ECS), instance metadata. So a stray
// AWS_ACCESS_KEY_ID beside IRSA wins without a word. This module names the
// sources the environment configures, the one the chain's order predicts,
// and the one the SDK reports after resolving (the `$source` features the
// providers stamp on the credentials). Names only: never a key, a token or a
// token file's content.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type CredentialSourceId = 'profile' | 'environment' | 'shared-files' | 'web-identity' | 'container' | 'instance-metadata';

export interface CredentialSource {
  readonly id: CredentialSourceId;
  /** For humans, naming the variables involved (never their values, except a profile name). */
  readonly description: string;
}

const ENV_KEYS = 'static keys from the environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)';
const WEB_IDENTITY = 'web identity, e.g. IRSA (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE)';
const CONTAINER = 'container credentials, e.g. EKS Pod Identity (AWS_CONTAINER_CREDENTIALS_FULL_URI/_RELATIVE_URI)';
const IMDS = 'EC2 instance metadata (IMDS)';

const set = (env: NodeJS.ProcessEnv, name: string): boolean => (env[name] ?? '') !== '';

function sharedFilesExist(env: NodeJS.ProcessEnv): boolean {
  const home = env.HOME || os.homedir();
  const files = [env.AWS_SHARED_CREDENTIALS_FILE || path.join(home, '.aws', 'credentials'), env.AWS_CONFIG_FILE || path.join(home, '.aws', 'config')];
  return files.some((file) => {
    try {
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

/** The sources the environment sets up, in the order the SDK's chain tries them (the first is the one it uses if it works). */
export function configuredSources(env: NodeJS.ProcessEnv = process.env): CredentialSource[] {
  const sources: CredentialSource[] = [];
  const profile = env.AWS_PROFILE;
  if (profile) sources.push({ id: 'profile', description: `the profile "${profile}" from the shared config files (AWS_PROFILE)` });
  if (set(env, 'AWS_ACCESS_KEY_ID') && set(env, 'AWS_SECRET_ACCESS_KEY')) {
    // With AWS_PROFILE set the chain skips these: they come after it.
    sources.push({ id: 'environment', description: ENV_KEYS });
  }
  if (!profile && sharedFilesExist(env)) sources.push({ id: 'shared-files', description: 'the default profile from the shared config files (~/.aws)' });
  if (set(env, 'AWS_WEB_IDENTITY_TOKEN_FILE') && set(env, 'AWS_ROLE_ARN')) sources.push({ id: 'web-identity', description: WEB_IDENTITY });
  if (set(env, 'AWS_CONTAINER_CREDENTIALS_FULL_URI') || set(env, 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI')) {
    sources.push({ id: 'container', description: CONTAINER });
  }
  return sources;
}

/** The source the chain's order predicts: the first configured one, else instance metadata (unless disabled). */
export function predictedSource(env: NodeJS.ProcessEnv = process.env): CredentialSource | undefined {
  const [first] = configuredSources(env);
  if (first) return first;
  const imdsOff = set(env, 'AWS_EC2_METADATA_DISABLED') && env.AWS_EC2_METADATA_DISABLED !== 'false';
  return imdsOff ? undefined : { id: 'instance-metadata', description: IMDS };
}

/** The SDK's feature stamps on resolved credentials (@aws-sdk/core setCredentialFeature) and what they mean. */
const FEATURES: ReadonlyArray<readonly [string, CredentialSourceId, string]> = [
  ['CREDENTIALS_ENV_VARS_STS_WEB_ID_TOKEN', 'web-identity', WEB_IDENTITY],
  ['CREDENTIALS_PROFILE_STS_WEB_ID_TOKEN', 'profile', 'web identity set up in a profile of the shared config files'],
  ['CREDENTIALS_PROFILE_SSO', 'profile', 'SSO set up in a profile of the shared config files'],
  ['CREDENTIALS_PROFILE_SSO_LEGACY', 'profile', 'SSO set up in a profile of the shared config files'],
  ['CREDENTIALS_PROFILE_PROCESS', 'profile', 'a credential process set up in a profile of the shared config files'],
  ['CREDENTIALS_PROFILE_SOURCE_PROFILE', 'profile', 'a role assumed from a profile of the shared config files'],
  ['CREDENTIALS_PROFILE_NAMED_PROVIDER', 'profile', 'a credential source named in a profile of the shared config files'],
  ['CREDENTIALS_PROFILE_LOGIN', 'profile', 'a login session set up in a profile of the shared config files'],
  ['CREDENTIALS_PROFILE', 'profile', 'static keys in a profile of the shared config files'],
  ['CREDENTIALS_ENV_VARS', 'environment', ENV_KEYS],
  ['CREDENTIALS_HTTP', 'container', CONTAINER],
  ['CREDENTIALS_IMDS', 'instance-metadata', IMDS],
];

/** The source named by the SDK's stamps on resolved credentials, if it stamped one this module knows. */
export function resolvedSource(credentials: unknown): CredentialSource | undefined {
  const stamps = (credentials as { $source?: Record<string, unknown> } | undefined)?.$source;
  if (!stamps) return undefined;
  for (const [feature, id, description] of FEATURES) if (feature in stamps) return { id, description };
  return undefined;
}

export interface CredentialsLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Warns, before any request, when the environment sets up more than one source, naming the one the chain takes. */
export function warnIfSeveralSources(log: CredentialsLog, env: NodeJS.ProcessEnv = process.env): void {
  const sources = configuredSources(env);
  const winner = sources[0];
  if (!winner || sources.length < 2) return;
  log.warn(
    { event: 'credentials-ambiguous', configured: sources.map((s) => s.id), expected: winner.id },
    `more than one AWS credential source is configured: ${sources.map((s) => s.description).join('; ')}. ` +
      `The SDK's provider chain takes the first that works, here ${winner.description}; remove the others so the pod cannot use another identity than intended`,
  );
}

/** Logs, once, where the credentials the SDK resolved came from (never the credentials). */
export function reportCredentials(log: CredentialsLog, credentials: unknown, env: NodeJS.ProcessEnv = process.env): void {
  const reported = resolvedSource(credentials);
  const source = reported ?? predictedSource(env);
  if (!source) return;
  log.info(
    { event: 'credentials', source: source.id, how: reported ? 'reported by the SDK' : "predicted from the provider chain's order" },
    `AWS credentials from ${source.description}`,
  );
}
