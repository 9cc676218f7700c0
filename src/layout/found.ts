// What a layout's listing found besides its objects, and the rules every
// layout applies to it, so that a replica can never look older or emptier
// than it is:
// - An irregular entry (a symbolic link, FIFO, socket or device in a file
//   replica) where an object or directory of the layout belongs may hide
//   backup data: the restore refuses the replica (exit 65, naming it).
//   Elsewhere under the layout's prefixes it is a warning.
// - A replica holding something under a layout's prefixes but nothing that
//   layout can restore from is never "no backup" (exit 66, or a first boot
//   with SQLITE_RESTORE_IF_NO_BACKUP=allow): exit 65, saying what was found.
import { CorruptBackupError } from '../errors.js';
import { isIrregular, type IrregularEntry, type ListEntry, type ObjectInfo } from '../store/store.js';

/** Entries named in one message, at most. */
const SHOWN = 3;

export interface Found {
  /** Regular objects, in listing order. */
  readonly objects: ObjectInfo[];
  /** Irregular entries where the layout's objects or directories belong. */
  readonly inPlace: IrregularEntry[];
  /** Irregular entries elsewhere under the layout's prefixes. */
  readonly elsewhere: IrregularEntry[];
}

/** Splits a listing into objects and irregular entries; `isPosition` tells where the layout's objects and directories belong. */
export function sortFound(entries: Iterable<ListEntry>, isPosition: (key: string) => boolean): Found {
  const found: Found = { objects: [], inPlace: [], elsewhere: [] };
  for (const entry of entries) {
    if (!isIrregular(entry)) found.objects.push(entry);
    else (isPosition(entry.key) ? found.inPlace : found.elsewhere).push(entry);
  }
  return found;
}

const describe = (e: IrregularEntry) => `${e.key} (a ${e.irregular})`;

function sample(items: readonly string[]): string {
  return items.length > SHOWN ? `${items.slice(0, SHOWN).join(', ')} and ${items.length - SHOWN} more` : items.join(', ');
}

/** Throws when an irregular entry stands where the layout's objects belong. */
export function refuseIrregular(found: Found, layout: string): void {
  if (found.inPlace.length === 0) return;
  throw new CorruptBackupError(
    `the replica has ${found.inPlace.length === 1 ? 'an entry' : `${found.inPlace.length} entries`} where ${layout} objects belong that ` +
      `${found.inPlace.length === 1 ? 'is not a regular file or directory' : 'are not regular files or directories'}: ${sample(found.inPlace.map(describe))}; ` +
      'links are never followed and FIFOs, sockets and devices never read, so the backup may be incomplete or older than it looks: replace them with the real files, or remove them',
  );
}

/** One warning per irregular entry outside the layout's places, for the plan's warnings and the listing's notes. */
export function irregularWarnings(found: Found): string[] {
  return found.elsewhere.map((e) => `${describe(e)} is not a regular file or directory and was ignored`);
}

/** The notes `list` shows for irregular entries in the layout's places (a restore refuses the replica). */
export function irregularNotes(found: Found, layout: string): string[] {
  const inPlace = found.inPlace.map((e) => `${describe(e)} stands where ${layout} objects belong: a restore refuses this replica`);
  return [...inPlace, ...irregularWarnings(found)];
}

/** Irregular entries for `list --json`. */
export function irregularDetails(found: Found): Array<{ key: string; type: string; refused: boolean }> {
  return [
    ...found.inPlace.map((e) => ({ key: e.key, type: e.irregular, refused: true })),
    ...found.elsewhere.map((e) => ({ key: e.key, type: e.irregular, refused: false })),
  ];
}

/**
 * The error for a replica that holds something under the layout's prefixes
 * but nothing the layout can restore: `ignored` are keys that do not follow
 * its naming.
 */
export function nothingUsable(layout: string, prefixes: string, ignored: readonly string[], found: Found): CorruptBackupError {
  const what = [...ignored.map((k) => `${k} (not named like a ${layout} object)`), ...found.elsewhere.map(describe)];
  return new CorruptBackupError(
    `the replica holds ${what.length === 1 ? 'an entry' : `${what.length} entries`} under ${prefixes} but no ${layout} backup: ${sample(what)}; ` +
      'refusing to treat it as holding no backup (which would be a first boot with SQLITE_RESTORE_IF_NO_BACKUP=allow): remove what does not belong there, or point SQLITE_RESTORE_REPLICA_URL at the right place',
  );
}
