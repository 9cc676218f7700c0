// How a zlayer-storage plan becomes a database: the snapshot is a zstd image
// of the main file; a WAL copy on top of it is a whole -wal file copied at
// some moment, read leniently (its committed frames up to the first invalid
// one) and accepted only if the database header's change counter says it
// continues the snapshot (linkage.ts). zstd frames may carry windows up to
// 128 MiB, so the WAL copy is decoded only once the snapshot is written:
// never two such windows at once.
import type { Applier } from '../../apply/applier.js';
import type { SnapshotFacts } from '../../apply/folded-pages.js';
import { imageFacts, imageSource } from '../../apply/image-source.js';
import { foldWal } from '../../sqlite/wal-fold.js';
import { changeCounterOf, checkChangeCounter, Page1Tracker } from './linkage.js';

interface ZlayerFacts extends SnapshotFacts {
  readonly changeCounter: number;
}

export const zlayerApplier: Applier<ZlayerFacts> = {
  snapshotSource: () => imageSource('zstd'),
  inspectSnapshot: (written, first) => ({ ...imageFacts(written, first.object.key), changeCounter: changeCounterOf(written.head) }),
  fold: (context) =>
    foldWal(context, {
      mode: 'lenient',
      walKey: () => '(zlayer WAL copies are whole -wal files)',
      watch: (step) => {
        const tracker = new Page1Tracker();
        return {
          frame: (frame) => tracker.frame(frame.pgno, frame.page, frame.commitSize),
          done: () => {
            const { versions } = tracker;
            return (snapshot) => checkChangeCounter((snapshot as ZlayerFacts).changeCounter, versions, step.object.key);
          },
        };
      },
    }),
  foldAfterSnapshot: true,
};
