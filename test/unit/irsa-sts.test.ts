// deploy/e2e/sts.cjs, the STS stand-in of the IRSA checks on a real cluster:
// what it refuses and how the AWS SDK (the tool's own credential provider
// chain, through AWS_ENDPOINT_URL_STS) and the tool's error mapping read its
// answers. The issuer here is a local HTTP server with an RSA key of its own;
// on the cluster (test/e2e/k8s-irsa.test.ts) it is the API server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fromTokenFile } from '@aws-sdk/credential-providers';
import { mapS3Error } from '../../src/store/s3-errors.js';
import { makeTempDir, removeDir, repoRoot } from '../support/paths.js';

const require = createRequire(import.meta.url);
const sts = require(path.join(repoRoot, 'deploy', 'e2e', 'sts.cjs')) as {
  createSts(config: Record<string, unknown>): http.Server;
  stringLike(pattern: string, value: unknown): boolean;
};

const ROLE = 'arn:aws:iam::123456789012:role/restore';
const SUBJECT = 'system:serviceaccount:apps:my-app';
const AUDIENCE = 'sts.amazonaws.com';
const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const attacker = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const KID = 'cluster-key';

let issuerServer: http.Server;
let stsServer: http.Server;
let issuer: string;
let stsUrl: string;
let work: string;
const logs: Array<Record<string, unknown>> = [];
let discoveryIssuer: string | undefined;

const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

function jwt(claims: Record<string, unknown>, opts: { key?: crypto.KeyObject; alg?: string; kid?: string } = {}): string {
  const header = b64({ alg: opts.alg ?? 'RS256', kid: opts.kid ?? KID, typ: 'JWT' });
  const payload = b64(claims);
  if (opts.alg === 'none') return `${header}.${payload}.`;
  if (opts.alg === 'HS256') {
    // The algorithm-confusion attack: the public key as an HMAC secret.
    const secret = publicKey.export({ type: 'spki', format: 'pem' });
    return `${header}.${payload}.${crypto.createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url')}`;
  }
  const sig = crypto.sign('RSA-SHA256', Buffer.from(`${header}.${payload}`), opts.key ?? privateKey);
  return `${header}.${payload}.${sig.toString('base64url')}`;
}

const now = (): number => Math.floor(Date.now() / 1000);
const goodClaims = (): Record<string, unknown> => ({ iss: issuer, sub: SUBJECT, aud: [AUDIENCE], iat: now(), nbf: now(), exp: now() + 3600 });

async function assume(token: string, roleArn = ROLE): Promise<{ status: number; text: string }> {
  const body = new URLSearchParams({ Action: 'AssumeRoleWithWebIdentity', Version: '2011-06-15', RoleArn: roleArn, RoleSessionName: 's', WebIdentityToken: token });
  const res = await fetch(stsUrl, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  return { status: res.status, text: await res.text() };
}

before(async () => {
  work = await makeTempDir('unit-sts');
  issuerServer = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') {
      return res.end(JSON.stringify({ issuer: discoveryIssuer ?? issuer, jwks_uri: `${issuer}/openid/v1/jwks` }));
    }
    if (req.url === '/openid/v1/jwks') {
      // As the API server: 406 unless the client accepts a JWK set.
      if (!/application\/jwk-set\+json|\*\/\*/.test(req.headers.accept ?? '')) return res.writeHead(406).end();
      return res.end(JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: KID, use: 'sig', alg: 'RS256' }] }));
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => issuerServer.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(issuerServer.address() as AddressInfo).port}`;
  stsServer = sts.createSts({
    issuer,
    audience: AUDIENCE,
    roleArn: ROLE,
    roleSubject: SUBJECT,
    log: (o: Record<string, unknown>) => logs.push(o),
    mint: async () => ({ accessKeyId: 'TEMPKEY', secretAccessKey: 'temp-secret', sessionToken: 'temp-token', expiration: new Date(Date.now() + 3600_000).toISOString() }),
  });
  await new Promise<void>((resolve) => stsServer.listen(0, '127.0.0.1', resolve));
  stsUrl = `http://127.0.0.1:${(stsServer.address() as AddressInfo).port}/`;
});

after(async () => {
  stsServer?.closeAllConnections();
  issuerServer?.closeAllConnections();
  await new Promise((r) => stsServer?.close(r));
  await new Promise((r) => issuerServer?.close(r));
  if (work) await removeDir(work);
});

test('a token of the trusted issuer, for sts.amazonaws.com, of the trusted subject: credentials, as STS answers', async () => {
  const r = await assume(jwt(goodClaims()));
  assert.equal(r.status, 200, r.text);
  assert.match(r.text, /<AccessKeyId>TEMPKEY<\/AccessKeyId><SecretAccessKey>temp-secret<\/SecretAccessKey><SessionToken>temp-token<\/SessionToken>/);
  assert.match(r.text, new RegExp(`<SubjectFromWebIdentityToken>${SUBJECT}</SubjectFromWebIdentityToken>`));
  assert.equal(logs.at(-1)?.event, 'issued');
  assert.ok(!JSON.stringify(logs).includes('temp-secret'), 'never logs a secret');
});

test('refusals with the codes STS uses: bad signature, alg none/HS256, wrong audience, issuer, expired, other subject or role', async () => {
  const cases: Array<{ what: string; token: string; role?: string; status: number; code: string; reason: RegExp }> = [
    { what: 'signed by another key', token: jwt(goodClaims(), { key: attacker.privateKey }), status: 400, code: 'InvalidIdentityToken', reason: /signature does not verify/ },
    { what: 'payload changed after signing', token: (() => { const [h, , s] = jwt(goodClaims()).split('.'); return `${h}.${b64({ ...goodClaims(), sub: 'system:serviceaccount:apps:admin' })}.${s}`; })(), status: 400, code: 'InvalidIdentityToken', reason: /signature/ },
    { what: 'alg none', token: jwt(goodClaims(), { alg: 'none' }), status: 400, code: 'InvalidIdentityToken', reason: /RS256 only/ },
    { what: 'HS256 with the public key', token: jwt(goodClaims(), { alg: 'HS256' }), status: 400, code: 'InvalidIdentityToken', reason: /RS256 only/ },
    { what: 'unknown key id', token: jwt(goodClaims(), { kid: 'other' }), status: 400, code: 'InvalidIdentityToken', reason: /no key "other"/ },
    { what: 'wrong audience', token: jwt({ ...goodClaims(), aud: ['https://kubernetes.default.svc'] }), status: 400, code: 'InvalidIdentityToken', reason: /Incorrect token audience/ },
    { what: 'other issuer', token: jwt({ ...goodClaims(), iss: 'https://evil.example.com' }), status: 400, code: 'InvalidIdentityToken', reason: /issuer/ },
    { what: 'expired', token: jwt({ ...goodClaims(), exp: now() - 3600 }), status: 400, code: 'ExpiredTokenException', reason: /expired/ },
    { what: 'not a JWT', token: 'abc', status: 400, code: 'InvalidIdentityToken', reason: /not a JWT/ },
    { what: 'another service account', token: jwt({ ...goodClaims(), sub: 'system:serviceaccount:apps:other' }), status: 403, code: 'AccessDenied', reason: /Not authorized/ },
    { what: 'another role', token: jwt(goodClaims()), role: 'arn:aws:iam::123456789012:role/admin', status: 403, code: 'AccessDenied', reason: /Not authorized/ },
  ];
  for (const c of cases) {
    const r = await assume(c.token, c.role);
    assert.equal(r.status, c.status, `${c.what}: ${r.text}`);
    assert.match(r.text, new RegExp(`<Code>${c.code}</Code>`), c.what);
    const line = logs.at(-1)!;
    assert.equal(line.event, 'refused', c.what);
    assert.match(String(line.reason), c.reason, c.what);
    assert.ok(!r.text.includes('TEMPKEY'), `${c.what}: no credentials`);
  }
});

test("the role's subject condition is IAM's StringLike: * and ? only, everything else literal", () => {
  assert.ok(sts.stringLike('system:serviceaccount:apps:*', 'system:serviceaccount:apps:my-app'));
  assert.ok(!sts.stringLike('system:serviceaccount:apps:*', 'system:serviceaccount:apps2:my-app'));
  assert.ok(sts.stringLike('system:serviceaccount:apps:my-app?', 'system:serviceaccount:apps:my-app2'));
  assert.ok(!sts.stringLike('system:serviceaccount:apps.x:a', 'system:serviceaccount:appsXx:a'), 'a dot is a dot');
  assert.ok(!sts.stringLike('system:serviceaccount:apps:a', 'system:serviceaccount:apps:a\nx'));
  assert.ok(!sts.stringLike('*', undefined), 'no subject matches nothing');
});

test('the SDK reaches it through AWS_ENDPOINT_URL_STS with the token file; its refusal is the tool\'s exit 77', async () => {
  const tokenFile = path.join(work, 'token');
  const saved = process.env.AWS_ENDPOINT_URL_STS;
  process.env.AWS_ENDPOINT_URL_STS = stsUrl;
  try {
    await writeFile(tokenFile, jwt(goodClaims()));
    const creds = await fromTokenFile({ webIdentityTokenFile: tokenFile, roleArn: ROLE, clientConfig: { region: 'us-east-1' } })();
    assert.equal(creds.accessKeyId, 'TEMPKEY');
    assert.equal(creds.sessionToken, 'temp-token');

    await writeFile(tokenFile, jwt({ ...goodClaims(), aud: ['wrong'] }));
    const err = await fromTokenFile({ webIdentityTokenFile: tokenFile, roleArn: ROLE, clientConfig: { region: 'us-east-1' } })().then(
      () => assert.fail('a wrong audience must be refused'),
      (e: unknown) => e,
    );
    // The SDK names the error after its model (the wire code is InvalidIdentityToken).
    assert.equal((err as Error).name, 'InvalidIdentityTokenException');
    const mapped = mapS3Error(err, 'listing s3://b/p', 'b');
    assert.equal(mapped.exitCode, 77, mapped.message);
    assert.match(mapped.message, /STS refused to issue the role's credentials: InvalidIdentityTokenException \(HTTP 400\): Incorrect token audience.*check the role's trust policy/);

    // An expired token: the same exit code.
    await writeFile(tokenFile, jwt({ ...goodClaims(), exp: now() - 3600 }));
    const expired = await fromTokenFile({ webIdentityTokenFile: tokenFile, roleArn: ROLE, clientConfig: { region: 'us-east-1' } })().then(
      () => assert.fail('an expired token must be refused'),
      (e: unknown) => e,
    );
    assert.equal((expired as Error).name, 'ExpiredTokenException');
    assert.equal(mapS3Error(expired, 'listing s3://b/p', 'b').exitCode, 77);

    // A trust policy that does not name the service account: STS's AccessDenied
    // is the role's, not the bucket's, and the message says so.
    await writeFile(tokenFile, jwt({ ...goodClaims(), sub: 'system:serviceaccount:apps:other' }));
    const denied = await fromTokenFile({ webIdentityTokenFile: tokenFile, roleArn: ROLE, clientConfig: { region: 'us-east-1' } })().then(
      () => assert.fail('another service account must be refused'),
      (e: unknown) => e,
    );
    assert.equal((denied as Error).name, 'AccessDenied');
    const deniedMapped = mapS3Error(denied, 'listing s3://b/p', 'b');
    assert.equal(deniedMapped.exitCode, 77);
    assert.match(deniedMapped.message, /STS refused to issue the role's credentials: AccessDenied \(HTTP 403\): Not authorized to perform sts:AssumeRoleWithWebIdentity/);
    assert.doesNotMatch(deniedMapped.message, /bucket policy/);
  } finally {
    if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_STS;
    else process.env.AWS_ENDPOINT_URL_STS = saved;
  }
});

test('an issuer whose discovery document names another issuer is not trusted', async () => {
  discoveryIssuer = 'https://impostor.example.com';
  try {
    const fresh = sts.createSts({ issuer, audience: AUDIENCE, roleArn: ROLE, roleSubject: SUBJECT, log: (o: Record<string, unknown>) => logs.push(o), mint: async () => assert.fail('must not mint') });
    await new Promise<void>((resolve) => fresh.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(fresh.address() as AddressInfo).port}/`;
    const body = new URLSearchParams({ Action: 'AssumeRoleWithWebIdentity', RoleArn: ROLE, WebIdentityToken: jwt(goodClaims()) });
    const res = await fetch(url, { method: 'POST', body });
    assert.equal(res.status, 500);
    assert.match(String(logs.at(-1)?.reason), /names issuer https:\/\/impostor\.example\.com/);
    fresh.closeAllConnections();
    await new Promise((r) => fresh.close(r));
  } finally {
    discoveryIssuer = undefined;
  }
});
