// The README and docs/ link to each other's sections: every relative link
// must name a file that exists and, with a #fragment, a heading in it (as
// GitHub makes anchors), so moving a section cannot leave a dead link.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../support/paths.js';

const DOCS = ['README.md', 'deploy/README.md', 'bench/README.md', 'test/e2e/README.md', ...readdirSync(path.join(repoRoot, 'docs')).map((f) => `docs/${f}`)];

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');
}

/** Headings outside fenced code blocks. */
function anchors(text: string): Set<string> {
  const found = new Set<string>();
  let code = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) code = !code;
    const m = /^#{1,6} (.*)$/.exec(line);
    if (m && !code) found.add(slug(m[1] as string));
  }
  return found;
}

/** Markdown links outside fenced code blocks. */
function links(text: string): string[] {
  const found: string[] = [];
  let code = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) code = !code;
    if (!code) for (const m of line.matchAll(/\]\(([^)\s]+)\)/g)) found.push(m[1] as string);
  }
  return found;
}

test('every relative link in the README and docs names an existing file and heading', () => {
  const dead: string[] = [];
  for (const doc of DOCS) {
    const text = readFileSync(path.join(repoRoot, doc), 'utf8');
    for (const link of links(text)) {
      if (/^[a-z]+:/.test(link)) continue;
      const [file, fragment] = link.split('#') as [string, string | undefined];
      const target = file === '' ? doc : path.normalize(path.join(path.dirname(doc), file));
      if (!existsSync(path.join(repoRoot, target))) {
        dead.push(`${doc}: ${link} (no ${target})`);
        continue;
      }
      if (fragment && target.endsWith('.md') && !anchors(readFileSync(path.join(repoRoot, target), 'utf8')).has(fragment)) {
        dead.push(`${doc}: ${link} (no heading #${fragment} in ${target})`);
      }
    }
  }
  assert.deepEqual(dead, []);
});

test('the README opens with the two commands, then what it is and a Kubernetes quickstart', () => {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const headings = [...readme.matchAll(/^## (.*)$/gm)].map((m) => m[1]);
  assert.deepEqual(headings.slice(0, 3), ['What it is', 'Quickstart on Kubernetes', 'Use as an init container']);
  assert.ok(headings.indexOf('Configuration') < headings.indexOf('Exit codes') && headings.indexOf('Exit codes') < headings.indexOf('Troubleshooting'));
});
