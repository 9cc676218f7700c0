// How a Litestream v0.3 plan becomes a database: the snapshot is an LZ4
// database image; the WAL segments after it are strict (Litestream ships only
// committed frames), contiguous within each WAL index.
import type { Applier } from '../../apply/applier.js';
import { imageFacts, imageSource } from '../../apply/image-source.js';
import { foldWal } from '../../sqlite/wal-fold.js';
import { walKey } from './keys.js';

export function v3Applier(generation: string): Applier {
  return {
    snapshotSource: () => imageSource('lz4'),
    inspectSnapshot: (written, first) => imageFacts(written, first.object.key),
    fold: (context) => foldWal(context, { mode: 'strict', walKey: (index, offset) => walKey(generation, index, offset) }),
  };
}
