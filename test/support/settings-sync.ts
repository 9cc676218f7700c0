// Writes (or, by default, checks) everything derived from src/settings.ts:
// the README's configuration table, the charts' schema entries and values
// lines of the settings, the library's defaults and env list, and the verify
// Job's list of restore-only variables. test/unit/settings-sync.test.ts fails
// on any drift; `npm run settings` rewrites them.
//   node dist/test/support/settings-sync.js [--write]
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { schemaDescription, SETTINGS, type Setting } from '../../src/settings.js';
import { repoRoot } from './paths.js';

const charts = path.join(repoRoot, 'deploy', 'helm');
const FILES = {
  readme: path.join(repoRoot, 'README.md'),
  libSchema: path.join(charts, 'sqlite-s3-restore', 'values.schema.json'),
  exampleSchema: path.join(charts, 'example-app', 'values.schema.json'),
  libValues: path.join(charts, 'sqlite-s3-restore', 'values.yaml'),
  restoreTpl: path.join(charts, 'sqlite-s3-restore', 'templates', '_restore.tpl'),
  verifyTpl: path.join(charts, 'sqlite-s3-restore', 'templates', '_verify.tpl'),
} as const;

/** Variables the verify Job sets itself (its timeout, scratch directory and maximum age), whatever the restore values say. */
const VERIFY_JOB_OWN = ['SQLITE_RESTORE_TIMEOUT_SECONDS', 'SQLITE_RESTORE_VERIFY_DIR', 'SQLITE_RESTORE_MAX_AGE'];

const charted = SETTINGS.filter((s): s is Setting & { key: string } => s.key !== undefined);

function between(text: string, begin: string, end: string, body: string, file: string): string {
  const a = text.indexOf(begin);
  const b = text.indexOf(end, a + begin.length);
  if (a < 0 || b < 0) throw new Error(`${file}: markers ${begin} ... ${end} not found`);
  return text.slice(0, a + begin.length) + body + text.slice(b);
}

const cell = (markdown: string): string => markdown.replaceAll('|', '\\|');

export function readmeTable(): string {
  const rows = SETTINGS.map((s) => `| \`${s.name}\` | ${cell(s.defaultDoc ?? `\`${s.default}\``)} | ${cell(s.example)} | ${cell(s.doc)} |`);
  return ['', '| Variable | Default | Example | Meaning |', '|---|---|---|---|', ...rows, ''].join('\n');
}

/** The schema of a setting's chart value; `required` drops the empty alternative (the example chart's replicaUrl). */
function fragment(s: Setting, required: boolean): Record<string, unknown> {
  const schema: Record<string, unknown> = { description: schemaDescription(s), ...s.schema, default: s.chartDefault };
  if (required && typeof schema.pattern === 'string') schema.pattern = schema.pattern.replace(/\)\?\$$/, ')$');
  if (required) delete schema.default;
  return schema;
}

function setAt(properties: Record<string, unknown>, key: string, value: unknown, file: string): void {
  const parts = key.split('.');
  let at = properties;
  for (const part of parts.slice(0, -1)) {
    const next = (at[part] as { properties?: Record<string, unknown> } | undefined)?.properties;
    if (!next) throw new Error(`${file}: no object schema for "${part}" on the way to ${key}`);
    at = next;
  }
  at[parts.at(-1) as string] = value;
}

function schemaText(text: string, file: string, root: (doc: Record<string, any>) => Record<string, unknown>, requiredUrl: boolean): string {
  const doc = JSON.parse(text) as Record<string, any>;
  const properties = root(doc);
  for (const s of charted) setAt(properties, s.key, fragment(s, requiredUrl && s.key === 'replicaUrl'), file);
  return `${JSON.stringify(doc, null, 2)}\n`;
}

function yamlScalar(value: unknown): string {
  if (value === null) return 'null';
  // Plain only when YAML cannot read it as anything but this string (not "0644", "true", "").
  if (typeof value === 'string') return /^[A-Za-z/][A-Za-z0-9_./-]*$/.test(value) && !/^(true|false|null|yes|no|on|off|y|n)$/i.test(value) ? value : JSON.stringify(value);
  return String(value);
}

/** Wraps a comment to about 80 columns. */
function comment(indent: string, text: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && indent.length + 2 + line.length + 1 + word.length > 80) {
      lines.push(`${indent}# ${line}`);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(`${indent}# ${line}`);
  return lines;
}

/**
 * Sets each setting's value line in a YAML mapping (values.yaml, or the
 * defaults in _restore.tpl) to its chart default; with `comments`, the
 * comment lines right above it become the setting's description.
 */
function yamlValues(text: string, file: string, comments: boolean, from = 0, to = text.length): string {
  const head = text.slice(0, from);
  const lines = text.slice(from, to).split('\n');
  const stack: Array<{ indent: number; key: string }> = [];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const line of lines) {
    const m = /^(\s*)([A-Za-z][A-Za-z0-9]*):(.*)$/.exec(line);
    if (!m) {
      out.push(line);
      continue;
    }
    const indent = (m[1] as string).length;
    while (stack.length && (stack.at(-1) as { indent: number }).indent >= indent) stack.pop();
    const keyPath = [...stack.map((e) => e.key), m[2] as string].join('.');
    stack.push({ indent, key: m[2] as string });
    const s = charted.find((c) => c.key === keyPath);
    if (!s) {
      out.push(line);
      continue;
    }
    seen.add(s.key);
    if (comments) {
      while (out.length && /^\s*#/.test(out.at(-1) as string)) out.pop();
      out.push(...comment(m[1] as string, schemaDescription(s)));
    }
    out.push(`${m[1]}${m[2]}: ${yamlScalar(s.chartDefault)}`);
  }
  const missing = charted.filter((s) => !seen.has(s.key)).map((s) => s.key);
  if (missing.length) throw new Error(`${file}: no line for ${missing.join(', ')} (add each where it belongs, with any value)`);
  return head + out.join('\n') + text.slice(to);
}

function restoreTpl(text: string, file: string): string {
  const begin = '{{- define "sqlite-s3-restore.defaults" -}}\n';
  const from = text.indexOf(begin) + begin.length;
  const to = text.indexOf('{{- end -}}', from);
  if (from < begin.length || to < 0) throw new Error(`${file}: the defaults block was not found`);
  const withDefaults = yamlValues(text, file, false, from, to);
  const list = charted.map((s) => `  (list "${s.name}" $v.${s.key})`).join('\n');
  return between(withDefaults, '{{- $settings := list\n', '\n-}}', list, file);
}

function verifyTpl(text: string, file: string): string {
  const restoreOnly = [...charted.filter((s) => !s.commands.includes('verify')).map((s) => s.name), ...VERIFY_JOB_OWN];
  const line = `{{- $restoreOnly := list ${restoreOnly.map((n) => `"${n}"`).join(' ')} -}}`;
  if (!/\{\{- \$restoreOnly := list [^\n]* -\}\}/.test(text)) throw new Error(`${file}: the $restoreOnly line was not found`);
  return text.replace(/\{\{- \$restoreOnly := list [^\n]* -\}\}/, line);
}

const TRANSFORMS: ReadonlyArray<[string, (text: string, file: string) => string]> = [
  [FILES.readme, (t, f) => between(t, '<!-- settings:begin (generated from src/settings.ts: npm run settings) -->', '<!-- settings:end -->', readmeTable(), f)],
  [FILES.libSchema, (t, f) => schemaText(t, f, (d) => d.properties, false)],
  [FILES.exampleSchema, (t, f) => schemaText(t, f, (d) => d.properties.restore.properties, true)],
  [FILES.libValues, (t, f) => yamlValues(t, f, true)],
  [FILES.restoreTpl, restoreTpl],
  [FILES.verifyTpl, verifyTpl],
];

/** The files that differ from what src/settings.ts makes of them; with `write`, rewritten. */
export async function syncSettings(write: boolean): Promise<string[]> {
  const drifted: string[] = [];
  for (const [file, transform] of TRANSFORMS) {
    const text = await readFile(file, 'utf8');
    const wanted = transform(text, path.relative(repoRoot, file));
    if (wanted === text) continue;
    drifted.push(path.relative(repoRoot, file));
    if (write) await writeFile(file, wanted);
  }
  return drifted;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const write = process.argv.includes('--write');
  const drifted = await syncSettings(write);
  console.log(drifted.length === 0 ? 'settings: everything matches src/settings.ts' : `settings: ${write ? 'rewrote' : 'differ'}: ${drifted.join(', ')}`);
  process.exitCode = !write && drifted.length > 0 ? 1 : 0;
}
