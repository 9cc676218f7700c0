// A fake S3 endpoint on 127.0.0.1 that answers ListObjectsV2 however a test
// wants: endlessly, repeating itself, with absurd sizes or a body without
// end. The hostile store is the point, so nothing here checks signatures.
// Object GETs (and anything else) get 404 NoSuchKey unless the test's GET
// handler answers them.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ListRequest {
  readonly bucket: string;
  readonly prefix: string;
  readonly token: string | undefined;
}

export interface ListedKey {
  readonly key: string;
  /** As it goes into <Size>: a number, or any text a hostile store might send. */
  readonly size: number | string;
  readonly lastModified?: Date;
}

export interface FakeS3 {
  readonly endpoint: string;
  /** Listing requests answered so far. */
  readonly listings: ListRequest[];
  stop(): Promise<void>;
}

/** Answers one listing: a body to send (XML), or the handler writes the response itself and returns undefined. */
export type ListHandler = (request: ListRequest, res: http.ServerResponse) => string | undefined;

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A ListObjectsV2 result as S3 writes it. */
export function listingXml(opts: { bucket: string; prefix: string; keys: readonly ListedKey[]; truncated: boolean; nextToken?: string; token?: string }): string {
  const contents = opts.keys
    .map(
      (k) =>
        `<Contents><Key>${xmlEscape(k.key)}</Key><LastModified>${(k.lastModified ?? new Date('2026-03-01T12:00:00Z')).toISOString()}</LastModified>` +
        `<ETag>&quot;0123456789abcdef0123456789abcdef&quot;</ETag><Size>${xmlEscape(String(k.size))}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
    )
    .join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    `<Name>${xmlEscape(opts.bucket)}</Name><Prefix>${xmlEscape(opts.prefix)}</Prefix><KeyCount>${opts.keys.length}</KeyCount><MaxKeys>1000</MaxKeys>` +
    (opts.token ? `<ContinuationToken>${xmlEscape(opts.token)}</ContinuationToken>` : '') +
    `<IsTruncated>${opts.truncated}</IsTruncated>` +
    (opts.nextToken ? `<NextContinuationToken>${xmlEscape(opts.nextToken)}</NextContinuationToken>` : '') +
    `${contents}</ListBucketResult>`
  );
}

/** Answers an object GET (the key without the bucket) by writing the response; false leaves it to the default 404. */
export type GetHandler = (key: string, res: http.ServerResponse) => boolean;

export async function startFakeS3(onList: ListHandler, onGet?: GetHandler): Promise<FakeS3> {
  const listings: ListRequest[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://x');
    const [bucket = '', ...rest] = url.pathname.split('/').filter(Boolean);
    if (req.method === 'GET' && rest.length === 0 && url.searchParams.get('list-type') === '2') {
      const request = { bucket, prefix: url.searchParams.get('prefix') ?? '', token: url.searchParams.get('continuation-token') ?? undefined };
      listings.push(request);
      const body = onList(request, res);
      if (body !== undefined) {
        res.writeHead(200, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      }
      return;
    }
    if (req.method === 'GET' && onGet?.(rest.map(decodeURIComponent).join('/'), res)) return;
    const body = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>';
    res.writeHead(404, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    listings,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
