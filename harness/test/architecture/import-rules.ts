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

/** Relative imports of one file resolved to files of `files` (`x` as `x.ts` or `x/index.ts`),
 *  type-only ones included: a cycle through types still ties the files' designs together. */
export function importsOf(file: string, text: string, files: ReadonlySet<string>): string[] {
  const out = new Set<string>();
  for (const src of text.split('\n')) {
    if (/^\s*(\/\/|\*)/.test(src)) continue;
    for (const m of src.matchAll(IMPORT_RE)) {
      const spec = m[1] ?? m[2] ?? m[3] ?? m[4];
      if (!spec.startsWith('.')) continue;
      const target = resolve('/', dirname(file), spec).slice(1);
      const hit = [`${target}.ts`, `${target}/index.ts`, target].find((c) => files.has(c));
      if (hit) out.add(hit);
    }
  }
  return [...out].sort();
}

/** The file import graph of a source tree: file -> the files it imports. */
export function importGraph(srcRoot: string): Map<string, string[]> {
  const files = listSources(srcRoot);
  const set = new Set(files);
  return new Map(files.map((f) => [f, importsOf(f, readFileSync(join(srcRoot, f), 'utf8'), set)]));
}

/**
 * Every import cycle between files, one per strongly connected group (Tarjan), each named as a path
 * that starts and ends at its alphabetically first file: `a.ts -> b.ts -> a.ts`. A group of more
 * than two files may hold several cycles; the path shown is the shortest from the first file back.
 */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      group.push(w);
    } while (w !== v);
    if (group.length > 1 || (graph.get(v) ?? []).includes(v)) groups.push(group.sort());
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return groups.map((g) => shortestCycle(g[0], new Set(g), graph)).sort((a, b) => a[0].localeCompare(b[0]));
}

/** Breadth-first from `start` inside its group back to `start`. */
function shortestCycle(start: string, group: ReadonlySet<string>, graph: ReadonlyMap<string, readonly string[]>): string[] {
  const from = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!group.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let x = v; x !== start; x = from.get(x)!) path.splice(1, 0, x);
        return [...path, start];
      }
      if (!from.has(w)) {
        from.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

export function checkTree(srcRoot: string, rules: Map<string, LayerRule>): Violation[] {
  return listSources(srcRoot).flatMap((f) => checkFile(f, readFileSync(join(srcRoot, f), 'utf8'), rules));
}
