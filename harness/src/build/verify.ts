// `winpv package verify`: every INF of a package set judged against drivers-spec/. One point per
// check per driver package, each failure located (file:line of the INF entry, or the file).
//
// What is verified:
//  - inf          the INF parses without syntax or structure problems (sections, strings, models)
//  - driver-ver   DriverVer is present, a real date and a four-part 16-bit version
//  - version      every package of the set has the same version (the manifest's when there is one)
//  - hardware-ids every device ID instantiates a spec template, with the set's vendor prefix and a
//                 platform device id inside the vendor's range; at least one device for the arch
//  - revisions    a child binds only revisions its spec lists AND its parent bus driver advertises,
//                 and that parent is in the same set
//  - services     AddService entries are the spec's services, kernel drivers, binaries copied
//  - files        every file the INF names (copied files, catalog) and every required spec file exists
//  - catalog      the .cat lists every file of the package with a matching digest
//                 (Authenticode digest for PE images, flat hash otherwise; SHA-1 or SHA-256)
//  - signature    .sys, .cat, .dll and .exe Authenticode signatures verify (osslsigncode) under the
//                 sign mode the caller enforces; certificate tables strict (cert-table.ts)
// What cannot be verified here: the revisions compiled into xenbus.sys (revision.h) are taken from
// the spec, not read from the binary; catalog OS attributes; the chain to Microsoft's
// cross-signing roots (only the CAs given with --ca-file / --production-roots or the system bundle).
// Timestamps: a signature countersigned by a timestamp authority that chains to --tsa-ca-file (or
// the system bundle) is verified at the timestamp's time, so it outlives its signer's certificate.
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { inputError, usageError } from '../model/errors';
import type { DriverName, DriverSpec, SpecSet } from '../model/spec';
import type { BundleManifest } from '../model/bundle';
import { checkManifestFiles, readManifest, readPackageSet, type Arch, type DriverInf, type PackageInf } from '../inf/index';
import { matchHardwareId } from './hardware-ids';
import { WINPV_BUNDLE } from '../inf/layouts';
import { problemsDiag, SIGN_MODES, type PackageContext, type SignMode, type VerifyCheck } from './verify-context';
import { CHECKS, runCheck } from './verify-checks';

export { SIGN_MODES, type SignMode, type VerifyCheck } from './verify-context';

export interface VerifyPoint {
  /** `xenvif/x64` (the package directory) or `set`. */
  subject: string;
  driver?: DriverName;
  check: VerifyCheck;
  ok: boolean;
  skip?: string;
  message: string;
  diagnostics?: Record<string, unknown>;
}

export interface VerifyOptions {
  specs: SpecSet;
  /** Architecture of packages whose directory does not say (`x64`/`amd64`, `x86`); default x64. */
  arch?: Arch;
  /** The set's vendor prefix; default the manifest's, else the prefix the bus driver's IDs use. */
  vendorPrefix?: string;
  /** The sign mode to enforce, chosen by whoever runs the check (command line or config), never by
   * the set being judged: TestSign (default: signatures must verify against `caFile` or the system
   * roots), ProductionSign (against `productionRoots` only, never a self-signed signer), NoSign/Off
   * (signatures not checked). The manifest's own signMode is only compared with it. */
  signMode?: string;
  /** Trusted roots for TestSign chains (the test certificate). */
  caFile?: string;
  /** Trusted roots for ProductionSign chains (e.g. the Microsoft roots an attestation/WHQL signature ends at). */
  productionRoots?: string;
  /** Trusted timestamp authority roots (osslsigncode's -TSA-CAfile); default the system bundle. */
  tsaCaFile?: string;
  /** Expected version of every package; default the manifest's, else the bus driver's. */
  version?: string;
}

export interface VerifiedPackage {
  driver: DriverName;
  dir: string;
  inf: string;
  version?: string;
  arch: Arch;
}

export interface VerifyReport {
  points: VerifyPoint[];
  packages: VerifiedPackage[];
  version?: string;
  vendorPrefix?: string;
  signers: string[];
  manifest?: BundleManifest;
  get failed(): number;
}

/** The package folder's architecture, read as the bundle layout describes it (inf/layouts.ts). */
const archOfDir = (dir: string, fallback: Arch): Arch => {
  const a = WINPV_BUNDLE.folderArch(dir);
  return a === 'x64' || a === 'x86' ? a : fallback;
};


function specFor(specs: SpecSet, pkg: PackageInf): DriverSpec | undefined {
  const name = basename(pkg.path).toLowerCase();
  return [...specs.values()].find((s) => s.identity.inf.toLowerCase() === name);
}

/** Prefix used by the bus driver's (or any) XENBUS/XENVIF IDs: the set's vendor when none is given. */
function inferVendor(pkgs: { pkg: PackageInf; spec: DriverSpec }[]): string | undefined {
  for (const { pkg, spec } of pkgs) {
    for (const d of pkg.inf.devices) {
      const m = matchHardwareId(spec, d.hardwareId);
      if (m?.prefix) return m.prefix;
    }
  }
  return undefined;
}


/** The enforced sign mode from the runner's options: Off is build.ps1's name for NoSign; anything
 * else unknown, or ProductionSign without its roots, is a usage error (exit 2). */
export function enforcedSignMode(opts: Pick<VerifyOptions, 'signMode' | 'productionRoots'>): SignMode {
  const mode = opts.signMode === undefined ? 'TestSign' : opts.signMode === 'Off' ? 'NoSign' : opts.signMode;
  if (!(SIGN_MODES as readonly string[]).includes(mode)) throw usageError(`unknown sign mode '${opts.signMode}': use TestSign, ProductionSign, or Off (NoSign)`);
  if (mode === 'ProductionSign' && !opts.productionRoots) {
    throw usageError('ProductionSign needs the production roots to verify against: give them with --production-roots PEM (for example the Microsoft roots your attestation or WHQL signatures chain to)');
  }
  return mode as SignMode;
}


/** Every INF of the set judged: the set's manifest first, then each check on each known package. */
export async function verifyPackageSet(root: string, opts: VerifyOptions): Promise<VerifyReport> {
  const signMode = enforcedSignMode(opts);
  const st = await stat(root).catch(() => undefined);
  if (!st?.isDirectory()) throw inputError('PACKAGE_DIR', 'not a directory', [], { file: root });
  const manifest = await readManifest(root);
  const all = await readPackageSet(root);
  if (all.length === 0) throw inputError('PACKAGE_EMPTY', 'no .inf files found', [], { file: root });

  const { known, points } = identifyPackages(all, opts.specs);
  const bus = known.find((k) => !k.spec.parent);
  const version = opts.version ?? manifest?.version ?? bus?.pkg.inf.version.driverVer?.value.version ?? mostCommonVersion(known.map((k) => k.pkg.inf));
  const vendorPrefix = opts.vendorPrefix ?? manifest?.vendorPrefix ?? inferVendor(bus ? [bus, ...known] : known);
  if (manifest) points.push(...(await manifestPoints(root, manifest, signMode)));

  const signers = new Set<string>();
  const packages: VerifiedPackage[] = [];
  for (const { pkg, spec } of known) {
    const arch = archOfDir(pkg.dir, opts.arch ?? manifest?.arch ?? 'x64');
    const ctx: PackageContext = { root, pkg, spec, arch, set: known, version, vendorPrefix, signMode, caFile: signMode === 'ProductionSign' ? opts.productionRoots : opts.caFile, ...(opts.tsaCaFile ? { tsaCaFile: opts.tsaCaFile } : {}), specs: opts.specs };
    packages.push({ driver: spec.name, dir: pkg.dir, inf: pkg.path, arch, ...(pkg.inf.version.driverVer ? { version: pkg.inf.version.driverVer.value.version } : {}) });
    points.push(...(await checkPackage(ctx, signers)));
  }
  return {
    points,
    packages,
    ...(version ? { version } : {}),
    ...(vendorPrefix ? { vendorPrefix } : {}),
    signers: [...signers],
    ...(manifest ? { manifest } : {}),
    get failed() {
      return points.filter((p) => !p.ok && !p.skip).length;
    },
  };
}

/** Each INF as the package of a spec'd driver, or an `identify` failure naming the INFs expected. */
function identifyPackages(all: readonly PackageInf[], specs: SpecSet): { known: { pkg: PackageInf; spec: DriverSpec }[]; points: VerifyPoint[] } {
  const points: VerifyPoint[] = [];
  const known: { pkg: PackageInf; spec: DriverSpec }[] = [];
  for (const pkg of all) {
    const spec = specFor(specs, pkg);
    if (spec) known.push({ pkg, spec });
    else
      points.push({
        subject: pkg.dir || pkg.path,
        check: 'identify',
        ok: false,
        message: `${pkg.path} is not the INF of any driver in drivers-spec (${[...specs.values()].map((s) => s.identity.inf).join(', ')})`,
        diagnostics: { file: pkg.path },
      });
  }
  return { known, points };
}

/** The manifest's files against the set, and its claimed sign mode against the enforced one. */
async function manifestPoints(root: string, manifest: BundleManifest, signMode: SignMode): Promise<VerifyPoint[]> {
  const points: VerifyPoint[] = [];
  const problems = await checkManifestFiles(root, manifest);
  points.push({
    subject: 'set',
    check: 'manifest',
    ok: problems.length === 0,
    message: problems.length === 0 ? `manifest.json lists all ${manifest.files.length} files with matching sizes and sha256` : `manifest.json disagrees with the files (${problems.length})`,
    ...(problems.length ? { diagnostics: { problems: problemsDiag(problems) } } : {}),
  });
  // The manifest is unsigned: what it claims about signing is compared with the enforced mode,
  // never obeyed. Sets not built by winpv say 'signed' or 'unknown', which claim no mode.
  const claimed = manifest.signMode === 'Off' ? 'NoSign' : manifest.signMode;
  if ((SIGN_MODES as readonly string[]).includes(claimed)) {
    points.push({
      subject: 'set',
      check: 'manifest',
      ok: claimed === signMode,
      message: claimed === signMode ? `manifest.json's signMode ${manifest.signMode} is the enforced one` : `manifest.json says signMode ${manifest.signMode}, but this verification enforces ${signMode} (the manifest cannot lower the bar)`,
      ...(claimed === signMode ? {} : { diagnostics: { file: WINPV_BUNDLE.manifest, expected: signMode, observed: manifest.signMode } }),
    });
  }
  return points;
}

/** One point per check of one package; the signature check's signers are added to `signers`. */
async function checkPackage(ctx: PackageContext, signers: Set<string>): Promise<VerifyPoint[]> {
  const subject = ctx.pkg.dir || ctx.spec.name;
  const points: VerifyPoint[] = [];
  for (const check of CHECKS) {
    const r = await runCheck(check, ctx);
    points.push({ subject, driver: ctx.spec.name, check: check.name, ...r });
    if (check.name === 'signature' && r.signers) for (const s of r.signers) signers.add(s);
  }
  return points;
}

function mostCommonVersion(infs: DriverInf[]): string | undefined {
  const counts = new Map<string, number>();
  for (const i of infs) {
    const v = i.version.driverVer?.value.version;
    if (v) counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
}
