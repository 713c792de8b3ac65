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
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, posix } from 'node:path';
import { inputError, usageError, type Problem, type SourceLocation } from '../model/errors';
import type { DriverName, DriverSpec, SpecSet } from '../model/spec';
import type { BundleManifest } from '../model/bundle';
import { catalogFor, checkManifestFiles, devicesFor, listFiles, readManifest, readPackageSet, type Arch, type DriverInf, type PackageInf } from '../inf/index';
import { catalogDigest, PeFormatError, type DigestAlgorithm } from './authenticode';
import { certificateEntries, certificateTableProblems, imageWithOnlyEntry } from './cert-table';
import { CatalogFormatError, parseCatalog } from './catalog';
import { matchHardwareId, vendorProblem } from './hardware-ids';
import { verifySignatures, type SignatureResult } from './signature';
import { at } from './tap';
import { sameVersion } from '../model/version';
import { WINPV_BUNDLE } from '../inf/layouts';

export type VerifyCheck = 'inf' | 'driver-ver' | 'version' | 'hardware-ids' | 'revisions' | 'services' | 'files' | 'catalog' | 'signature' | 'manifest' | 'identify';

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

const locText = (loc: SourceLocation) => at(loc);
const problemsDiag = (ps: readonly Problem[]) => ps.map((p) => `${locText(p.location)}: ${p.message}`);

function specFor(specs: SpecSet, pkg: PackageInf): DriverSpec | undefined {
  const name = basename(pkg.path).toLowerCase();
  return [...specs.values()].find((s) => s.identity.inf.toLowerCase() === name);
}

/** Prefix used by the bus driver's (or any) XENBUS/XENVIF IDs: the set's vendor when none is given. */
function inferVendor(specs: SpecSet, pkgs: { pkg: PackageInf; spec: DriverSpec }[]): string | undefined {
  for (const { pkg, spec } of pkgs) {
    for (const d of pkg.inf.devices) {
      const m = matchHardwareId(spec, d.hardwareId);
      if (m?.prefix) return m.prefix;
    }
  }
  void specs;
  return undefined;
}

export const SIGN_MODES = ['TestSign', 'ProductionSign', 'NoSign'] as const;
export type SignMode = (typeof SIGN_MODES)[number];

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

export async function verifyPackageSet(root: string, opts: VerifyOptions): Promise<VerifyReport> {
  const signMode = enforcedSignMode(opts);
  const st = await stat(root).catch(() => undefined);
  if (!st?.isDirectory()) throw inputError('PACKAGE_DIR', 'not a directory', [], { file: root });
  const manifest = await readManifest(root);
  const all = await readPackageSet(root);
  if (all.length === 0) throw inputError('PACKAGE_EMPTY', 'no .inf files found', [], { file: root });

  const points: VerifyPoint[] = [];
  const known: { pkg: PackageInf; spec: DriverSpec }[] = [];
  for (const pkg of all) {
    const spec = specFor(opts.specs, pkg);
    if (spec) known.push({ pkg, spec });
    else
      points.push({
        subject: pkg.dir || pkg.path,
        check: 'identify',
        ok: false,
        message: `${pkg.path} is not the INF of any driver in drivers-spec (${[...opts.specs.values()].map((s) => s.identity.inf).join(', ')})`,
        diagnostics: { file: pkg.path },
      });
  }

  const bus = known.find((k) => !k.spec.parent);
  const version = opts.version ?? manifest?.version ?? bus?.pkg.inf.version.driverVer?.value.version ?? mostCommonVersion(known.map((k) => k.pkg.inf));
  const vendorPrefix = opts.vendorPrefix ?? manifest?.vendorPrefix ?? inferVendor(opts.specs, bus ? [bus, ...known] : known);
  const signers = new Set<string>();
  const packages: VerifiedPackage[] = [];

  if (manifest) {
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
  }

  for (const { pkg, spec } of known) {
    const arch = archOfDir(pkg.dir, opts.arch ?? manifest?.arch ?? 'x64');
    const ctx: PackageContext = { root, pkg, spec, arch, set: known, version, vendorPrefix, signMode, caFile: signMode === 'ProductionSign' ? opts.productionRoots : opts.caFile, ...(opts.tsaCaFile ? { tsaCaFile: opts.tsaCaFile } : {}), specs: opts.specs };
    const subject = pkg.dir || spec.name;
    packages.push({ driver: spec.name, dir: pkg.dir, inf: pkg.path, arch, ...(pkg.inf.version.driverVer ? { version: pkg.inf.version.driverVer.value.version } : {}) });
    for (const check of CHECKS) {
      const r = await runCheck(check, ctx);
      points.push({ subject, driver: spec.name, check: check.name, ...r });
      if (check.name === 'signature' && r.signers) for (const s of r.signers) signers.add(s);
    }
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

function mostCommonVersion(infs: DriverInf[]): string | undefined {
  const counts = new Map<string, number>();
  for (const i of infs) {
    const v = i.version.driverVer?.value.version;
    if (v) counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
}

interface PackageContext {
  root: string;
  pkg: PackageInf;
  spec: DriverSpec;
  arch: Arch;
  set: { pkg: PackageInf; spec: DriverSpec }[];
  version?: string;
  vendorPrefix?: string;
  signMode: SignMode;
  /** The roots the enforced mode trusts. */
  caFile?: string;
  tsaCaFile?: string;
  specs: SpecSet;
}

interface CheckOutcome {
  ok: boolean;
  skip?: string;
  message: string;
  diagnostics?: Record<string, unknown>;
  signers?: string[];
}

interface PackageCheck {
  name: VerifyCheck;
  run(ctx: PackageContext): CheckOutcome | Promise<CheckOutcome>;
}

/** A check that throws (a reader bug, a file vanished) is that check's `not ok` for this package,
 * naming the package and the error; the rest of the set is still judged. */
async function runCheck(check: PackageCheck, ctx: PackageContext): Promise<CheckOutcome> {
  try {
    return await check.run(ctx);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return fail(`${ctx.spec.name}: ${check.name} could not be judged for ${ctx.pkg.path}: ${why}`, { file: ctx.pkg.path, error: why });
  }
}

const pass = (message: string): CheckOutcome => ({ ok: true, message });
const fail = (message: string, diagnostics: Record<string, unknown>): CheckOutcome => ({ ok: false, message, diagnostics });

const CHECKS: PackageCheck[] = [
  {
    name: 'inf',
    run: ({ pkg, spec }) => {
      const ps = pkg.inf.problems.filter((p) => p.rule !== 'inf-driver-ver');
      return ps.length === 0
        ? pass(`${spec.name}: ${pkg.path} is well-formed`)
        : fail(`${spec.name}: ${pkg.path} has ${ps.length} problem(s)`, { at: locText(ps[0].location), problems: problemsDiag(ps) });
    },
  },
  {
    name: 'driver-ver',
    run: ({ pkg, spec }) => {
      const bad = pkg.inf.problems.find((p) => p.rule === 'inf-driver-ver');
      if (bad) return fail(`${spec.name}: ${bad.message}`, { at: locText(bad.location) });
      const dv = pkg.inf.version.driverVer;
      if (!dv) return fail(`${spec.name}: [Version] has no DriverVer`, { at: locText(pkg.inf.version.loc) });
      return pass(`${spec.name}: DriverVer ${dv.value.date}, ${dv.value.version}`);
    },
  },
  {
    name: 'version',
    run: ({ pkg, spec, version }) => {
      const dv = pkg.inf.version.driverVer;
      if (!dv) return { ok: false, skip: 'no valid DriverVer', message: `${spec.name}: version not comparable` };
      if (!version || sameVersion(dv.value.version, version)) return pass(`${spec.name}: version ${dv.value.version} matches the set`);
      return fail(`${spec.name}: version ${dv.value.version} differs from the set's ${version}`, { at: locText(dv.loc), expected: version, observed: dv.value.version });
    },
  },
  { name: 'hardware-ids', run: checkHardwareIds },
  { name: 'revisions', run: checkRevisions },
  { name: 'services', run: checkServices },
  { name: 'files', run: checkFiles },
  { name: 'catalog', run: checkCatalog },
  { name: 'signature', run: checkSignatures },
];

/** Every ID of a models line: the hardware ID and each compatible ID after it. Windows matches a
 * device's IDs against all of them ("INF Models Section", device-description = install-section,
 * hw-id[, compatible-id...]), so each one binds devices and each one is judged. */
function modelIds(pkg: PackageInf, arch: Arch): { id: string; loc: SourceLocation }[] {
  return devicesFor(pkg.inf, arch).flatMap((d) => [d.hardwareId, ...d.compatibleIds].map((id) => ({ id, loc: d.loc })));
}

function checkHardwareIds({ pkg, spec, arch, vendorPrefix }: PackageContext): CheckOutcome {
  const ids = modelIds(pkg, arch);
  if (ids.length === 0) return fail(`${spec.name}: no device is listed for ${arch}`, { at: locText(pkg.inf.manufacturers[0]?.loc ?? pkg.inf.version.loc) });
  const bad: string[] = [];
  for (const { id, loc } of ids) {
    const m = matchHardwareId(spec, id);
    if (!m) {
      bad.push(`${locText(loc)}: ${id} matches none of the spec's IDs (${spec.identity.hardwareIds.join(', ')})`);
      continue;
    }
    const why = vendorProblem(spec, m, vendorPrefix);
    if (why) bad.push(`${locText(loc)}: ${id}: ${why}`);
  }
  if (bad.length) return fail(`${spec.name}: ${bad.length} of ${ids.length} hardware ID(s) outside the spec or the vendor's range`, { at: bad[0].split(': ')[0], problems: bad });
  return pass(`${spec.name}: ${ids.length} hardware ID(s) for ${arch} match the spec${vendorPrefix ? ` for vendor ${vendorPrefix}` : ''}`);
}

function checkRevisions({ pkg, spec, arch, set, specs }: PackageContext): CheckOutcome {
  if (!spec.parent) return { ok: true, skip: `${spec.name} is a bus driver (binds no parent revision)`, message: `${spec.name}: not applicable` };
  const parentSpec = specs.get(spec.parent);
  const parentInSet = set.find((k) => k.spec.name === spec.parent);
  const advertised = new Set((parentSpec?.revisions ?? []).map((r) => r.id.toUpperCase()));
  const allowed = new Set(spec.bindsRevisions.map((r) => r.toUpperCase()));
  const bad: string[] = [];
  const seen = new Set<string>();
  for (const { id, loc } of modelIds(pkg, arch)) {
    const rev = matchHardwareId(spec, id)?.rev;
    if (!rev) continue;
    seen.add(rev);
    if (!advertised.has(rev)) bad.push(`${locText(loc)}: ${id} binds ${spec.parent} revision ${rev}, which ${spec.parent} does not advertise (${[...advertised].join(', ') || 'none'})`);
    else if (!allowed.has(rev)) bad.push(`${locText(loc)}: ${id} binds revision ${rev}, but drivers-spec/${spec.name} binds ${[...allowed].join(', ')}`);
  }
  // No ID naming a revision binds nothing the parent advertises: that is a failure, not a pass
  // over an empty list.
  if (seen.size === 0) bad.push(`${pkg.path}: no hardware ID for ${arch} names a ${spec.parent} revision (REV_xxxxxxxx) from the spec`);
  if (!parentInSet) bad.push(`${pkg.path}: its parent ${spec.parent} is not in the set`);
  if (bad.length) return fail(`${spec.name}: revision mismatch with ${spec.parent}`, { at: bad[0].split(': ')[0], problems: bad });
  return pass(`${spec.name}: binds ${spec.parent} revision(s) ${[...seen].join(', ')}, advertised by ${spec.parent} in the set`);
}

function checkServices({ pkg, spec }: PackageContext): CheckOutcome {
  const inf = pkg.inf;
  const want = new Set(spec.identity.services.map((s) => s.toLowerCase()));
  const have = new Map(inf.services.map((s) => [s.name.toLowerCase(), s]));
  const bad: string[] = [];
  for (const w of want) if (!have.has(w)) bad.push(`${pkg.path}: no AddService for ${w} (drivers-spec/${spec.name} lists ${spec.identity.services.join(', ')})`);
  for (const [name, s] of have) {
    if (!want.has(name)) bad.push(`${locText(s.loc)}: service ${s.name} is not in drivers-spec/${spec.name}`);
    const binary = s.serviceBinary?.split(/[\\/]/).pop()?.toLowerCase();
    // Drivers (.sys) are SERVICE_KERNEL_DRIVER (1); helper services (.exe) run in their own process (0x10).
    const wantType = binary?.endsWith('.exe') ? 0x10 : 0x1;
    if (s.serviceType !== wantType) bad.push(`${locText(s.loc)}: service ${s.name} ServiceType ${s.serviceType ?? '(none)'} should be 0x${wantType.toString(16)} for ${binary ?? 'its binary'}`);
    if (binary && !inf.copyFiles.some((c) => c.destination.toLowerCase() === binary)) bad.push(`${locText(s.loc)}: service ${s.name} binary ${binary} is not copied by the INF`);
  }
  const assoc = inf.services.filter((s) => s.flags & 0x2);
  if (inf.services.length > 0 && assoc.length !== 1) bad.push(`${pkg.path}: ${assoc.length} services carry SPSVCINST_ASSOCSERVICE (0x2); exactly one must`);
  if (bad.length) return fail(`${spec.name}: services differ from the spec`, { at: bad[0].split(': ')[0], problems: bad });
  return pass(`${spec.name}: services ${inf.services.map((s) => s.name).join(', ')} as in the spec`);
}

/** Files of the package directory by lower-case name (Windows file names are case-insensitive). */
async function packageFiles(root: string, dir: string): Promise<Map<string, string>> {
  const all = await listFiles(join(root, dir));
  return new Map(all.filter((f) => !f.includes('/')).map((f) => [f.toLowerCase(), f]));
}

async function checkFiles({ root, pkg, spec, arch }: PackageContext): Promise<CheckOutcome> {
  const files = await packageFiles(root, pkg.dir);
  const bad: string[] = [];
  for (const c of pkg.inf.copyFiles) if (!files.has(c.source.toLowerCase())) bad.push(`${locText(c.loc)}: ${c.source} is missing from ${pkg.dir || '.'}`);
  const cat = catalogFor(pkg.inf, arch);
  if (!cat) bad.push(`${locText(pkg.inf.version.loc)}: no CatalogFile for ${arch}`);
  else if (!files.has(cat.name.toLowerCase())) bad.push(`${locText(cat.loc)}: catalog ${cat.name} is missing`);
  for (const f of spec.identity.files) {
    if (!f.optional && !files.has(f.name.toLowerCase())) bad.push(`${pkg.path}: ${f.name} (required by drivers-spec/${spec.name}) is missing`);
  }
  const uniq = [...new Set(bad)];
  if (uniq.length) return fail(`${spec.name}: ${uniq.length} file(s) missing`, { at: uniq[0].split(': ')[0], problems: uniq });
  return pass(`${spec.name}: all ${pkg.inf.copyFiles.length + 2} files the INF names are present`);
}

async function checkCatalog({ root, pkg, spec, arch }: PackageContext): Promise<CheckOutcome> {
  const cat = catalogFor(pkg.inf, arch);
  const files = await packageFiles(root, pkg.dir);
  const catFile = cat && files.get(cat.name.toLowerCase());
  if (!cat || !catFile) return { ok: false, skip: 'no catalog file (see the files check)', message: `${spec.name}: catalog` };
  const catPath = posix.join(pkg.dir, catFile);
  let catalog;
  try {
    catalog = parseCatalog(await readFile(join(root, catPath)));
  } catch (e) {
    if (e instanceof CatalogFormatError) return fail(`${spec.name}: ${catPath} is not a security catalog: ${e.message}`, { file: catPath });
    throw e;
  }
  const algorithms = [...new Set(catalog.members.map((m) => m.algorithm))].filter((a): a is DigestAlgorithm => a === 'sha1' || a === 'sha256');
  const listed = new Set(catalog.members.map((m) => m.digest));
  const names = [basename(pkg.path), ...new Set(pkg.inf.copyFiles.map((c) => c.source))];
  const bad: string[] = [];
  for (const name of names) {
    const actual = files.get(name.toLowerCase());
    if (!actual) continue; // reported by the files check
    const bytes = await readFile(join(root, pkg.dir, actual));
    let found: boolean;
    try {
      found = algorithms.some((alg) => listed.has(catalogDigest(bytes, alg).digest.toString('hex').toUpperCase()));
    } catch (e) {
      if (!(e instanceof PeFormatError)) throw e;
      bad.push(`${posix.join(pkg.dir, actual)}: not a valid PE image (${e.message})`);
      continue;
    }
    if (!found) {
      const copy = pkg.inf.copyFiles.find((c) => c.source.toLowerCase() === name.toLowerCase());
      const member = catalog.members.find((m) => m.file?.toLowerCase() === name.toLowerCase());
      bad.push(
        `${copy ? locText(copy.loc) : pkg.path}: ${name} ${member ? `differs from its digest in ${catFile} (the file changed after the catalog was made)` : `is not listed in ${catFile}`}`,
      );
    }
  }
  if (algorithms.length === 0) bad.push(`${catPath}: no SHA-1 or SHA-256 member digests`);
  if (bad.length) return fail(`${spec.name}: ${bad.length} file(s) not covered by ${catFile}`, { at: bad[0].split(': ')[0], catalog: catPath, problems: bad });
  return pass(`${spec.name}: ${catFile} covers ${names.length} file(s) (${algorithms.join(', ')})`);
}

/** Files whose Authenticode signature is checked: drivers, catalogs, and the package's own programs. */
const SIGNED_FILE = /\.(sys|cat|dll|exe)$/i;

async function checkSignatures({ root, pkg, spec, signMode, caFile, tsaCaFile }: PackageContext): Promise<CheckOutcome> {
  if (signMode === 'NoSign') return { ok: true, skip: `sign mode ${signMode}`, message: `${spec.name}: signatures not expected` };
  const files = [...(await packageFiles(root, pkg.dir)).values()].filter((f) => SIGNED_FILE.test(f)).sort();
  if (files.length === 0) return { ok: false, skip: 'no .sys or .cat files (see the files check)', message: `${spec.name}: signatures` };
  const results: { file: string; label: string; r: SignatureResult }[] = [];
  for (const f of files) {
    const path = posix.join(pkg.dir, f);
    const each = await judgeFile(join(root, pkg.dir, f), signMode, { caFile, tsaCaFile });
    each.forEach((r, i) => results.push({ file: path, label: each.length > 1 ? `${path} (signature ${i + 1} of ${each.length})` : path, r }));
  }
  const signers = [...new Set(results.map(({ r }) => r.signer).filter((s): s is string => !!s))];
  const bad = results.filter(({ r }) => r.status !== 'ok');
  const describe = ({ label, r }: (typeof results)[number]) => `${label}: ${why(r, signMode, { caFile, tsaCaFile })}`;
  // Signatures that hold only thanks to their timestamp say so, with the time vouched for.
  const timestamped = results.filter(({ r }) => r.status === 'ok' && r.timestamp?.verified).map(({ label, r }) => `${label}: countersigned at ${r.timestamp!.time} by a trusted timestamp authority`);
  const multiple = results.filter(({ label, file }) => label !== file).map(({ label, r }) => `${label}: ${r.status === 'ok' ? `verified, signed by ${r.signer}` : why(r, signMode, { caFile, tsaCaFile })}`);
  if (bad.length) {
    const problems = bad.map(describe);
    return {
      ok: false,
      message: `${spec.name}: ${bad.length} of ${results.length} signature(s) fail; ${problems[0]}`,
      diagnostics: { at: bad[0].file, problems, signers, ...(timestamped.length ? { timestamps: timestamped } : {}), ...(multiple.length ? { signatures: multiple } : {}) },
      signers,
    };
  }
  const stamp = timestamped.length ? `; ${timestamped.length} timestamped (${[...new Set(results.map(({ r }) => r.timestamp?.time).filter(Boolean))].join(', ')})` : '';
  return {
    ok: true,
    message: `${spec.name}: ${files.join(', ')} signed by ${signers.join('; ')}${results.length > files.length ? ` (${results.length} signatures)` : ''}${stamp}`,
    ...(timestamped.length || multiple.length ? { diagnostics: { ...(timestamped.length ? { timestamps: timestamped } : {}), ...(multiple.length ? { signatures: multiple } : {}) } } : {}),
    signers,
  };
}

/** Why one signature is not ok, in the release manager's terms, with osslsigncode's own reason. */
function why(r: SignatureResult, signMode: SignMode, roots: SignatureRoots): string {
  const ts = r.timestamp;
  const stamp = !ts
    ? ' and no timestamp countersignature proves it was made while the certificate was valid'
    : ts.verified
      ? `; its timestamp (${ts.time}) verifies`
      : `; its timestamp (${ts.time}) does not verify: ${ts.error}${roots.tsaCaFile ? '' : ' (give the timestamp authority roots with --tsa-ca-file)'}`;
  switch (r.status) {
    case 'ok':
      return 'ok';
    case 'expired':
      return `signed by ${r.signer}, whose certificate has expired (osslsigncode: ${r.chainError})${stamp}`;
    case 'untrusted':
      return signMode === 'ProductionSign'
        ? `signed by ${r.signer}, which does not chain to the production roots${r.detail ? ` (${r.detail})` : ''}`
        : `signed by ${r.signer}, but the chain is not trusted${r.chainError ? `: ${r.chainError}` : ''}${roots.caFile ? '' : ' (give the test certificate with --ca-file)'}`;
    case 'tampered':
      return `modified after signing (${r.detail})`;
    case 'unsigned':
      return 'not signed';
    case 'malformed':
      return `signature block malformed: ${r.detail}`;
    case 'error':
      return `cannot be verified: ${r.detail}`;
  }
}

interface SignatureRoots {
  caFile?: string | undefined;
  tsaCaFile?: string | undefined;
}

/** Every signature of one file under the enforced mode: the certificate table's structure first
 * (PE files), then osslsigncode on each certificate entry (a table of several is split into one
 * copy per entry, since osslsigncode verifies only single-entry tables), each nested signature
 * judged on its own; ProductionSign never accepts a self-signed signer. */
async function judgeFile(file: string, signMode: SignMode, roots: SignatureRoots): Promise<SignatureResult[]> {
  const opts = { ...(roots.caFile ? { caFile: roots.caFile } : {}), ...(roots.tsaCaFile ? { tsaCaFile: roots.tsaCaFile } : {}) };
  const production = (r: SignatureResult): SignatureResult =>
    r.status === 'ok' && signMode === 'ProductionSign' && r.signer && r.signer === r.issuer ? { ...r, status: 'untrusted', detail: 'a self-signed certificate is a test certificate, never a production signature' } : r;
  if (/\.cat$/i.test(file)) return (await verifySignatures(file, opts)).map(production);
  const bytes = await readFile(file);
  const problems = certificateTableProblems(bytes);
  if (problems.length) return [{ status: 'malformed', detail: problems.join('; ') }];
  const entries = certificateEntries(bytes);
  if (entries.length <= 1) return (await verifySignatures(file, opts)).map(production);
  const dir = await mkdtemp(join(tmpdir(), 'winpv-sig-'));
  try {
    const results: SignatureResult[] = [];
    for (let i = 0; i < entries.length; i++) {
      const one = join(dir, `${i}-${basename(file)}`);
      await writeFile(one, imageWithOnlyEntry(bytes, i));
      results.push(...(await verifySignatures(one, opts)).map(production));
    }
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
