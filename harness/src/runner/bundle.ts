// Driver bundles named by install steps: `builtin:<version>` (the simulator's reference package)
// or a directory/ISO/zip path relative to the scenario file.
import { isAbsolute, dirname, resolve } from 'node:path';
import type { DriverBundle } from '../model/host';
import type { DriverName } from '../model/spec';
import { StepFailure } from './errors';

export type BundleOpener = (path: string, drivers: DriverName[]) => Promise<DriverBundle>;

export async function resolveBundle(spec: string, drivers: DriverName[], scenarioFile: string, open?: BundleOpener): Promise<DriverBundle> {
  const m = /^builtin:(\d+(?:\.\d+){1,3})$/.exec(spec);
  if (m) return { location: spec, version: m[1], drivers };
  if (spec.startsWith('builtin:')) throw new StepFailure('BUNDLE_INVALID', `'${spec}': builtin bundles are builtin:<version>, e.g. builtin:9.1.0`);
  const path = isAbsolute(spec) ? spec : resolve(dirname(scenarioFile), spec);
  if (!open) throw new StepFailure('BUNDLE_UNSUPPORTED', `driver bundle '${spec}': reading bundle directories needs the bundle reader (harness/src/inf), which this build lacks`);
  return open(path, drivers);
}
