// How a Litestream v0.5 plan becomes a database: the first LTX file (its
// range starts at TXID 1) is the whole database, written in place by the
// snapshot worker; each later file is one commit of its pages, checked to
// continue the one before it.
import type { Applier, FoldContext, FoldOutcome } from '../../apply/applier.js';
import type { SnapshotFacts } from '../../apply/folded-pages.js';
import { ReleasingChunks, release } from '../../codec/release.js';
import type { WrittenSnapshot } from '../../apply/snapshot-writer.js';
import { Breather } from '../../codec/decoder.js';
import { CorruptBackupError } from '../../errors.js';
import { parseDbHeader } from '../../sqlite/header.js';
import type { LtxStep } from '../layout.js';
import { hex64, HEADER_FLAG_NO_CHECKSUM, isSnapshot, LtxDecoder, type LtxHeader, type LtxSummary } from './decoder.js';
import { txidHex } from './keys.js';
import { ltxSnapshotSource } from './snapshot-source.js';

/** LTX files larger than this wait for the snapshot to pass their pages (PageSink.admit). */
const IN_STEP_BYTES = 8 << 20;

interface LtxFacts extends SnapshotFacts {
  readonly ltx: LtxSummary;
}

export const ltxApplier: Applier<LtxFacts> = {
  snapshotSource(first) {
    if ((first as LtxStep).minTxid !== 1n) throw new CorruptBackupError(`${first.object.key}: an LTX restore must start with a snapshot (TXID 1)`);
    return ltxSnapshotSource();
  },
  inspectSnapshot: (written, first) => checkLtxSnapshot(written, first as LtxStep),
  fold: (context) => foldLtx(context),
};

/** The key names the range; the header must agree, or the file is not what the plan needs. */
function checkRange(header: LtxHeader, step: LtxStep): true {
  if (header.minTxid !== step.minTxid || header.maxTxid !== step.maxTxid) {
    throw new CorruptBackupError(
      `${step.object.key}: header says TXIDs ${txidHex(header.minTxid)}-${txidHex(header.maxTxid)}, the name says ${txidHex(step.minTxid)}-${txidHex(step.maxTxid)}`,
    );
  }
  return true;
}

/** The first LTX file, written in place by the worker: a snapshot, its range, and page 1 agreeing with it. */
function checkLtxSnapshot(written: WrittenSnapshot, step: LtxStep): LtxFacts {
  const name = step.object.key;
  const summary = written.details as LtxSummary;
  if (!isSnapshot(summary.header)) throw new CorruptBackupError(`${name}: an LTX restore must start with a snapshot (TXID 1)`);
  checkRange(summary.header, step);
  const { pageSize } = summary.header;
  if (written.head.length > 0) {
    const header = parseDbHeader(written.head);
    if (typeof header === 'string') throw new CorruptBackupError(`${name}: snapshot page 1 is ${header}`);
    if (header.pageSize !== pageSize) {
      throw new CorruptBackupError(`${name}: database page size ${header.pageSize} differs from the LTX page size ${pageSize}`);
    }
  }
  return { pageSize, pages: summary.header.commit, ltx: summary };
}

/**
 * Each later LTX file is one commit to `commit` pages. What must be compared
 * with the snapshot (still being written meanwhile) is checked once it is done.
 */
async function foldLtx(context: FoldContext): Promise<FoldOutcome<LtxFacts>> {
  const { steps, count, pages, signal } = context;
  const checks: Array<(snapshot: LtxFacts) => void> = [];
  let previous: LtxSummary | undefined;
  let last: LtxStep | undefined;
  let files = 1;
  for (let i = 0; i < count; i += 1) {
    const next = await steps.next();
    if (next.done) break;
    const step = next.value.step as LtxStep;
    const name = step.object.key;
    const decoder = new LtxDecoder({ name });
    const breather = new Breather(signal);
    const { buffer } = next.value;
    const chunks = buffer ? [buffer] : new ReleasingChunks(next.value.body);
    let inRange = false;
    // A large file (a compaction) moves in step with the snapshot; a small one's few pages are spilled rather than waited for.
    const inStep = step.object.size > IN_STEP_BYTES;
    for await (const chunk of chunks) {
      signal.throwIfAborted();
      decoder.push(chunk as Uint8Array);
      for (let page = decoder.read(); page; page = decoder.read()) {
        // The range before the first page goes in: a file of another range must not add anything.
        inRange ||= checkRange(decoder.header as LtxHeader, step);
        const admitted = inStep ? pages.admit(page.pgno, page.data.length) : undefined;
        if (admitted) await admitted;
        pages.write(page.pgno, page.data);
        await breather.breathe();
      }
    }
    const summary = decoder.end();
    // Downloads are freed now, not by a major collection.
    release(buffer);
    if (chunks instanceof ReleasingChunks) chunks.releaseRest();
    checkRange(summary.header, step);
    const { header } = summary;
    checks.push((snapshot) => {
      if (header.pageSize !== snapshot.pageSize) {
        throw new CorruptBackupError(`${name}: LTX page size ${header.pageSize} differs from the snapshot's ${snapshot.pageSize}`);
      }
    });
    if (previous) checkChain(previous, summary, name);
    else checks.push((snapshot) => checkChain(snapshot.ltx, summary, name));
    const resizes = (size: number) => {
      if (summary.pages === 0 && header.commit !== size) {
        throw new CorruptBackupError(`${name}: an LTX file without pages that resizes the database (${size} -> ${header.commit}) is not supported`);
      }
    };
    if (previous) resizes(previous.header.commit);
    else checks.push((snapshot) => resizes(snapshot.pages));
    pages.commit(header.commit);
    await pages.relieve();
    previous = summary;
    last = step;
    files += 1;
  }
  return {
    check: (snapshot) => {
      for (const one of checks) one(snapshot);
    },
    details: {
      ltxFiles: files,
      ...(last ? { txid: txidHex(last.maxTxid) } : {}),
    },
  };
}

/**
 * Where one file starts right after the previous one ends, its pre-apply
 * checksum (the database's rolling checksum before it) must be the previous
 * file's post-apply checksum: this catches a file from another lineage that
 * merely has the right TXIDs. Overlapping files and files written without
 * checksums cannot be compared.
 */
function checkChain(previous: LtxSummary, current: LtxSummary, name: string): void {
  const a = previous.header;
  const b = current.header;
  if (b.minTxid !== a.maxTxid + 1n || isSnapshot(b)) return;
  if (((a.flags | b.flags) & HEADER_FLAG_NO_CHECKSUM) !== 0) return;
  if (b.preApplyChecksum !== previous.trailer.postApplyChecksum) {
    throw new CorruptBackupError(
      `${name} does not continue the previous LTX file: its pre-apply checksum ${hex64(b.preApplyChecksum)} is not the database checksum ${hex64(previous.trailer.postApplyChecksum)} after TXID ${txidHex(a.maxTxid)}`,
    );
  }
}
