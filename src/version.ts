// The tool's own name and version, read from package.json at run time.
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
};

export const TOOL = Object.freeze({ name: pkg.name, version: pkg.version });
