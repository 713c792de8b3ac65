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
