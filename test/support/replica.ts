// Reading (and, for corruption tests, tampering with) a Litestream v0.3 replica,
// either in an S3 bucket or in a file replica directory, through one interface.
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { lz4Decode } from './lz4.js';

export interface StoredObject {
  /** Key relative to the replica root, e.g. `generations/<gen>/wal/00000001_00000000.wal.lz4`. */
  key: string;
  size: number;
  lastModified: Date;
}

export interface ReplicaStore {
  readonly description: string;
  list(): Promise<StoredObject[]>;
  get(key: string): Promise<Buffer>;
  put(key: string, data: Buffer): Promise<void>;
  delete(key: string): Promise<void>;
}

export class S3Store implements ReplicaStore {
  readonly description: string;
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    readonly prefix: string,
  ) {
    this.description = `s3://${bucket}/${prefix}`;
  }

  private full(key: string): string {
    return `${this.prefix}/${key}`;
  }

  async list(): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${this.prefix}/`, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) {
        if (!o.Key) continue;
        out.push({ key: o.Key.slice(this.prefix.length + 1), size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async get(key: string): Promise<Buffer> {
    const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
    if (!res.Body) throw new Error(`empty body for ${key}`);
    return Buffer.from(await res.Body.transformToByteArray());
  }

  async put(key: string, data: Buffer): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.full(key), Body: data }));
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
  }
}

export class FileStore implements ReplicaStore {
  readonly description: string;
  constructor(readonly root: string) {
    this.description = `file://${root}`;
  }

  async list(): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    const walk = async (rel: string): Promise<void> => {
      const entries = await readdir(path.join(this.root, rel), { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        const child = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) await walk(child);
        else if (e.isFile()) {
          const st = await stat(path.join(this.root, child));
          out.push({ key: child, size: st.size, lastModified: st.mtime });
        }
      }
    };
    await walk('');
    return out;
  }

  get(key: string): Promise<Buffer> {
    return readFile(path.join(this.root, key));
  }

  async put(key: string, data: Buffer): Promise<void> {
    const file = path.join(this.root, key);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, data);
  }

  async delete(key: string): Promise<void> {
    await rm(path.join(this.root, key));
  }
}

export interface Snapshot extends StoredObject {
  index: number;
}

export interface WalSegment extends StoredObject {
  index: number;
  offset: number;
}

export interface Generation {
  id: string;
  /** Sorted by index. */
  snapshots: Snapshot[];
  /** Sorted by (index, offset). */
  wal: WalSegment[];
  /** Newest LastModified of any object: Litestream picks the generation with the newest one. */
  updatedAt: Date;
}

export interface ReplicaLayout {
  /** Sorted oldest update first. */
  generations: Generation[];
  /** Objects that are not part of the v0.3 layout. */
  other: StoredObject[];
}

const snapshotRe = /^generations\/([0-9a-f]{16})\/snapshots\/([0-9a-f]{8,16})\.snapshot\.lz4$/;
const walRe = /^generations\/([0-9a-f]{16})\/wal\/([0-9a-f]{8,16})_([0-9a-f]{8,16})\.wal\.lz4$/;

export async function readLayout(store: ReplicaStore): Promise<ReplicaLayout> {
  const gens = new Map<string, Generation>();
  const other: StoredObject[] = [];
  const gen = (id: string): Generation => {
    let g = gens.get(id);
    if (!g) {
      g = { id, snapshots: [], wal: [], updatedAt: new Date(0) };
      gens.set(id, g);
    }
    return g;
  };
  for (const o of await store.list()) {
    let m = snapshotRe.exec(o.key);
    if (m) {
      const g = gen(m[1]!);
      g.snapshots.push({ ...o, index: parseInt(m[2]!, 16) });
      if (o.lastModified > g.updatedAt) g.updatedAt = o.lastModified;
      continue;
    }
    m = walRe.exec(o.key);
    if (m) {
      const g = gen(m[1]!);
      g.wal.push({ ...o, index: parseInt(m[2]!, 16), offset: parseInt(m[3]!, 16) });
      if (o.lastModified > g.updatedAt) g.updatedAt = o.lastModified;
      continue;
    }
    other.push(o);
  }
  for (const g of gens.values()) {
    g.snapshots.sort((a, b) => a.index - b.index);
    g.wal.sort((a, b) => a.index - b.index || a.offset - b.offset);
  }
  const generations = [...gens.values()].sort((a, b) => a.updatedAt.getTime() - b.updatedAt.getTime());
  return { generations, other };
}

export function newestGeneration(layout: ReplicaLayout): Generation {
  const g = layout.generations.at(-1);
  if (!g) throw new Error('replica holds no generation');
  return g;
}

/** Distinct WAL indexes of a generation, ascending. */
export function walIndexes(g: Generation): number[] {
  return [...new Set(g.wal.map((w) => w.index))];
}

export function segmentsOf(g: Generation, index: number): WalSegment[] {
  return g.wal.filter((w) => w.index === index);
}

export const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

/**
 * The position a complete restore of generation `g` ends at: the highest WAL
 * index and the end offset (segment offset + decompressed length) of its last
 * segment.
 */
export async function endPosition(store: ReplicaStore, g: Generation): Promise<{ index: number; offset: number }> {
  const last = g.wal.at(-1);
  if (!last) throw new Error(`generation ${g.id} has no WAL segments`);
  const data = await lz4Decode(await store.get(last.key));
  return { index: last.index, offset: last.offset + data.length };
}

/** Copies every object of generation `g` from one store to another (e.g. to a fresh prefix to tamper with). */
export async function copyGeneration(from: ReplicaStore, to: ReplicaStore, g: Generation): Promise<void> {
  for (const o of [...g.snapshots, ...g.wal]) await to.put(o.key, await from.get(o.key));
}

/** One-line summary for logs, e.g. `gen 0123…: 1 snapshot(s) [0], 5 WAL indexes, 23 segments`. */
export function describeGeneration(g: Generation): string {
  const idx = walIndexes(g);
  const perIndex = idx.map((i) => `${hex8(i)}:${segmentsOf(g, i).length}`).join(' ');
  const snapBytes = g.snapshots.reduce((n, s) => n + s.size, 0);
  const walBytes = g.wal.reduce((n, s) => n + s.size, 0);
  return (
    `generation ${g.id}: ${g.snapshots.length} snapshot(s) at index [${g.snapshots.map((s) => s.index).join(',')}] ` +
    `(${snapBytes} bytes), ${idx.length} WAL indexes, ${g.wal.length} segments (${walBytes} bytes); segments per index: ${perIndex}`
  );
}
