// The marker file: a JSON record of what the last successful run did, for the
// app, for humans and for monitoring. Written only after the database is in place.
import type { Config } from './config.js';
import { writeFileAtomic } from './publish.js';
import { TOOL } from './version.js';

export type Outcome = 'restored' | 'skipped' | 'first-boot';

export interface Marker {
  readonly outcome: Outcome;
  readonly database: string;
  readonly replica: string;
  readonly source?: Readonly<Record<string, unknown>>;
  /** A point-in-time restore: the target asked for and what was reached. */
  readonly target?: Readonly<Record<string, string | number>>;
  readonly bytes?: { readonly downloaded: number; readonly database: number };
  readonly sha256?: string;
  readonly verify: Config['verify'];
  readonly durationsMs: Readonly<Record<string, number>>;
  readonly warnings?: readonly string[];
  readonly tool: typeof TOOL;
  readonly time: string;
}

export async function writeMarker(path: string, marker: Omit<Marker, 'tool' | 'time'>): Promise<Marker> {
  const full: Marker = { ...marker, tool: TOOL, time: new Date().toISOString() };
  await writeFileAtomic(path, `${JSON.stringify(full, null, 2)}\n`);
  return full;
}
