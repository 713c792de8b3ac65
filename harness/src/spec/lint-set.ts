// Lint rules across the set of specs: duplicate-driver, parents and what children bind and consume
// (parent-exists, parent-is-bus, binds-parent, revision-exists, interface-version), build order
// (build-depends, build-cycle).
import type { XmlElement } from '../xml/index';
import type { SpecDocument } from './document';
import type { Collector } from './lint-collector';

/** Rules across the set: parents, revisions, interfaces, build order. */
export function lintSet(docs: SpecDocument[], broken: ReadonlySet<string>, c: Collector): void {
  const byName = new Map<string, SpecDocument>();
  for (const d of docs) {
    const first = byName.get(d.spec.name);
    if (first) c.add(d.root.attrLoc('name'), 'duplicate-driver', `driver ${d.spec.name} is already described in ${first.file}`);
    else byName.set(d.spec.name, d);
  }
  for (const d of docs) lintParent(d, byName, broken, c);
  lintBuildOrder(docs, byName, broken, c);
}

/** binds-parent, parent-exists, parent-is-bus, then the revisions the child binds. */
function lintParent(d: SpecDocument, byName: ReadonlyMap<string, SpecDocument>, broken: ReadonlySet<string>, c: Collector): void {
  const spec = d.spec;
  const bindsEl = d.root.child('binds');
  if (!spec.parent) {
    if (bindsEl) c.add(bindsEl.at(), 'binds-parent', 'a driver without parent binds no revisions');
    const cons = d.root.child('consumes');
    if (cons) c.add(cons.at(), 'binds-parent', 'a driver without parent consumes no interfaces');
    return;
  }
  const parent = byName.get(spec.parent);
  if (!bindsEl) c.add(d.root.at(), 'binds-parent', `a child of ${spec.parent} must bind at least one of its revisions (<binds>)`);
  if (!parent) {
    if (!broken.has(spec.parent)) c.add(d.root.attrLoc('parent'), 'parent-exists', `parent ${spec.parent} has no spec in this set`);
  } else if (!parent.spec.revisions.length) {
    c.add(d.root.attrLoc('parent'), 'parent-is-bus', `parent ${spec.parent} advertises no revisions, so nothing can bind to it`);
  } else {
    lintBoundRevisions(d, parent, bindsEl?.childrenNamed('revision') ?? [], c);
  }
}

/** revision-exists and interface-version: each bound revision is advertised and provides what the child consumes. */
function lintBoundRevisions(d: SpecDocument, parent: SpecDocument, bound: XmlElement[], c: Collector): void {
  const spec = d.spec;
  for (const [i, revId] of spec.bindsRevisions.entries()) {
    const rev = parent.spec.revisions.find((r) => r.id === revId);
    const el = bound[i];
    if (!rev) {
      c.add(el.attrLoc('id'), 'revision-exists', `revision ${revId} is not advertised by ${spec.parent} (it advertises ${parent.spec.revisions.map((r) => r.id).join(', ')})`);
      continue;
    }
    const consumesEls = d.root.child('consumes')?.childrenNamed('interface') ?? [];
    for (const [j, want] of spec.consumes.entries()) {
      const has = rev.interfaces.find((x) => x.name === want.name && (want.provider === undefined || x.provider === undefined || x.provider === want.provider));
      const at = consumesEls[j].at();
      if (!has) c.add(at, 'interface-version', `${want.name} is not provided by ${spec.parent} revision ${revId}`);
      else if (has.version !== want.version) c.add(at, 'interface-version', `${want.name} version ${want.version} does not match version ${has.version} of ${spec.parent} revision ${revId}`);
    }
  }
}

/** build-depends and build-cycle. */
function lintBuildOrder(docs: SpecDocument[], byName: Map<string, SpecDocument>, broken: ReadonlySet<string>, c: Collector): void {
  for (const d of docs) {
    const el = d.root.child('build');
    if (!el) continue;
    for (const dep of d.spec.build.dependsOn) {
      if (!byName.has(dep) && !broken.has(dep)) c.add(el.attrLoc('depends-on'), 'build-depends', `depends on ${dep}, which has no spec`);
      if (dep === d.spec.name) c.add(el.attrLoc('depends-on'), 'build-cycle', `${dep} depends on itself`);
    }
    if (d.spec.parent && byName.has(d.spec.parent) && !dependsTransitively(d.spec.name, d.spec.parent, byName)) {
      c.add(el.at(), 'build-depends', `${d.spec.name} must be built after its parent ${d.spec.parent} (add it to depends-on)`);
    }
  }
  const cycle = findCycle(docs);
  if (cycle) {
    const d = byName.get(cycle[0])!;
    c.add(d.root.child('build')!.attrLoc('depends-on'), 'build-cycle', `build dependencies form a cycle: ${cycle.join(' -> ')}`);
  }
}

function dependsTransitively(from: string, to: string, byName: Map<string, SpecDocument>): boolean {
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length) {
    const n = stack.pop()!;
    for (const dep of byName.get(n)?.spec.build.dependsOn ?? []) {
      if (dep === to) return true;
      if (!seen.has(dep)) seen.add(dep), stack.push(dep);
    }
  }
  return false;
}

function findCycle(docs: SpecDocument[]): string[] | undefined {
  const deps = new Map(docs.map((d) => [d.spec.name as string, d.spec.build.dependsOn.filter((x) => x !== d.spec.name) as string[]]));
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 'done') return undefined;
    if (state.get(n) === 'open') return [...path.slice(path.indexOf(n)), n];
    state.set(n, 'open');
    path.push(n);
    for (const m of deps.get(n) ?? []) {
      const found = deps.has(m) ? visit(m) : undefined;
      if (found) return found;
    }
    path.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of [...deps.keys()].sort()) {
    const found = visit(n);
    if (found) return found;
  }
  return undefined;
}
