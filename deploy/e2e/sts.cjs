// A stand-in for AWS STS's AssumeRoleWithWebIdentity, for the IRSA checks of
// deploy/e2e/checks.sh: it trusts one OIDC issuer, the cluster's own, as IAM
// trusts an EKS cluster's, and hands out credentials that MinIO accepts.
//
// For each request it checks the web identity token the way STS does:
// discovery at <issuer>/.well-known/openid-configuration (fetched anonymously,
// like AWS does; the issuer must say it is that issuer), the signing key from
// its jwks_uri (RS256 only, by kid; an unknown kid refetches the keys once),
// the signature, iss, aud (must contain AUDIENCE), exp/nbf, then the role's
// trust: RoleArn must be ROLE_ARN and sub ROLE_SUBJECT. Refusals use STS's
// error codes (InvalidIdentityToken 400, ExpiredTokenException 400,
// AccessDenied 403), so the SDK and the tool see what they would see from AWS.
// On success it asks MinIO for temporary credentials (MinIO's AssumeRole,
// signed with this server's own MinIO keys, restricted by ROLE_POLICY) and
// answers with them as STS would.
//
// Zero dependencies (node's http, https and crypto): it runs with the
// product image's node in a pod, or on the host.
//
//   node sts.cjs                       (listens until SIGTERM)
//
// Environment:
//   PORT, HOST           where to listen (default 8080 on 0.0.0.0)
//   OIDC_ISSUER          the trusted issuer URL (the cluster's --service-account-issuer)
//   OIDC_CA_FILE         CA bundle for the issuer's TLS certificate (optional)
//   AUDIENCE             default sts.amazonaws.com
//   ROLE_ARN             the role it knows
//   ROLE_SUBJECT         the token subjects allowed to assume it, IAM's StringLike
//                        (* any characters, ? one): system:serviceaccount:NS:NAME or :NS:*
//   ROLE_POLICY          session policy (JSON) limiting the credentials (optional)
//   MINIO_ENDPOINT       MinIO, whose AssumeRole mints the credentials
//   MINIO_REGION         default us-east-1
//   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   this server's MinIO keys (never handed out)
//   DURATION_SECONDS     lifetime of the credentials (default 3600)
//
// Logs one JSON line per decision (never a token or a key).
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');

const LEEWAY_SECONDS = 60;

class StsError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}
const invalidToken = (message) => new StsError(400, 'InvalidIdentityToken', message);

/** IAM's StringLike: * matches any characters, ? one; the rest literally. */
function stringLike(pattern, value) {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return typeof value === 'string' && new RegExp(`^${re}$`, 's').test(value);
}

const b64urlJson = (part, what) => {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw invalidToken(`the token's ${what} is not base64url JSON`);
  }
};

/** GET a URL as JSON (https with the given CA, or http). */
function getJson(url, ca) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const lib = u.protocol === 'https:' ? https : http;
    const req = lib.get(u, { ca, timeout: 10_000, headers: { accept: 'application/json, application/jwk-set+json' } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) return reject(new Error(`GET ${url}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
        try {
          resolve(JSON.parse(text));
        } catch (err) {
          reject(new Error(`GET ${url}: not JSON: ${err.message}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.on('error', reject);
  });
}

/** The issuer's signing keys, from its discovery document; refetched at most every 10 s. */
class IssuerKeys {
  constructor(issuer, ca, log) {
    this.issuer = issuer;
    this.ca = ca;
    this.log = log;
    this.keys = new Map();
    this.fetchedAt = 0;
  }

  async refresh() {
    const discovery = await getJson(`${this.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, this.ca);
    if (discovery.issuer !== this.issuer) throw new Error(`the discovery document names issuer ${discovery.issuer}, not ${this.issuer}`);
    const jwks = await getJson(discovery.jwks_uri, this.ca);
    const keys = new Map();
    for (const jwk of jwks.keys || []) {
      if (jwk.kty === 'RSA' && (!jwk.use || jwk.use === 'sig')) keys.set(jwk.kid || '', crypto.createPublicKey({ key: jwk, format: 'jwk' }));
    }
    this.keys = keys;
    this.fetchedAt = Date.now();
    this.log({ event: 'keys', issuer: this.issuer, jwksUri: discovery.jwks_uri, kids: [...keys.keys()] });
  }

  async key(kid) {
    if (!this.keys.has(kid) && Date.now() - this.fetchedAt > 10_000) await this.refresh();
    return this.keys.get(kid);
  }
}

/**
 * Verifies a web identity token; resolves with its claims or throws an
 * StsError. `keys` has key(kid) → KeyObject | undefined.
 */
async function verifyToken(token, { keys, issuer, audience, now = Date.now() / 1000 }) {
  const parts = String(token || '').split('.');
  if (parts.length !== 3) throw invalidToken('the web identity token is not a JWT');
  const header = b64urlJson(parts[0], 'header');
  if (header.alg !== 'RS256') throw invalidToken(`unsupported signing algorithm ${JSON.stringify(header.alg)} (RS256 only)`);
  const key = await keys.key(header.kid || '');
  if (!key) throw invalidToken(`no key ${JSON.stringify(header.kid)} in the issuer's JWKS`);
  const signature = Buffer.from(parts[2], 'base64url');
  if (!crypto.verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), key, signature)) {
    throw invalidToken("the token's signature does not verify with the issuer's key");
  }
  const claims = b64urlJson(parts[1], 'payload');
  if (claims.iss !== issuer) throw invalidToken(`the token's issuer ${claims.iss} is not the trusted ${issuer}`);
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.includes(audience)) throw invalidToken(`Incorrect token audience: ${JSON.stringify(claims.aud)}, expected ${audience}`);
  if (typeof claims.exp !== 'number' || claims.exp + LEEWAY_SECONDS < now) throw new StsError(400, 'ExpiredTokenException', 'Token expired');
  if (typeof claims.nbf === 'number' && claims.nbf - LEEWAY_SECONDS > now) throw invalidToken('the token is not valid yet (nbf)');
  return claims;
}

// ---------------------------------------------------------------- MinIO's AssumeRole (SigV4)

const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest();

/** Signs a POST of a form body to `endpoint` for service sts (AWS Signature Version 4). */
function signedStsPost(endpoint, body, { accessKeyId, secretAccessKey, region }) {
  const u = new URL(endpoint);
  const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const headers = {
    'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
    host: u.host,
    'x-amz-content-sha256': sha256(body),
    'x-amz-date': amzDate,
  };
  const names = Object.keys(headers).sort();
  const canonical = ['POST', '/', '', ...names.map((n) => `${n}:${headers[n]}`), '', names.join(';'), headers['x-amz-content-sha256']].join('\n');
  const scope = `${day}/${region}/sts/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, day), region), 'sts'), 'aws4_request');
  const signature = crypto.createHmac('sha256', signingKey).update(toSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return { url: u, headers };
}

const xmlField = (xml, name) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];

function mintCredentials({ endpoint, region, accessKeyId, secretAccessKey, durationSeconds, policy }) {
  const form = new URLSearchParams({ Action: 'AssumeRole', Version: '2011-06-15', DurationSeconds: String(durationSeconds) });
  if (policy) form.set('Policy', policy);
  const body = form.toString();
  const { url, headers } = signedStsPost(endpoint, body, { accessKeyId, secretAccessKey, region });
  return new Promise((resolve, reject) => {
    const lib = url.protocol === 'https:' ? https : http;
    const req = lib.request(url, { method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) }, timeout: 10_000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const xml = Buffer.concat(chunks).toString('utf8');
        const creds = {
          accessKeyId: xmlField(xml, 'AccessKeyId'),
          secretAccessKey: xmlField(xml, 'SecretAccessKey'),
          sessionToken: xmlField(xml, 'SessionToken'),
          expiration: xmlField(xml, 'Expiration'),
        };
        if (res.statusCode !== 200 || !creds.accessKeyId || !creds.secretAccessKey) {
          return reject(new Error(`MinIO AssumeRole: HTTP ${res.statusCode}: ${xmlField(xml, 'Code') || ''} ${xmlField(xml, 'Message') || ''}`));
        }
        resolve(creds);
      });
    });
    req.on('timeout', () => req.destroy(new Error('MinIO AssumeRole: timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

// ---------------------------------------------------------------- the STS API

const NS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const xmlEscape = (s) => String(s).replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]);

function errorXml(err, requestId) {
  const type = err.status >= 500 ? 'Receiver' : 'Sender';
  return `<ErrorResponse xmlns="${NS}"><Error><Type>${type}</Type><Code>${xmlEscape(err.code)}</Code><Message>${xmlEscape(err.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
}

function successXml({ claims, roleArn, sessionName, creds, issuer, requestId }) {
  const role = roleArn.split('/').slice(1).join('/');
  const account = roleArn.split(':')[4];
  const assumed = `arn:aws:sts::${account}:assumed-role/${role}/${sessionName}`;
  return [
    `<AssumeRoleWithWebIdentityResponse xmlns="${NS}"><AssumeRoleWithWebIdentityResult>`,
    `<SubjectFromWebIdentityToken>${xmlEscape(claims.sub)}</SubjectFromWebIdentityToken>`,
    `<Audience>${xmlEscape([].concat(claims.aud).join(','))}</Audience>`,
    `<AssumedRoleUser><Arn>${xmlEscape(assumed)}</Arn><AssumedRoleId>AROAE2E:${xmlEscape(sessionName)}</AssumedRoleId></AssumedRoleUser>`,
    `<Credentials><AccessKeyId>${xmlEscape(creds.accessKeyId)}</AccessKeyId><SecretAccessKey>${xmlEscape(creds.secretAccessKey)}</SecretAccessKey>`,
    `<SessionToken>${xmlEscape(creds.sessionToken || '')}</SessionToken><Expiration>${xmlEscape(creds.expiration)}</Expiration></Credentials>`,
    `<Provider>${xmlEscape(issuer)}</Provider>`,
    `</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`,
  ].join('');
}

function readBody(req, limit = 64 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) req.destroy(new Error('request body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function createSts(config) {
  const log = config.log || ((o) => console.log(JSON.stringify({ time: new Date().toISOString(), ...o })));
  const keys = config.keys || new IssuerKeys(config.issuer, config.ca, log);
  const handle = async (form) => {
    if (form.get('Action') !== 'AssumeRoleWithWebIdentity') throw new StsError(400, 'InvalidAction', `unsupported action ${form.get('Action')}`);
    const claims = await verifyToken(form.get('WebIdentityToken'), { keys, issuer: config.issuer, audience: config.audience });
    const roleArn = form.get('RoleArn') || '';
    if (roleArn !== config.roleArn || !stringLike(config.roleSubject, claims.sub)) {
      throw new StsError(403, 'AccessDenied', `Not authorized to perform sts:AssumeRoleWithWebIdentity (role ${roleArn}, subject ${claims.sub})`);
    }
    let creds;
    try {
      creds = await config.mint();
    } catch (err) {
      throw new StsError(500, 'InternalFailure', `minting credentials failed: ${err.message}`);
    }
    return { claims, roleArn, sessionName: form.get('RoleSessionName') || 'session', creds };
  };
  return http.createServer((req, res) => {
    const requestId = crypto.randomUUID();
    const send = (status, xml) => {
      res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
      res.end(xml);
    };
    // Ready once the issuer's keys were fetched (anonymous discovery works).
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(keys.fetchedAt > 0 ? 200 : 503);
      return res.end(keys.fetchedAt > 0 ? 'ok\n' : 'no keys yet\n');
    }
    readBody(req)
      .then((body) => handle(new URLSearchParams(body)))
      .then((ok) => {
        log({ event: 'issued', sub: ok.claims.sub, aud: ok.claims.aud, role: ok.roleArn, expiration: ok.creds.expiration });
        send(200, successXml({ ...ok, issuer: config.issuer, requestId }));
      })
      .catch((err) => {
        const e = err instanceof StsError ? err : new StsError(500, 'InternalFailure', err.message);
        log({ event: 'refused', status: e.status, code: e.code, reason: e.message });
        send(e.status, errorXml(e, requestId));
      });
  });
}

module.exports = { createSts, verifyToken, stringLike, IssuerKeys, StsError, signedStsPost, mintCredentials };

if (require.main === module) {
  const env = process.env;
  const need = (name) => {
    if (!env[name]) {
      console.error(`sts.cjs: ${name} is not set`);
      process.exit(78);
    }
    return env[name];
  };
  const config = {
    issuer: need('OIDC_ISSUER'),
    ca: env.OIDC_CA_FILE ? fs.readFileSync(env.OIDC_CA_FILE) : undefined,
    audience: env.AUDIENCE || 'sts.amazonaws.com',
    roleArn: need('ROLE_ARN'),
    roleSubject: need('ROLE_SUBJECT'),
  };
  const minio = {
    endpoint: need('MINIO_ENDPOINT'),
    region: env.MINIO_REGION || 'us-east-1',
    accessKeyId: need('AWS_ACCESS_KEY_ID'),
    secretAccessKey: need('AWS_SECRET_ACCESS_KEY'),
    durationSeconds: Number(env.DURATION_SECONDS || 3600),
    policy: env.ROLE_POLICY || undefined,
  };
  const log = (o) => console.log(JSON.stringify({ time: new Date().toISOString(), ...o }));
  const keys = new IssuerKeys(config.issuer, config.ca, log);
  const server = createSts({ ...config, keys, log, mint: () => mintCredentials(minio) });
  server.listen(Number(env.PORT || 8080), env.HOST || '0.0.0.0', () => {
    const { address, port } = server.address();
    log({ event: 'listening', address, port, issuer: config.issuer, audience: config.audience, role: config.roleArn, subject: config.roleSubject });
  });
  // The first fetch of the keys, retried until discovery answers (e.g. once anonymous discovery is allowed).
  const first = () =>
    keys.refresh().catch((err) => {
      log({ event: 'discovery-failed', reason: err.message });
      setTimeout(first, 2000).unref();
    });
  first();
  process.on('SIGTERM', () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
