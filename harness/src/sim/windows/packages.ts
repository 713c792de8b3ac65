// Driver packages as the simulated Windows guest sees them: parsed INFs (real ones from a bundle
// directory/ISO/zip, or the `builtin:<version>` reference set rendered from the driver specs with
// the inf/ renderer), reduced to what PnP needs: the hardware IDs each INF's models section lists
// for amd64, the DriverVer version, and the service.
import { openBundle, readDriverInf, readPackageSet, renderInf, devicesFor, type DriverInf } from '../../inf';
import type { DriverName, SpecSet } from '../../model/spec';
import { inputError } from '../../model/errors';
import { normaliseVersion } from '../../model/version';

export interface InstalledPackage {
  driver: DriverName;
  version: string;
  /** Hardware IDs of the amd64 models section (upper-case, as PnP compares them). */
  hardwareIds: string[];
  service: string;
  inf: string;
  /** The vendor prefix the package was built with (VENDOR_PREFIX: XP, XN, XS), where known. */
  vendor?: string;
}

export const BUILTIN_PREFIX = 'builtin:';

/** The INF of a driver package reduced to what binding needs; throws a located error for a broken INF. */
function packageFromInf(inf: DriverInf, driver: DriverName): InstalledPackage {
  const version = inf.version.driverVer?.value.version;
  const errors = inf.problems.filter((p) => !/warning/i.test(p.rule ?? ''));
  if (!version) throw inputError('INF_NO_DRIVERVER', `${inf.file}: no DriverVer`, errors, { file: inf.file });
  const devices = devicesFor(inf, 'x64');
  return {
    driver,
    version,
    hardwareIds: [...new Set(devices.map((d) => d.hardwareId.toUpperCase()))],
    service: inf.services[0]?.name ?? driver,
    inf: inf.file,
  };
}

/** Renders and parses the reference package of each driver at `version`, read as every driver
 *  version is (model/version.ts: up to four parts, each at most 65535; 9.1.0 is 9.1.0.0), so the
 *  simulator accepts and refuses exactly the `builtin:` versions a real host's agent does. */
export function builtinPackages(specs: SpecSet, drivers: readonly DriverName[], version: string, opts: { revisions?: Partial<Record<DriverName, string[]>>; vendorPrefix?: string } = {}): InstalledPackage[] {
  const v = normaliseVersion(version);
  if (!v) throw inputError('BUNDLE_VERSION', `builtin bundle version '${version}' is not a driver version (up to four parts, each at most 65535, e.g. 9.1.0.42)`);
  return drivers.map((name) => {
    const spec = specs.get(name);
    if (!spec) throw inputError('SPEC_MISSING', `no driver spec for ${name}`);
    if (opts.vendorPrefix && !spec.identity.vendorPrefixes.some((p) => p.prefix === opts.vendorPrefix)) {
      throw inputError('BUNDLE_VENDOR', `builtin bundle vendor '${opts.vendorPrefix}' is not a vendor prefix of ${name} (${spec.identity.vendorPrefixes.map((p) => p.prefix).join(', ')})`);
    }
    const text = renderInf(spec, { version: v, vendorPrefix: opts.vendorPrefix ?? spec.identity.vendorPrefixes[0]?.prefix ?? 'XP', revisions: opts.revisions?.[name], archs: ['x64'] });
    return { ...packageFromInf(readDriverInf(text, spec.identity.inf), name), vendor: opts.vendorPrefix ?? spec.identity.vendorPrefixes[0]?.prefix ?? 'XP' };
  });
}

/** Reads the packages of a bundle (directory, ISO or zip): every INF whose name is a known driver's INF. */
export async function bundlePackages(location: string, specs: SpecSet, drivers: readonly DriverName[]): Promise<InstalledPackage[]> {
  const b = await openBundle(location);
  try {
    const infs = await readPackageSet(b.dir);
    const out: InstalledPackage[] = [];
    for (const name of drivers) {
      const spec = specs.get(name);
      const want = (spec?.identity.inf ?? `${name}.inf`).toLowerCase();
      const found = infs.filter((p) => p.path.toLowerCase().endsWith('/' + want) || p.path.toLowerCase() === want);
      const pick = found.find((p) => /x64|amd64/i.test(p.dir)) ?? found[0];
      if (!pick) throw inputError('BUNDLE_DRIVER_MISSING', `${location}: no ${want} in the bundle`, [], { file: location });
      out.push(packageFromInf(pick.inf, name));
    }
    return out;
  } finally {
    await b.cleanup();
  }
}
