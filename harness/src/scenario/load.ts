// Loading scenario files: parse with locations, validate every matrix combination against the
// shape (so a value that is bad only for ring-page-order=5 is reported with that combination),
// build the model, and report every problem of every file at once (exit 2).
import { readdirSync, statSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import type { Problem } from '../model/errors';
import type { MatrixAxis, Scenario } from '../model/scenario';
import { combinations, substitute } from '../model/matrix';
import { XmlElement, problemsError, readXmlFile, splitList, validate } from '../xml';
import { scenarioShape } from './shape';
import { buildScenario } from './build';

const MAX_INSTANCES = 256;

function axesOf(root: XmlElement, problems: Problem[]): MatrixAxis[] {
  const axes: MatrixAxis[] = [];
  for (const a of root.child('matrix')?.childrenNamed('axis') ?? []) {
    const name = a.attr('name') ?? '';
    const values = splitList(a.attr('values') ?? '');
    if (axes.some((x) => x.name === name)) problems.push({ location: a.attrLoc('name'), message: `matrix axis '${name}' is defined twice`, rule: 'matrix' });
    if (new Set(values).size !== values.length) problems.push({ location: a.attrLoc('values'), message: `matrix axis '${name}' repeats a value`, rule: 'matrix' });
    if (name && values.length) axes.push({ name, values });
  }
  return axes;
}

/** A copy of the tree with ${var} replaced in attribute values (for validating one combination). */
function substituted(el: XmlElement, vars: Record<string, string>, parent?: XmlElement): XmlElement {
  const out = new XmlElement(el.name, el.loc, parent);
  for (const [k, v] of Object.entries(el.attrs)) {
    out.attrs[k] = substitute(v, vars);
    if (el.attrLocs[k]) out.attrLocs[k] = el.attrLocs[k];
  }
  out.text = el.text;
  for (const c of el.children) out.children.push(substituted(c, vars, out));
  return out;
}

export interface LoadedScenario {
  scenario?: Scenario;
  problems: Problem[];
}

/** Loads one file; `display` is the name used in locations and reports (relative, never absolute). */
export function loadScenarioFile(path: string, display = path): LoadedScenario {
  const { root, problems } = readXmlFile(path);
  const fix = (ps: Problem[]) => ps.map((p) => ({ ...p, location: { ...p.location, file: display } }));
  if (!root) return { problems: fix(problems) };
  const all: Problem[] = [...problems];
  const axes = axesOf(root, all);
  const list = combinations(axes);
  if (list.length > MAX_INSTANCES) {
    all.push({ location: root.child('matrix')!.at(), message: `the matrix expands to ${list.length} instances (at most ${MAX_INSTANCES})`, rule: 'matrix' });
    return { problems: fix(all) };
  }
  // Shape problems per combination; one that appears only for some combinations names them.
  const seen = new Map<string, { p: Problem; combos: string[] }>();
  for (const c of list) {
    for (const p of validate(substituted(root, c), 'scenario', scenarioShape)) {
      const k = `${p.location.line}:${p.location.column}:${p.location.path}:${p.message}`;
      const label = Object.entries(c).map(([a, v]) => `${a}=${v}`).join(',');
      const e = seen.get(k);
      if (e) e.combos.push(label);
      else seen.set(k, { p, combos: [label] });
    }
  }
  for (const { p, combos: cs } of seen.values()) {
    all.push(cs.length < list.length ? { ...p, message: `${p.message} (matrix ${cs.join('; ')})` } : p);
  }
  // The semantic problems (references, variables, parameters) are reported with the shape ones, so a
  // user fixes a file in one pass; a file with shape problems never yields a scenario.
  let built: ReturnType<typeof buildScenario> | undefined;
  try {
    built = buildScenario(root, display, list[0], axes);
  } catch (e) {
    if (!all.length) throw e; // a malformed tree the builder tripped on: the shape problems say why
  }
  all.push(...(built?.problems ?? []));
  return { scenario: all.length ? undefined : built?.scenario, problems: fix(all) };
}

/** Scenario files named directly, or found in folders (recursively, sorted); other files are ignored in folders. */
export function scenarioFiles(inputs: readonly string[], cwd: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const n of readdirSync(dir).sort()) {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith('.xml')) out.push(p);
    }
  };
  for (const i of inputs) {
    const p = isAbsolute(i) ? i : join(cwd, i);
    let st;
    try {
      st = statSync(p);
    } catch {
      throw problemsError('SCENARIO_NOT_FOUND', 'the scenario list', [{ location: { file: i }, message: 'no such file or folder', rule: 'input' }]);
    }
    if (st.isDirectory()) walk(p);
    else out.push(p);
  }
  return [...new Set(out)];
}

/** Loads every scenario named by inputs; throws one located error listing every problem. */
export function loadScenarios(inputs: readonly string[], cwd: string): Scenario[] {
  const problems: Problem[] = [];
  const scenarios: Scenario[] = [];
  const names = new Map<string, string>();
  for (const f of scenarioFiles(inputs, cwd)) {
    const display = relative(cwd, f) || f;
    const r = loadScenarioFile(f, display.startsWith('..') ? f.split(/[\\/]/).slice(-2).join('/') : display);
    problems.push(...r.problems);
    if (!r.scenario) continue;
    const prev = names.get(r.scenario.name);
    if (prev) problems.push({ location: { ...r.scenario.source }, message: `scenario name '${r.scenario.name}' is already used by ${prev}`, rule: 'unique-scenario' });
    names.set(r.scenario.name, r.scenario.source.file);
    scenarios.push(r.scenario);
  }
  if (problems.length) throw problemsError('SCENARIO_INVALID', 'scenarios', problems);
  return scenarios;
}
