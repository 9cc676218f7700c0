// What stands around a replica root that holds no backup, in a few words for
// the "no backup" message: a mistyped or one-level-off prefix then shows in
// the pod's termination message instead of looking like a new app.
import { NEARBY_PAGE, type Store } from './store.js';

/** Names shown per place, at most; the rest are counted. */
const SHOWN = 8;
/** Each name cut to this many characters: the message must stay one short line. */
const NAME_CHARS = 64;
/** The listing is a courtesy to the operator, never a reason to wait. */
const TIMEOUT_MS = 5_000;

function sample(names: readonly string[], complete: boolean): string {
  const shown = names.slice(0, SHOWN).map((n) => (n.length > NAME_CHARS ? `${n.slice(0, NAME_CHARS)}…` : n));
  const rest = names.length - shown.length;
  return rest > 0 || !complete ? `${shown.join(', ')} and ${rest > 0 ? `${rest}${complete ? '' : '+'} more` : 'more'}` : shown.join(', ');
}

/**
 * "; it holds a/, b/, but no backup layout (one level off?)", then "; beside
 * it in s3://b/apps/: x/, y/" or "; nothing else in s3://b/apps/" (or "; the
 * bucket is empty"); '' when the store cannot tell (no support, an error, the
 * timeout): the caller's message stands on its own.
 */
export async function describeNearby(store: Store, signal: AbortSignal): Promise<string> {
  if (!store.nearby) return '';
  let found;
  try {
    found = await store.nearby(AbortSignal.any([signal, AbortSignal.timeout(TIMEOUT_MS)]));
  } catch {
    signal.throwIfAborted();
    return '';
  }
  const parts: string[] = [];
  if (found.inside.length > 0) parts.push(`it holds ${sample(found.inside, found.inside.length < NEARBY_PAGE)}, but no backup layout (one level off?)`);
  if (found.beside.length > 0) parts.push(`beside it in ${found.parent}: ${sample(found.beside, found.beside.length < NEARBY_PAGE - 1)}`);
  else if (found.parent !== undefined) parts.push(`nothing else in ${found.parent}`);
  else if (found.inside.length === 0) parts.push('the bucket is empty');
  return parts.map((p) => `; ${p}`).join('');
}
