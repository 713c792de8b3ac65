// Build order: the selected drivers sorted so each comes after the drivers its spec's build
// section depends on (xenbus before xenvif before xennet). Dependencies outside the selection do
// not reorder anything (each driver repository carries the headers it builds against), but inside
// it a failure stops every dependent.
import { inputError, type Problem } from '../model/errors';
import { DRIVER_NAMES, type DriverName, type SpecSet } from '../model/spec';


export function buildOrder(specs: SpecSet, selected: readonly DriverName[]): DriverName[] {
  const problems: Problem[] = [];
  for (const d of selected) {
    if (!specs.has(d)) problems.push({ location: { file: 'drivers-spec' }, message: `no spec for driver '${d}' (known: ${[...specs.keys()].join(', ')})`, rule: 'build-drivers' });
  }
  if (problems.length) throw inputError('BUILD_DRIVERS', 'unknown driver(s) in --drivers', problems);
  const want = new Set(selected);
  const order: DriverName[] = [];
  const state = new Map<DriverName, 'visiting' | 'done'>();
  const visit = (d: DriverName, path: DriverName[]) => {
    if (state.get(d) === 'done') return;
    if (state.get(d) === 'visiting') {
      const spec = specs.get(d)!;
      throw inputError('BUILD_CYCLE', `build dependencies form a cycle: ${[...path, d].join(' -> ')}`, [], spec.source);
    }
    state.set(d, 'visiting');
    for (const dep of specs.get(d)?.build.dependsOn ?? []) if (want.has(dep)) visit(dep, [...path, d]);
    state.set(d, 'done');
    order.push(d);
  };
  // Visit in win-pv's canonical order (then any other spec's) so independent drivers come out stable.
  const rank = (d: DriverName) => DRIVER_NAMES.indexOf(d);
  for (const d of [...specs.keys()].filter((k) => want.has(k)).sort((a, b) => rank(a) - rank(b))) visit(d, []);
  return order;
}

/** Every selected driver that (transitively) depends on `failed`. */
export function dependentsOf(specs: SpecSet, failed: DriverName, among: readonly DriverName[]): DriverName[] {
  const out: DriverName[] = [];
  const blocked = new Set<DriverName>([failed]);
  for (const d of among) {
    if (blocked.has(d)) continue;
    if ((specs.get(d)?.build.dependsOn ?? []).some((dep) => blocked.has(dep))) {
      blocked.add(d);
      out.push(d);
    }
  }
  return out;
}
