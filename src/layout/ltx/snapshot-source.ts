// Snapshot source for Litestream v0.5: an LTX file whose range starts at TXID
// 1 holds the whole database, page by page; each page is written in place
// (the lock page stays a hole of zeros). Runs in the snapshot worker.
import type { SnapshotSource, SnapshotSourceSpec } from '../../apply/snapshot-source.js';
import { LtxDecoder } from './decoder.js';

export function ltxSnapshotSource(): SnapshotSourceSpec {
  return { module: new URL('./snapshot-source.js', import.meta.url).href, params: {} };
}

export async function createSnapshotSource(_params: unknown, name: string): Promise<SnapshotSource> {
  const decoder = new LtxDecoder({ name });
  return {
    push: (chunk) => decoder.push(chunk),
    read() {
      const page = decoder.read();
      return page ? { position: (page.pgno - 1) * page.data.length, data: page.data } : undefined;
    },
    end() {
      const summary = decoder.end();
      return { size: summary.header.commit * summary.header.pageSize, details: summary };
    },
  };
}
