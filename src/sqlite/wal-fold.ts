// Applies WAL segments, in order, as page writes and commits: the applier of
// every layout that ships SQLite WAL bytes (Litestream v0.3 segments, copies
// of a -wal file). Each WAL file (index) is read frame by frame, validated
// (header, salts, checksum chain, commits), its pages handed to the page
// sink; segments of one index must follow each other without a gap.
import type { FoldContext, FoldOutcome } from '../apply/applier.js';
import type { SnapshotFacts } from '../apply/folded-pages.js';
import { ReleasingChunks, release } from '../codec/release.js';
import { createDecoder, decodeInto } from '../codec/decoder.js';
import { WorkerDecoder } from '../codec/worker-decoder.js';
import { CorruptBackupError } from '../errors.js';
import type { WalStep } from '../layout/layout.js';
import { WAL_HEADER_SIZE, WalReader, type WalFrame } from './wal.js';

/** Follows the frames of one WAL file for a layout's own checks. */
export interface WalWatcher {
  frame(frame: WalFrame): void;
  /** A check against the snapshot, once the WAL file has been read; undefined when there is nothing to check. */
  done(): ((snapshot: SnapshotFacts) => void) | undefined;
}

export interface WalFoldOptions {
  /**
   * strict: every frame must be valid and every WAL file end on a commit (a
   * layout that ships only committed frames). lenient: a whole -wal file
   * copied at some moment; its committed frames up to the first invalid one
   * apply, as SQLite's own recovery reads it, and it must commit something.
   */
  readonly mode: 'strict' | 'lenient';
  /** Key of the object that should exist at a WAL position, for messages about gaps. */
  readonly walKey: (walIndex: number, offset: number) => string;
  readonly watch?: (step: WalStep) => WalWatcher;
}

export type WalFoldDetails = {
  readonly walSegments: number;
  readonly walFrames: number;
  /** Last WAL position applied: the WAL index and the end offset of its last commit. */
  readonly position: { readonly index: number; readonly offset: number } | undefined;
};

/**
 * Compressed segments larger than this are decoded in a worker thread while
 * this one checks and applies the frames: a busy database's large
 * transactions (tens of MB a segment). Smaller ones are not worth a worker's
 * start (100-250 ms of CPU).
 */
export const WORKER_DECODE_BYTES = 8 << 20;

export async function foldWal(context: FoldContext, options: WalFoldOptions): Promise<FoldOutcome<SnapshotFacts>> {
  const workerDecoder = new WorkerDecoder();
  try {
    return await foldWalWith(context, options, workerDecoder);
  } finally {
    await workerDecoder.close();
  }
}

async function foldWalWith(context: FoldContext, options: WalFoldOptions, workerDecoder: WorkerDecoder): Promise<FoldOutcome<SnapshotFacts>> {
  const { steps, count, pages, signal } = context;
  const lenient = options.mode === 'lenient';
  // Checks against the snapshot, which may still be being written while the WAL is folded.
  const checks: Array<(snapshot: SnapshotFacts) => void> = [];
  let reader: WalReader | undefined;
  let readerIndex = -1;
  let readerStep: WalStep | undefined;
  let watcher: WalWatcher | undefined;
  let frames = 0;
  let segments = 0;
  pages.hold(lenient);

  const finish = () => {
    if (!reader || !readerStep) return;
    reader.end();
    frames += reader.frames;
    if (lenient) {
      // A copied -wal file: whatever follows the last commit is not part of the database.
      pages.discardPending();
      if (reader.committedOffset <= WAL_HEADER_SIZE) {
        throw new CorruptBackupError(`${readerStep.object.key}: WAL holds no committed transaction with valid checksums`);
      }
    }
    const check = watcher?.done();
    if (check) checks.push(check);
  };

  for (let i = 0; i < count; i += 1) {
    const next = await steps.next();
    if (next.done) break;
    const step = next.value.step as WalStep;
    const name = step.object.key;
    if (step.walIndex !== readerIndex) {
      finish();
      readerIndex = step.walIndex;
      readerStep = step;
      const watching = options.watch?.(step);
      watcher = watching;
      reader = new WalReader({
        name,
        mode: options.mode,
        onFrame: (frame) => {
          watching?.frame(frame);
          pages.write(frame.pgno, frame.page);
          if (frame.commitSize === 0) return false;
          pages.commit(frame.commitSize);
          // Pages are written out early only at a transaction boundary: pause here when that is wanted.
          return pages.wantsRelief;
        },
      });
    }
    const wal = reader as WalReader;
    if (step.offset !== wal.offset) {
      next.value.body.destroy();
      throw new CorruptBackupError(
        step.offset > wal.offset
          ? `missing WAL segment ${options.walKey(step.walIndex, wal.offset)} (the next segment present is ${name})`
          : `WAL segment ${name} overlaps the previous segment, which ends at offset ${wal.offset}`,
      );
    }
    wal.setName(name);
    if (!wal.walHeader) {
      checks.push((snapshot) => {
        const header = wal.walHeader;
        if (header && header.pageSize !== snapshot.pageSize) {
          throw new CorruptBackupError(`${name}: WAL page size ${header.pageSize} differs from the snapshot's ${snapshot.pageSize}`);
        }
      });
    }
    const { buffer } = next.value;
    const sink = async (piece: Uint8Array) => {
      // The reader pauses after a commit that wants the pages written out
      // (rare: a budget exceeded); the piece stays valid meanwhile.
      for (let used = wal.push(piece); used < piece.length; used += wal.push(piece.subarray(used))) await pages.relieve();
      if (pages.wantsRelief) await pages.relieve();
    };
    // A lenient reader ignores everything after an invalid frame: it need not be decoded at all.
    const enough = () => wal.stopped;
    if (!buffer && step.compression !== 'none' && step.object.size > WORKER_DECODE_BYTES) {
      // Parts move to the worker, which frees them.
      await workerDecoder.decode(next.value.body, step.compression, name, sink, signal, enough);
    } else {
      const decoder = await createDecoder(step.compression, name);
      const chunks = buffer ? undefined : new ReleasingChunks(next.value.body);
      await decodeInto(buffer ?? (chunks as ReleasingChunks), decoder, sink, signal, enough);
      // The decoder is done with its input: downloads are freed now, not by a major collection.
      release(buffer);
      chunks?.releaseRest();
    }
    segments += 1;
  }
  finish();
  pages.hold(false);
  const details: WalFoldDetails = {
    walSegments: segments,
    walFrames: frames,
    // The end of the last commit: all of a strict WAL, the committed part of a lenient one.
    position: reader ? { index: readerIndex, offset: reader.committedOffset } : undefined,
  };
  return {
    check: (snapshot) => {
      for (const one of checks) one(snapshot);
    },
    details,
  };
}
