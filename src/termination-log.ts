// The one-line outcome Kubernetes shows in the pod status. Best effort: it
// never blocks (a FIFO without a reader must not hang a finished restore),
// never follows a symbolic link onto another file, writes only a regular file
// with no other name (or creates one), and never changes the exit code.
import fs from 'node:fs';

/** Kubernetes keeps at most this many bytes of the message. */
export const TERMINATION_MESSAGE_MAX_BYTES = 4096;

/** The message as written: one line, cut at the limit on a UTF-8 character boundary. */
export function terminationText(message: string): Buffer {
  const bytes = Buffer.from(message.replace(/\s+/g, ' ').trim());
  if (bytes.length <= TERMINATION_MESSAGE_MAX_BYTES) return bytes;
  let end = TERMINATION_MESSAGE_MAX_BYTES;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end);
}

/** Writes the message; returns undefined when written, else why not (an errno code or a reason). */
export function writeTerminationMessage(file: string, message: string): string | undefined {
  let fd: number | undefined;
  try {
    // Seen before opening, so a device or socket is never even opened.
    const before = fs.lstatSync(file, { throwIfNoEntry: false });
    if (before?.isSymbolicLink()) return 'a symbolic link (not followed)';
    if (before && !before.isFile()) return 'not a regular file';
    // O_NOFOLLOW and O_NONBLOCK close the race with a swap after lstat: a link is
    // ELOOP, a FIFO without a reader ENXIO, both at once.
    const { O_WRONLY, O_CREAT, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
    fd = fs.openSync(file, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o644);
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) return 'not a regular file';
    // Another name for some other file (a hard link to the database, say): leave it.
    if (stat.nlink > 1) return 'a file with other hard links';
    const text = terminationText(message);
    fs.ftruncateSync(fd, 0);
    for (let offset = 0; offset < text.length; ) offset += fs.writeSync(fd, text, offset, text.length - offset, offset);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ELOOP' ? 'a symbolic link (not followed)' : (code ?? String(err));
  } finally {
    try {
      if (fd !== undefined) fs.closeSync(fd);
    } catch {
      // Nothing more to do: the message is best effort.
    }
  }
}
