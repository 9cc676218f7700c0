// A synchronous positional write of every byte (writeSync may write fewer).
import { writeSync } from 'node:fs';

export function writeAllSync(fd: number, data: Uint8Array, position: number): void {
  for (let done = 0; done < data.length; ) done += writeSync(fd, data, done, data.length - done, position + done);
}
