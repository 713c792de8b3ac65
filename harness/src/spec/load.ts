// Loading drivers-spec/: every *.xml is read with locations, checked against the shape, built into a
// DriverSpec, resolved (children inherit the root bus's vendor prefixes) and linted. Every problem of
// every file is collected; `loadSpecs` throws them all as one WinpvError (exit 2), `checkSpecs`
// returns them.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import type { Problem } from '../model/errors';
import type { DriverName, DriverSpec, SpecSet } from '../model/spec';
import { problemsError, readXmlFile, validate } from '../xml/index';
import { buildSpec } from './build';
import type { SpecDocument } from './document';
import { lintSpecs } from './lint';
import { driverSpecShape } from './shape';

export type { SpecDocument } from './document';

export interface SpecCheckResult {
  /** Specs of the files that passed the shape checks (all of them when `problems` is empty). */
  specs: SpecSet;
  documents: SpecDocument[];
  /** Every problem, in file and line order. */
  problems: Problem[];
}

/** The repository's drivers-spec/, found from this module (harness/src/spec or harness/dist/spec), not from the working directory. */
export function defaultSpecDir(): string {
  return resolve(__dirname, '..', '..', '..', 'drivers-spec');
}

/** How a file is named in messages: relative to `cwd` when below it, else absolute. */
export function displayPath(file: string, cwd: string = process.cwd()): string {
  const rel = relative(cwd, file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

/** Children take the vendor prefixes of the root bus driver they hang below. */
function resolveVendors(specs: Map<DriverName, DriverSpec>): void {
  for (const spec of specs.values()) {
    if (spec.identity.vendorPrefixes.length) continue;
    let cur: DriverSpec | undefined = spec;
    const seen = new Set<string>();
    while (cur?.parent && !seen.has(cur.name)) {
      seen.add(cur.name);
      cur = specs.get(cur.parent);
    }
    if (cur && cur !== spec) spec.identity.vendorPrefixes = cur.identity.vendorPrefixes.map((v) => ({ ...v }));
  }
}

/** Check the spec files `files` (absolute or relative paths); `cwd` only affects how files are named. */
export function checkSpecFiles(files: readonly string[], cwd: string = process.cwd()): SpecCheckResult {
  const problems: Problem[] = [];
  const documents: SpecDocument[] = [];
  const broken = new Set<string>();
  for (const path of files) {
    const file = displayPath(resolve(cwd, path), cwd);
    const { root, problems: readProblems } = readXmlFile(resolve(cwd, path), file);
    problems.push(...readProblems);
    if (!root) {
      // Unreadable: its driver is probably the one the file is named after; spare its children follow-on complaints.
      broken.add(basename(path).replace(/\.xml$/i, ''));
      continue;
    }
    const shapeProblems = validate(root, 'driver', driverSpecShape);
    problems.push(...shapeProblems);
    if (shapeProblems.length) {
      const name = root.attr('name');
      if (name) broken.add(name);
      continue;
    }
    const built = buildSpec(root);
    problems.push(...built.problems);
    const sha256 = createHash('sha256').update(readFileSync(resolve(cwd, path))).digest('hex');
    documents.push({ file, root, spec: built.spec, sha256 });
  }
  const specs = new Map<DriverName, DriverSpec>();
  for (const d of documents) if (!specs.has(d.spec.name)) specs.set(d.spec.name, d.spec);
  resolveVendors(specs);
  problems.push(...lintSpecs(documents, broken));
  return { specs, documents, problems: sortByFile(problems) };
}

/** Check every `*.xml` of `dir`. A missing or empty directory is a problem too. */
export function checkSpecs(dir: string = defaultSpecDir(), cwd: string = process.cwd()): SpecCheckResult {
  const abs = resolve(cwd, dir);
  let names: string[];
  try {
    if (!statSync(abs).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    names = readdirSync(abs).filter((n) => n.toLowerCase().endsWith('.xml')).sort();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { specs: new Map(), documents: [], problems: [{ location: { file: displayPath(abs, cwd) }, message: `cannot read the spec directory: ${err.code ?? err.message}`, rule: 'spec-dir' }] };
  }
  if (!names.length) {
    return { specs: new Map(), documents: [], problems: [{ location: { file: displayPath(abs, cwd) }, message: 'no driver specs (*.xml) in this directory', rule: 'spec-dir' }] };
  }
  return checkSpecFiles(names.map((n) => join(abs, n)), cwd);
}

/** Load and validate every spec of `dir`; throws one WinpvError (kind input, code SPEC_INVALID) listing every problem. */
export function loadSpecs(dir: string = defaultSpecDir(), cwd: string = process.cwd()): SpecSet {
  const r = checkSpecs(dir, cwd);
  if (r.problems.length) throw problemsError('SPEC_INVALID', 'driver specs', r.problems);
  return r.specs;
}

function sortByFile(problems: Problem[]): Problem[] {
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => a.p.location.file.localeCompare(b.p.location.file) || (a.p.location.line ?? 0) - (b.p.location.line ?? 0) || (a.p.location.column ?? 0) - (b.p.location.column ?? 0) || a.i - b.i)
    .map((x) => x.p);
}

/** sha256 of each driver's spec file, by driver name (what a trace records so `winpv check` can tell the specs changed). */
export function specDigests(result: Pick<SpecCheckResult, 'documents'>): Record<string, string> {
  return Object.fromEntries(result.documents.map((d) => [d.spec.name, d.sha256]));
}
