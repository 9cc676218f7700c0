// Where a thread of this process is reading: the file offset of the pread64
// it is blocked in, from /proc/self/task/<tid>/syscall (readable by any thread
// of the same process). Pure: the caller reads the line.

/** pread64's number on the architectures the image is built for. */
const PREAD64: Partial<Record<string, number>> = { x64: 17, arm64: 67 };

/** pread64's syscall number here, or undefined on an architecture we do not know. */
export function pread64Number(arch: string = process.arch): number | undefined {
  return PREAD64[arch];
}

/**
 * The offset when the line shows a pread64 on one of `fds`; undefined when the
 * thread is running, in another call, or on another file. The line is
 * "<nr> <arg1> ... <arg6> <sp> <pc>" with the arguments in hex: pread64's are
 * fd, buffer, count, offset.
 */
export function preadOffset(line: string, syscallNumber: number, fds: ReadonlySet<number>): number | undefined {
  const fields = line.trim().split(' ');
  if (fields.length < 5 || Number(fields[0]) !== syscallNumber) return undefined;
  const fd = Number(fields[1]);
  const offset = Number(fields[4]);
  if (!fds.has(fd) || !Number.isSafeInteger(offset) || offset < 0) return undefined;
  return offset;
}
