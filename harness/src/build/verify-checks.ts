// The checks `winpv package verify` runs on each driver package, in order (verify.ts says what each
// verifies); the signature check is verify-signatures.ts.
import { readFile } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import type { SourceLocation } from '../model/errors';
import { catalogFor, devicesFor, type Arch, type PackageInf } from '../inf/index';
import { catalogDigest, PeFormatError, type DigestAlgorithm } from './authenticode';
import { CatalogFormatError, parseCatalog } from './catalog';
import { matchHardwareId, vendorProblem } from './hardware-ids';
import { sameVersion } from '../model/version';
import { fail, locText, packageFiles, pass, problemsDiag, type CheckOutcome, type PackageCheck, type PackageContext } from './verify-context';
import { checkSignatures } from './verify-signatures';

/** A check that throws (a reader bug, a file vanished) is that check's `not ok` for this package,
 * naming the package and the error; the rest of the set is still judged. */
export async function runCheck(check: PackageCheck, ctx: PackageContext): Promise<CheckOutcome> {
  try {
    return await check.run(ctx);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return fail(`${ctx.spec.name}: ${check.name} could not be judged for ${ctx.pkg.path}: ${why}`, { file: ctx.pkg.path, error: why });
  }
}


export const CHECKS: PackageCheck[] = [
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
