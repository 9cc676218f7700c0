// Reads what the proof in page-digests.ts needs from the bucket: the WAL
// generation of each copy (its header only), and page fingerprints of
// snapshots and of the newest copy of each generation. Everything is streamed;
// memory holds 8 bytes a page of one image and a map of the pages one copy
// writes, so the proof is skipped (with a warning) above MAX_PROOF_PAGES.
import { decodeInto } from '../../codec/decoder.js';
import { createZstdDecoder } from '../../codec/zstd.js';
import { getXxhash, type XXHashApi } from '../../codec/xxhash.js';
import { CorruptBackupError } from '../../errors.js';
import { DB_HEADER_SIZE, parseDbHeader } from '../../sqlite/header.js';
import { parseWalHeader, WAL_HEADER_SIZE, WalReader } from '../../sqlite/wal.js';
import type { ObjectInfo, Store } from '../../store/store.js';
import { ImageDigests, type PageHash, type WalDigests, type WalGeneration } from './page-digests.js';

/** Largest database (in pages) whose objects are fingerprinted: 4M pages cost 32 MiB an image. */
export const MAX_PROOF_PAGES = 4 << 20;
/**
 * Largest zstd window the evidence decodes with (every zstd level up to 19
 * stays within it): a window is allocated whole, and the restore itself may
 * need one of up to 128 MiB afterwards; larger ones give no evidence.
 */
export const MAX_PROOF_WINDOW = 8 << 20;

const decoder = (name: string) => createZstdDecoder({ name, maxWindow: MAX_PROOF_WINDOW });

/** The proof would need more memory than the bound allows (too many pages, or a large zstd window). */
export class TooLargeToProve extends Error {
  override name = 'TooLargeToProve';
}

const SEED_HI = 0;
const SEED_LO = 0x9e3779b9;

function pageHash(xx: XXHashApi, page: Uint8Array): PageHash {
  return [xx.h32Raw(page, SEED_HI) >>> 0, xx.h32Raw(page, SEED_LO) >>> 0];
}

export async function zeroPageHash(pageSize: number): Promise<PageHash> {
  return pageHash(await getXxhash(), new Uint8Array(pageSize));
}

function body(store: Store, object: ObjectInfo, signal: AbortSignal): AsyncIterable<Uint8Array> {
  return store.read(object, { signal }) as AsyncIterable<Uint8Array>;
}

/** The WAL generation a copy belongs to (from its header), or undefined for an empty copy. */
export async function readGeneration(store: Store, object: ObjectInfo, signal: AbortSignal): Promise<(WalGeneration & { pageSize: number }) | undefined> {
  const head = new Uint8Array(WAL_HEADER_SIZE);
  let got = 0;
  await decodeInto(
    body(store, object, signal),
    await decoder(object.key),
    (piece) => {
      const n = Math.min(piece.length, WAL_HEADER_SIZE - got);
      head.set(piece.subarray(0, n), got);
      got += n;
    },
    signal,
    () => got >= WAL_HEADER_SIZE,
  );
  if (got === 0) return undefined;
  if (got < WAL_HEADER_SIZE) throw new CorruptBackupError(`${object.key}: WAL copy shorter than a WAL header`);
  const header = parseWalHeader(head, object.key);
  return { checkpointSeq: header.checkpointSeq, salt1: header.salt1, salt2: header.salt2, pageSize: header.pageSize };
}

/** Fingerprints of a snapshot: every page of the database file it holds. */
export async function snapshotDigests(store: Store, object: ObjectInfo, signal: AbortSignal): Promise<ImageDigests> {
  const xx = await getXxhash();
  let pageSize = 0;
  let page = new Uint8Array(DB_HEADER_SIZE);
  let filled = 0;
  let hi = new Uint32Array(1024);
  let lo = new Uint32Array(1024);
  let pages = 0;
  const addPage = () => {
    if (pages === MAX_PROOF_PAGES) throw new TooLargeToProve(`${object.key} holds more than ${MAX_PROOF_PAGES} pages`);
    if (pages === hi.length) {
      [hi, lo] = [grow(hi), grow(lo)];
    }
    const [h, l] = pageHash(xx, page);
    hi[pages] = h;
    lo[pages] = l;
    pages += 1;
    filled = 0;
  };
  await decodeInto(
    body(store, object, signal),
    await decoder(object.key),
    (piece) => {
      for (let at = 0; at < piece.length; ) {
        if (pageSize === 0 && filled === DB_HEADER_SIZE) {
          const header = parseDbHeader(page);
          if (typeof header === 'string') throw new CorruptBackupError(`${object.key}: snapshot is ${header}`);
          pageSize = header.pageSize;
          const first = new Uint8Array(pageSize);
          first.set(page);
          page = first;
        }
        const n = Math.min(page.length - filled, piece.length - at);
        page.set(piece.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (pageSize !== 0 && filled === pageSize) addPage();
      }
    },
    signal,
  );
  if (pageSize === 0 || filled !== 0) throw new CorruptBackupError(`${object.key}: snapshot is not a whole number of database pages`);
  return new ImageDigests(pageSize, hi.subarray(0, pages), lo.subarray(0, pages));
}

/** Fingerprints of what a WAL copy commits, read as SQLite recovers a -wal file. */
export async function walDigests(store: Store, object: ObjectInfo, signal: AbortSignal): Promise<WalDigests> {
  const xx = await getXxhash();
  const pages = new Map<number, PageHash>();
  let pending: Array<[number, PageHash]> = [];
  let dbSize: number | undefined;
  let minDbSize: number | undefined;
  let frames = 0;
  let maxPgno = 0;
  const reader = new WalReader({
    name: object.key,
    mode: 'lenient',
    onFrame: (frame) => {
      pending.push([frame.pgno, pageHash(xx, frame.page)]);
      if (frame.commitSize === 0) return;
      for (const [pgno, hash] of pending) {
        pages.set(pgno, hash);
        maxPgno = Math.max(maxPgno, pgno);
      }
      frames += pending.length;
      pending = [];
      // Pages past the end are gone, even ones this commit wrote.
      if (frame.commitSize < maxPgno) {
        for (const pgno of pages.keys()) if (pgno > frame.commitSize) pages.delete(pgno);
        maxPgno = frame.commitSize;
      }
      dbSize = frame.commitSize;
      minDbSize = Math.min(minDbSize ?? Infinity, frame.commitSize);
      if (pages.size > MAX_PROOF_PAGES) throw new TooLargeToProve(`${object.key} writes more than ${MAX_PROOF_PAGES} pages`);
    },
  });
  await decodeInto(body(store, object, signal), await decoder(object.key), (piece) => void reader.push(piece), signal, () => reader.stopped);
  reader.end();
  const header = reader.walHeader;
  if (!header) throw new CorruptBackupError(`${object.key}: WAL copy holds no WAL header`);
  return {
    generation: { checkpointSeq: header.checkpointSeq, salt1: header.salt1, salt2: header.salt2 },
    pageSize: header.pageSize,
    frames,
    dbSize,
    minDbSize,
    pages,
  };
}

function grow(array: Uint32Array): Uint32Array<ArrayBuffer> {
  const bigger = new Uint32Array(array.length * 2);
  bigger.set(array);
  return bigger;
}
