// Driver bundles named by install steps: `builtin:<version>[@<vendor>]` (the simulator's reference
// package or its model of another vendor's tools; on a pool the artefact its config names for it, and
// `winpv-<version>.iso` for our own release where none is named), `iso:<name>` (an ISO on the host), or a directory, ISO or zip (relative to the scenario file) read with inf/'s bundle reader; the
// version comes from its manifest.json (written by `winpv build` and `winpv package bundle`).
import { isAbsolute, dirname, resolve } from 'node:path';
import type { DriverBundle } from '../model/host';
import type { DriverName } from '../model/spec';
import { openBundle } from '../inf/bundle';
import { StepFailure } from './errors';
import { parseVersion } from '../model/version';
import { builtinArtefact, parseBuiltin, type BuiltinArtefacts } from '../model/bundle';
import { unsupportedError } from '../model/errors';

export interface ResolvedBundle {
  bundle: DriverBundle;
  /** The artefact a `builtin:` bundle is on this host (its config names it), when one stands in for it. */
  via?: string;
  /** Removes what opening it unpacked (ISO and zip bundles). */
  cleanup(): Promise<void>;
}

export type BundleOpener = (path: string, drivers: DriverName[]) => Promise<ResolvedBundle>;

/** Opens a bundle with inf/openBundle; its manifest gives the version the drivers must bind at. */
const openDriverBundle: BundleOpener = async (path, drivers) => {
  const opened = await openBundle(path);
  if (!opened.manifest) {
    await opened.cleanup();
    throw new StepFailure('BUNDLE_NO_MANIFEST', `${path}: no manifest.json (make the bundle with winpv package bundle)`);
  }
  const have = new Set(opened.manifest.drivers.map((d) => d.name.toLowerCase()));
  const missing = drivers.filter((d) => !have.has(d));
  if (missing.length) {
    await opened.cleanup();
    throw new StepFailure('BUNDLE_INCOMPLETE', `${path}: the bundle has no ${missing.join(', ')}`);
  }
  return { bundle: { location: opened.dir, version: opened.manifest.version, drivers, source: opened.source }, cleanup: () => opened.cleanup() };
};

/** `artefacts`: what builtin bundles are on the host (a real host's config names them); absent: the
 *  simulator's models. A builtin the host has no artefact for cannot run there (the planner skips
 *  such scenarios with what to provide; this guards direct runs). */
export async function resolveBundle(spec: string, drivers: DriverName[], scenarioFile: string, open: BundleOpener = openDriverBundle, artefacts?: BuiltinArtefacts): Promise<ResolvedBundle> {
  const named = artefacts && builtinArtefact(spec, artefacts);
  if (named && 'missing' in named) throw unsupportedError(named.missing);
  if (named) {
    // the config's path is the user's, not the scenario's: absolute (checked when the config is read)
    if (!named.artefact.startsWith('iso:') && !isAbsolute(named.artefact)) throw new StepFailure('BUNDLE_INVALID', `${spec} is '${named.artefact}' in ${artefacts!.where}: a bundle path there must be absolute`);
    return { ...(await resolveBundle(named.artefact, drivers, scenarioFile, open)), via: named.artefact };
  }
  if (spec.startsWith('iso:')) {
    // an ISO already on the host (the pool's ISO SR, its tools ISO): the guest agent reads it from
    // the CD drive; its version is the one its name carries (winpv-9.1.0.42.iso) until the disc's
    // own manifest says otherwise, none for a disc that says neither
    const name = spec.slice('iso:'.length);
    if (!name || /[\\/]/.test(name)) throw new StepFailure('BUNDLE_INVALID', `'${spec}': iso:<name> names an ISO of the host's ISO SR by its file name`);
    const v = /(?:^|[^0-9.])(\d+(?:\.\d+){1,3})(?=\.iso$|[^0-9.]|$)/i.exec(name)?.[1];
    return { bundle: { location: spec, version: v && parseVersion(v) ? v : '', drivers }, cleanup: async () => undefined };
  }
  if (spec.startsWith('builtin:')) {
    // builtin:9.1.0 and builtin:9.1.0.42: a driver version has up to four parts (model/version.ts);
    // builtin:9.0.0@XS: the same reference packages built with another vendor's prefix (the simulator)
    const b = parseBuiltin(spec);
    if (!b || !parseVersion(b.version)) throw new StepFailure('BUNDLE_INVALID', `'${spec}': builtin bundles are builtin:<version>[@<vendor prefix>] with two to four parts of at most 65535, e.g. builtin:9.1.0, builtin:9.1.0.42 or builtin:9.0.0@XS`);
    return { bundle: { location: spec, version: b.version, drivers }, cleanup: async () => undefined };
  }
  return open(isAbsolute(spec) ? spec : resolve(dirname(scenarioFile), spec), drivers);
}
