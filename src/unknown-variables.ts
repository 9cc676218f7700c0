// A misspelt variable (SQLITE_RESTORE_VERYFY) is otherwise ignored without a
// word and its default applies. These are found here, each with the closest
// variable the tool reads, for a warning; they never fail the run.
// A dozen lines of edit distance rather than a dependency: the image stays
// small and nothing new enters the supply chain for it.

/** Edit distance with adjacent transpositions counted as one edit (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[rows - 1]![cols - 1]!;
}

/**
 * The known name nearest to `name`. A name cut short (SQLITE_RESTORE_TIMEOUT)
 * is nearer by edit distance to a different short one (..._LAYOUT) than to
 * the one it is part of: names containing its distinctive part are preferred.
 */
function closestName(name: string, known: readonly string[]): { closest: string; distance: number } {
  const part = name.startsWith(PREFIX) ? name.slice(PREFIX.length) : '';
  const containing = part.length >= 3 ? known.filter((k) => k.includes(part)) : [];
  let closest = known[0] ?? '';
  let distance = Number.POSITIVE_INFINITY;
  for (const candidate of containing.length > 0 ? containing : known) {
    const d = editDistance(name, candidate);
    if (d < distance) [closest, distance] = [candidate, d];
  }
  return { closest, distance };
}

export interface UnknownVariable {
  readonly name: string;
  readonly closest: string;
}

const PREFIX = 'SQLITE_RESTORE_';
/** A name this close to a known one is taken for a typo of it even without the exact prefix. */
const TYPO_DISTANCE = 2;
/** Longer names are compared by their start only: a name can be as long as the environment allows. */
const COMPARED_CHARS = 64;

/**
 * Variables set in `environment` that look meant for this tool (the
 * SQLITE_RESTORE_ prefix in any case, or within two edits of a known name)
 * but are not in `known`.
 */
export function unknownVariables(environment: NodeJS.ProcessEnv, known: readonly string[]): UnknownVariable[] {
  const knownSet = new Set(known);
  const shortest = Math.min(...known.map((k) => k.length));
  const longest = Math.max(...known.map((k) => k.length));
  const unknown: UnknownVariable[] = [];
  for (const name of Object.keys(environment).sort()) {
    if (environment[name] === undefined || knownSet.has(name)) continue;
    const upper = name.slice(0, COMPARED_CHARS).toUpperCase();
    const prefixed = upper.startsWith(PREFIX);
    // Most of an environment (PATH, HOSTNAME, service links) is nowhere near: skip it cheaply.
    if (!prefixed && (upper.length < shortest - TYPO_DISTANCE || upper.length > longest + TYPO_DISTANCE)) continue;
    if (!prefixed && editDistance(upper.slice(0, 6), 'SQLITE') > TYPO_DISTANCE) continue;
    const { closest, distance } = closestName(upper, known);
    if (prefixed || distance <= TYPO_DISTANCE) unknown.push({ name, closest });
  }
  return unknown;
}
