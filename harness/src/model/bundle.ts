// A driver bundle's manifest: `manifest.json` at the root of a build output directory, an ISO or
// a zip. `winpv build` writes it, `winpv package bundle` puts it inside the ISO and zip, and the
// hosts (simulator, XenAPI) read it to know what they are installing. Pure data.

export const BUNDLE_MANIFEST_SCHEMA = 'winpv-bundle/1';

export interface BundleFile {
  /** Relative to the bundle root, forward slashes (`xenbus/x64/xenbus.sys`). */
  path: string;
  size: number;
  /** Lower-case hex SHA-256 of the file's bytes. */
  sha256: string;
}

export interface BundleDriver {
  name: string;
  /** DriverVer version of its INF (w.x.y.z). */
  version: string;
  /** Directory of the driver's package inside the bundle (`xenbus/x64`). */
  dir: string;
  /** The INF, relative to the bundle root. */
  inf: string;
  /** Source commit the driver was built from, when known. */
  sourceCommit?: string;
}

export interface BundleManifest {
  schema: typeof BUNDLE_MANIFEST_SCHEMA;
  /** The set's version (every driver of a verified set has the same one). */
  version: string;
  vendorPrefix?: string;
  arch?: 'x64' | 'x86';
  buildType?: 'free' | 'checked';
  /** build.ps1 -SignMode: TestSign, ProductionSign, Off; `unknown` for a set not built by winpv. */
  signMode: string;
  /** Subject of the certificate the .sys/.cat files were signed with, when verified. */
  signer?: string;
  /** Commit of the source tree the set was built from (a set built from several repos lists each driver's). */
  sourceCommit?: string;
  /** ISO-8601 time the manifest was written. */
  createdAt: string;
  drivers: BundleDriver[];
  /** Every file of the bundle except manifest.json itself. */
  files: BundleFile[];
}

/**
 * What `builtin:<version>[@<vendor>]` bundles are on a real host. On the simulator they are its own
 * models (our reference packages, other vendors' Xen tools built with their prefix); a pool has no
 * such models, so the person running it names the real artefacts: the previous releases and the
 * other vendor's tools they have (host config "bundles").
 */
export interface BuiltinArtefacts {
  /** `<version>[@<vendor prefix>]` -> `iso:<file name on the host's ISO SR>` or an absolute path of a
   *  bundle (directory, ISO or zip with manifest.json). */
  named: Readonly<Record<string, string>>;
  /** `builtin:<version>` of our own drivers needs no naming (XenAPI: the ISO winpv-<version>.iso). */
  ownByConvention: boolean;
  /** Where the user names them, for the reason a scenario is skipped. */
  where: string;
}

/** `builtin:9.0.0@XS` -> its key `9.0.0@XS`, version and vendor prefix; undefined for another bundle. */
export function parseBuiltin(spec: string): { key: string; version: string; vendor?: string } | undefined {
  const m = /^builtin:(\d+(?:\.\d+){1,3})(?:@([A-Z]{2}))?$/.exec(spec);
  return m ? { key: m[2] ? `${m[1]}@${m[2]}` : m[1]!, version: m[1]!, ...(m[2] ? { vendor: m[2] } : {}) } : undefined;
}

/** The artefact a builtin bundle is on this host (undefined: the builtin itself serves, by the host's
 *  convention), or what the user must provide for it. Not a builtin: undefined. */
export function builtinArtefact(spec: string, a: BuiltinArtefacts): { artefact: string } | { missing: string } | undefined {
  const b = parseBuiltin(spec);
  if (!b) return undefined;
  const named = a.named[b.key];
  if (named !== undefined) return { artefact: named };
  if (!b.vendor && a.ownByConvention) return undefined;
  const what = b.vendor ? `the Xen PV tools of vendor ${b.vendor}, version ${b.version}` : `our drivers' release ${b.version}`;
  return { missing: `${spec} (${what}), a model only the simulator has: name the real one in ${a.where}, "${b.key}": "iso:<its ISO file on the pool's ISO SR>" or "<absolute path of a bundle directory, ISO or zip with manifest.json>"` };
}
