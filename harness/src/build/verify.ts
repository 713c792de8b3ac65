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
//  - signature    .sys and .cat Authenticode signatures verify (osslsigncode), signer reported
// What cannot be verified here: the revisions compiled into xenbus.sys (revision.h) are taken from
// the spec, not read from the binary; catalog OS attributes; the chain to Microsoft's
// cross-signing roots (only the CAs given with --ca-file or the system bundle); timestamps.
import { readFile, stat } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { inputError, type Problem, type SourceLocation } from '../model/errors';
import type { DriverName, DriverSpec, SpecSet } from '../model/spec';
import type { BundleManifest } from '../model/bundle';
import { catalogFor, checkManifestFiles, devicesFor, listFiles, readManifest, readPackageSet, type Arch, type DriverInf, type PackageInf } from '../inf/index';
import { catalogDigest, type DigestAlgorithm } from './authenticode';
import { CatalogFormatError, parseCatalog } from './catalog';
import { matchHardwareId, vendorProblem } from './hardware-ids';
import { verifySignature, type SignatureResult } from './signature';
import { at } from './tap';

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
  /** TestSign, ProductionSign, or Off/NoSign (signatures not expected); default the manifest's, else signed. */
  signMode?: string;
  /** Trusted roots for signature chains (the TestSign certificate). */
  caFile?: string;
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

const archOfDir = (dir: string, fallback: Arch): Arch => {
  const parts = dir.toLowerCase().split('/');
  if (parts.includes('x64') || parts.includes('amd64')) return 'x64';
  if (parts.includes('x86') || parts.includes('i386')) return 'x86';
  return fallback;
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

export async function verifyPackageSet(root: string, opts: VerifyOptions): Promise<VerifyReport> {
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
  const signMode = opts.signMode ?? manifest?.signMode;
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
  }

  for (const { pkg, spec } of known) {
    const arch = archOfDir(pkg.dir, opts.arch ?? manifest?.arch ?? 'x64');
    const ctx: PackageContext = { root, pkg, spec, arch, set: known, version, vendorPrefix, signMode, caFile: opts.caFile, specs: opts.specs };
    const subject = pkg.dir || spec.name;
    packages.push({ driver: spec.name, dir: pkg.dir, inf: pkg.path, arch, ...(pkg.inf.version.driverVer ? { version: pkg.inf.version.driverVer.value.version } : {}) });
    for (const check of CHECKS) {
      const r = await check.run(ctx);
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
  signMode?: string;
  caFile?: string;
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
      if (!version || dv.value.version === version) return pass(`${spec.name}: version ${dv.value.version} matches the set`);
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

function checkHardwareIds({ pkg, spec, arch, vendorPrefix }: PackageContext): CheckOutcome {
  const devices = devicesFor(pkg.inf, arch);
  if (devices.length === 0) return fail(`${spec.name}: no device is listed for ${arch}`, { at: locText(pkg.inf.manufacturers[0]?.loc ?? pkg.inf.version.loc) });
  const bad: string[] = [];
  for (const d of devices) {
    const m = matchHardwareId(spec, d.hardwareId);
    if (!m) {
      bad.push(`${locText(d.loc)}: ${d.hardwareId} matches none of the spec's IDs (${spec.identity.hardwareIds.join(', ')})`);
      continue;
    }
    const why = vendorProblem(spec, m, vendorPrefix);
    if (why) bad.push(`${locText(d.loc)}: ${d.hardwareId}: ${why}`);
  }
  if (bad.length) return fail(`${spec.name}: ${bad.length} hardware ID(s) outside the spec or the vendor's range`, { at: bad[0].split(': ')[0], problems: bad });
  return pass(`${spec.name}: ${devices.length} hardware ID(s) for ${arch} match the spec${vendorPrefix ? ` for vendor ${vendorPrefix}` : ''}`);
}

function checkRevisions({ pkg, spec, arch, set, specs }: PackageContext): CheckOutcome {
  if (!spec.parent) return { ok: true, skip: `${spec.name} is a bus driver (binds no parent revision)`, message: `${spec.name}: not applicable` };
  const parentSpec = specs.get(spec.parent);
  const parentInSet = set.find((k) => k.spec.name === spec.parent);
  const advertised = new Set((parentSpec?.revisions ?? []).map((r) => r.id.toUpperCase()));
  const allowed = new Set(spec.bindsRevisions.map((r) => r.toUpperCase()));
  const bad: string[] = [];
  const seen = new Set<string>();
  for (const d of devicesFor(pkg.inf, arch)) {
    const rev = matchHardwareId(spec, d.hardwareId)?.rev;
    if (!rev) continue;
    seen.add(rev);
    if (!advertised.has(rev)) bad.push(`${locText(d.loc)}: binds ${spec.parent} revision ${rev}, which ${spec.parent} does not advertise (${[...advertised].join(', ') || 'none'})`);
    else if (!allowed.has(rev)) bad.push(`${locText(d.loc)}: binds revision ${rev}, but drivers-spec/${spec.name} binds ${[...allowed].join(', ')}`);
  }
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
    const found = algorithms.some((alg) => listed.has(catalogDigest(bytes, alg).digest.toString('hex').toUpperCase()));
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

async function checkSignatures({ root, pkg, spec, signMode, caFile }: PackageContext): Promise<CheckOutcome> {
  if (signMode === 'NoSign' || signMode === 'Off') return { ok: true, skip: `sign mode ${signMode}`, message: `${spec.name}: signatures not expected` };
  const files = [...(await packageFiles(root, pkg.dir)).values()].filter((f) => /\.(sys|cat)$/i.test(f)).sort();
  if (files.length === 0) return { ok: false, skip: 'no .sys or .cat files (see the files check)', message: `${spec.name}: signatures` };
  const results: [string, SignatureResult][] = [];
  for (const f of files) results.push([f, await verifySignature(join(root, pkg.dir, f), caFile ? { caFile } : {})]);
  const signers = [...new Set(results.map(([, r]) => r.signer).filter((s): s is string => !!s))];
  const bad = results.filter(([, r]) => r.status !== 'ok');
  const describe = ([f, r]: [string, SignatureResult]) => {
    const path = posix.join(pkg.dir, f);
    const why = {
      ok: 'ok',
      untrusted: `signed by ${r.signer}, but the chain is not trusted${caFile ? '' : ' (give the test certificate with --ca-file)'}`,
      tampered: `modified after signing (${r.detail})`,
      unsigned: 'not signed',
      error: `cannot be verified: ${r.detail}`,
    }[r.status];
    return `${path}: ${why}`;
  };
  if (bad.length) return { ok: false, message: `${spec.name}: ${bad.length} of ${files.length} signature(s) fail`, diagnostics: { at: posix.join(pkg.dir, bad[0][0]), problems: bad.map(describe), signers }, signers };
  return { ok: true, message: `${spec.name}: ${files.join(', ')} signed by ${signers.join('; ')}`, signers };
}
