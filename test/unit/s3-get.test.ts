import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { setImmediate as turn } from 'node:timers/promises';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { isTransient, mapS3Error } from '../../src/store/s3-errors.js';
import { createObjectGet, encodeKey, probeTarget, serviceError } from '../../src/store/s3-get.js';
import { TemporaryError } from '../../src/errors.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };

/** The path the SDK itself would request for `key`, captured after serialization (nothing is sent). */
async function sdkPath(client: S3Client, bucket: string, key: string): Promise<string> {
  const command = new GetObjectCommand({ Bucket: bucket, Key: key });
  let path = '';
  const capture = () => async (args: { request: { path: string } }) => {
    path = args.request.path;
    return { output: {}, response: {} };
  };
  command.middlewareStack.addRelativeTo(capture as unknown as Parameters<typeof command.middlewareStack.addRelativeTo>[0], {
    relation: 'after',
    toMiddleware: 'serializerMiddleware',
  });
  await client.send(command);
  return path;
}

test('object keys are encoded in the path exactly as the SDK encodes them', async () => {
  const client = new S3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', forcePathStyle: true, credentials });
  const target = await probeTarget(client, 'bucket');
  const keys = [
    'db/generations/0123456789abcdef/wal/00000000/00000000.wal.lz4',
    'with space/and+plus/%percent/~tilde',
    "reserved !'()*&$,;=:@ chars",
    'ünïcødé/日本語/emoji-🙂',
    'trailing/',
    'a//double',
  ];
  for (const key of keys) assert.equal(target.prefix + encodeKey(key), await sdkPath(client, 'bucket', key), key);
});

test('the probe learns addressing and signing scheme without sending anything', async () => {
  const pathStyle = await probeTarget(new S3Client({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true, credentials }), 'b');
  assert.deepEqual(
    { protocol: pathStyle.protocol, hostname: pathStyle.hostname, port: pathStyle.port, host: pathStyle.host, prefix: pathStyle.prefix },
    { protocol: 'http:', hostname: '127.0.0.1', port: 9000, host: '127.0.0.1:9000', prefix: '/b/' },
  );
  assert.equal(pathStyle.authScheme?.name, 'sigv4');
  assert.equal(pathStyle.authScheme?.signingRegion, 'eu-west-1');
  const aws = await probeTarget(new S3Client({ region: 'eu-west-1', credentials }), 'my-bucket');
  assert.equal(aws.hostname, 'my-bucket.s3.eu-west-1.amazonaws.com');
  assert.equal(aws.prefix, '/');
  // S3 Express needs its own session signing: such buckets stay on the SDK path.
  const express = await probeTarget(new S3Client({ region: 'us-west-2', credentials }), 'b--usw2-az1--x-s3');
  assert.equal(express.authScheme?.name, 'sigv4-s3express');
});

test('error responses take the SDK shape, so they map to the same exit codes', () => {
  const slow = serviceError(503, '<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>', {});
  assert.equal(slow.name, 'SlowDown');
  assert.equal(slow.message, 'Reduce your request rate.');
  assert.ok(isTransient(slow));
  const gone = serviceError(404, '<Error><Code>NoSuchKey</Code></Error>', {});
  assert.ok(!isTransient(gone));
  assert.ok(mapS3Error(gone, 'downloading k', 'b') instanceof TemporaryError);
  const bare = serviceError(403, '', {});
  assert.equal(bare.name, 'Forbidden');
  assert.equal(mapS3Error(bare, 'downloading k', 'b').exitCode, 77);
});

interface Seen {
  method?: string;
  url?: string;
  headers: http.IncomingHttpHeaders;
}

async function withServer(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void, fn: (endpoint: string, seen: Seen[]) => Promise<void>) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, headers: req.headers });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

function getter(endpoint: string, requestTimeoutMs = 5_000, clockOffsetMs = 0) {
  const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials });
  client.config.systemClockOffset = clockOffsetMs;
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  return createObjectGet(client, { bucket: 'bkt', agents, requestTimeoutMs, connectionTimeoutMs: 5_000 });
}

test('a direct GET is signed, carries range and If-Match, and streams the body', async () => {
  await withServer(
    (_req, res) => {
      res.writeHead(206, { etag: '"abc"', 'content-length': '5' });
      res.end('hello');
    },
    async (endpoint, seen) => {
      const get = getter(endpoint);
      const response = await get({ key: 'p/x y.wal', range: 'bytes=0-4', ifMatch: '"abc"', signal: new AbortController().signal });
      let body = '';
      for await (const chunk of response.body) body += String(chunk);
      assert.equal(body, 'hello');
      assert.equal(response.etag, '"abc"');
      const [request] = seen;
      assert.equal(request?.url, '/bkt/p/x%20y.wal');
      assert.equal(request?.headers.range, 'bytes=0-4');
      assert.equal(request?.headers['if-match'], '"abc"');
      assert.match(String(request?.headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=[a-z0-9;-]*if-match;[a-z0-9;-]*range;/);
      assert.ok(request?.headers['x-amz-date']);
    },
  );
});

test('direct GETs sign with the clock skew the SDK learned from the server', async () => {
  await withServer(
    (_req, res) => res.end('x'),
    async (endpoint, seen) => {
      const hour = 3_600_000;
      const response = await getter(endpoint, 5_000, hour)({ key: 'k', signal: new AbortController().signal });
      response.body.resume();
      const stamp = String(seen[0]?.headers['x-amz-date']); // 20261127T101500Z
      const signed = Date.parse(stamp.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'));
      assert.ok(Math.abs(signed - (Date.now() + hour)) < 60_000, `signed at ${stamp}`);
    },
  );
});

test('an error status becomes an SDK-shaped error; headers that never come are a TimeoutError', async () => {
  await withServer(
    (req, res) => {
      if (req.url?.endsWith('/slow')) return; // never answers
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end('<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
    },
    async (endpoint) => {
      const get = getter(endpoint, 300);
      const signal = new AbortController().signal;
      await assert.rejects(get({ key: 'k', signal }), (err: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(err.name, 'SlowDown');
        assert.equal(err.$metadata?.httpStatusCode, 503);
        return isTransient(err);
      });
      await assert.rejects(get({ key: 'slow', signal }), (err: Error) => err.name === 'TimeoutError' && isTransient(err));
    },
  );
});

test('an abort right after a body was read to its last byte errors that body, and nothing is left uncaught', async () => {
  // The moment of a corrupt last chunk: its check fails, and the restore
  // aborts, before the body's 'end' event. An uncaught error here made the
  // CLI exit 70 instead of 65.
  await withServer(
    (_req, res) => {
      res.writeHead(200, { 'content-length': '5' });
      res.end('hello');
    },
    async (endpoint) => {
      const controller = new AbortController();
      const { body } = await getter(endpoint)({ key: 'k', signal: controller.signal });
      while (!(body as http.IncomingMessage).complete) await turn();
      let text = '';
      for (let chunk: Buffer | null; (chunk = body.read() as Buffer | null) !== null; ) text += String(chunk);
      // The read that found the end has scheduled the 'end' event; the abort comes first.
      controller.abort();
      await new Promise((resolve) => body.once('close', resolve));
      await turn();
      assert.equal(text, 'hello');
      assert.equal(body.errored, controller.signal.reason);
    },
  );
});
