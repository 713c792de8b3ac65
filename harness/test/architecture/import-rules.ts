// The import rules of harness/src, read from the table in ARCHITECTURE.md so that the document and
// the enforcement cannot drift apart.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve, sep } from 'node:path';

export interface LayerRule {
  folder: string;
  mayImport: Set<string>;
  /** Node built-ins and npm packages (I/O) allowed. */
  io: boolean;
}

export interface Violation {
  file: string;
  line: number;
  spec: string;
  reason: string;
}

/** Parses the `| folder | may import | I/O |` table under "## Import rules" in ARCHITECTURE.md. */
export function readRules(architectureMd: string): Map<string, LayerRule> {
  const section = architectureMd.split(/^## Import rules/m)[1];
  if (!section) throw new Error('ARCHITECTURE.md has no "## Import rules" section');
  const rules = new Map<string, LayerRule>();
  for (const line of section.split('\n')) {
    const m = /^\|\s*`([a-z-]+)\/`\s*\|([^|]*)\|\s*(yes|no)\s*\|/.exec(line);
    if (!m) continue;
    const mayImport = new Set(
      [...m[2].matchAll(/`([a-z-]+)\/`/g)].map((x) => x[1]),
    );
    mayImport.add(m[1]);
    rules.set(m[1], { folder: m[1], mayImport, io: m[3] === 'yes' });
  }
  return rules;
}

const IMPORT_RE = /(?:^|\s)(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|\s)import\s*['"]([^'"]+)['"]|\brequire\(\s*['"]([^'"]+)['"]\s*\)|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Checks one source file's imports; `file` is relative to the src root (`model/trace.ts`). */
export function checkFile(file: string, text: string, rules: Map<string, LayerRule>): Violation[] {
  const layer = file.split('/')[0];
  const rule = rules.get(layer);
  const out: Violation[] = [];
  if (!rule) {
    out.push({ file, line: 1, spec: '', reason: `folder '${layer}/' is not in the import rules of ARCHITECTURE.md` });
    return out;
  }
  const lines = text.split('\n');
  lines.forEach((src, i) => {
    if (/^\s*(\/\/|\*)/.test(src)) return;
    for (const m of src.matchAll(IMPORT_RE)) {
      const spec = m[1] ?? m[2] ?? m[3] ?? m[4];
      if (spec.startsWith('.')) {
        const target = resolve('/', dirname(file), spec).slice(1);
        const targetLayer = target.split('/')[0];
        // `../inf` (a folder's index) is inside; `../../package.json` is outside.
        if (target.startsWith('..') || targetLayer === '' || (!target.includes('/') && !rules.has(target))) {
          // outside harness/src (package.json is allowed for the version only from cli)
          if (!(layer === 'cli' && spec.endsWith('package.json'))) {
            out.push({ file, line: i + 1, spec, reason: 'imports from outside harness/src' });
          }
          continue;
        }
        if (!rule.mayImport.has(targetLayer)) {
          out.push({ file, line: i + 1, spec, reason: `'${layer}/' may not import '${targetLayer}/'` });
        }
      } else if (!rule.io) {
        out.push({ file, line: i + 1, spec, reason: `'${layer}/' is pure: no Node built-ins or packages ('${spec}')` });
      }
    }
  });
  return out;
}

export function listSources(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith('.ts')) out.push(relative(root, p).split(sep).join('/'));
    }
  };
  walk(root);
  return out.sort();
}

export function checkTree(srcRoot: string, rules: Map<string, LayerRule>): Violation[] {
  return listSources(srcRoot).flatMap((f) => checkFile(f, readFileSync(join(srcRoot, f), 'utf8'), rules));
}
