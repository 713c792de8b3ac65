// Loading drivers-spec/ for the build toolkit through the spec loader (harness/src/spec, issue 3).
// The loader is looked up at run time so this branch builds before it lands; once it is on main
// this becomes a plain import.
import { infraError, inputError, type Problem } from '../model/errors';
import type { DriverName, DriverSpec, SpecSet } from '../model/spec';

type Loaded = SpecSet | DriverSpec[] | { specs: SpecSet | DriverSpec[]; problems?: readonly Problem[] };

export async function loadSpecSet(dir: string): Promise<SpecSet> {
  let mod: { loadSpecs?: (dir: string) => Loaded | Promise<Loaded> };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require('../spec');
  } catch {
    mod = {};
  }
  if (typeof mod.loadSpecs !== 'function') {
    throw infraError('NOT_IMPLEMENTED', 'the drivers-spec loader (harness/src/spec loadSpecs, issue 3) is not available in this build');
  }
  const loaded = await mod.loadSpecs(dir);
  const isSet = (x: unknown): x is SpecSet | DriverSpec[] => x instanceof Map || Array.isArray(x);
  const problems = isSet(loaded) ? [] : (loaded.problems ?? []);
  if (problems.length > 0) throw inputError('SPEC_INVALID', `${dir}: the driver specs have ${problems.length} problem(s)`, problems, { file: dir });
  const specs = isSet(loaded) ? loaded : loaded.specs;
  return Array.isArray(specs) ? new Map(specs.map((s): [DriverName, DriverSpec] => [s.name, s])) : (specs as SpecSet);
}
