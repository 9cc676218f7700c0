// Files that must not outlive the process: temporary files of a run in
// progress. Normally each is removed by the code that made it; when the
// process has to exit before that code gets to run (the deadline after a
// SIGTERM or a timeout), the CLI removes whatever is still registered here,
// synchronously, just before it exits.
import fs from 'node:fs';

const tracked = new Set<string>();

/** Registers `file` for removal at a forced exit; call the returned function once it is gone or kept. */
export function trackTemp(file: string): () => void {
  tracked.add(file);
  return () => void tracked.delete(file);
}

/** Removes every registered file (and SQLite's side files of it); returns the names removed. */
export function removeTrackedSync(): string[] {
  const removed: string[] = [];
  for (const file of tracked) {
    for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) {
      try {
        fs.rmSync(f, { force: true });
        if (f === file) removed.push(f);
      } catch {
        // Best effort: the next run removes leftovers once it holds the lock.
      }
    }
  }
  tracked.clear();
  return removed;
}
