// Where each driver's files are inside a local bundle. A bundle with a manifest.json (`winpv build`,
// `winpv package bundle`) says it: each driver's package directory and INF (`xenbus/x64/xenbus.inf`)
// and the list of every file. A bundle without one has a flat `<bundle>/<driver>/` folder per driver.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DriverName } from '../../model/spec';
import type { BundleManifest } from '../../model/bundle';
import { inputError } from '../../model/errors';
import { readManifest } from '../../inf/bundle';
import { decorationPlatform, readDriverInf } from '../../inf/driver-inf';
import type { BundleTraits } from './signing';
import { ARCH_NAMES, WINPV_BUNDLE } from '../../inf/layouts';

export interface BundleLayout {
  /** Each driver's INF, relative to the bundle root, forward slashes. */
  infs: Map<DriverName, string>;
  /** The files a guest needs for these drivers (relative, forward slashes). */
  files: string[];
  /** Architecture, signing and test certificates: what decides whether the drivers can load in a guest. */
  traits: BundleTraits;
  /** The set's version, when a manifest says it. */
  version?: string;
}


export async function bundleLayout(dir: string, drivers: readonly DriverName[]): Promise<BundleLayout> {
  const manifest = await readManifest(dir);
  return manifest ? layoutFromManifest(join(dir, WINPV_BUNDLE.manifest), manifest, drivers, (inf) => infArch(join(dir, ...inf.split('/')))) : flatLayout(dir, drivers);
}

/** The layout a manifest describes, wherever the bundle is (a local directory, a disc in the guest):
 *  `where` names the manifest in errors; `infArchOf` reads an INF's architecture when it can. */
export function layoutFromManifest(where: string, m: BundleManifest, drivers: readonly DriverName[], infArchOf: (inf: string) => string | undefined = () => undefined): BundleLayout {
  const infs = new Map<DriverName, string>();
  const files = new Set<string>();
  for (const drv of drivers) {
    const i = m.drivers.findIndex((d) => d.name.toLowerCase() === drv);
    const d = m.drivers[i];
    if (!d) throw inputError('BUNDLE_DRIVER_MISSING', `the bundle's manifest lists no ${drv}`, [], { file: where });
    const pkg = d.dir.replace(/\/+$/, '');
    if (!m.files.some((f) => f.path === d.inf)) {
      throw inputError('BUNDLE_NO_INF', `the manifest's INF of ${drv} (${d.inf}) is not among its files`, [], { file: where, path: `$.drivers[${i}].inf` });
    }
    for (const f of [d.inf, ...m.files.map((x) => x.path)]) {
      // the paths become Windows paths below the staging folder or the disc's root
      if (!f.split('/').every((seg) => /^[^:\\*?"<>|]+$/.test(seg))) {
        throw inputError('BUNDLE_PATH', `the manifest names '${f}', which is no relative Windows path`, [], { file: where });
      }
    }
    infs.set(drv, d.inf);
    // the driver's package directory: its INF, .sys, .cat and whatever else the INF copies
    for (const f of m.files) if (pkg === '' || f.path.startsWith(`${pkg}/`)) files.add(f.path);
  }
  // the test certificate travels with the drivers: `.cer` files at the root or in a package folder
  // (win-pv's packages carry `<driver>.cer` beside the catalog)
  for (const f of m.files) if (!f.path.includes('/') && WINPV_BUNDLE.isTestCert(f.path)) files.add(f.path);
  const testCerts = [...files].filter((f) => WINPV_BUNDLE.isTestCert(f)).sort();
  const archs = new Map<string, string>();
  for (const drv of drivers) {
    const d = m.drivers.find((x) => x.name.toLowerCase() === drv)!;
    // the manifest's arch; else the package folder (`xenbus/x86`); else the INF's decorations
    const a = m.arch ?? WINPV_BUNDLE.folderArch(d.dir) ?? infArchOf(d.inf);
    if (a) archs.set(drv, a);
  }
  // `winpv package bundle` of a set without a build manifest records only 'signed' or 'unknown':
  // a test certificate in the packages then says it is a test-signed set
  const signMode = m.signMode === 'unknown' || m.signMode === 'signed' ? (testCerts.length ? 'TestSign' : undefined) : m.signMode;
  return { infs, files: [...files].sort(), version: m.version, traits: { where, archs, ...(signMode ? { signMode } : {}), testCerts } };
}

/** The one architecture an INF's [Manufacturer] decorations name (NTamd64, NTx86, NTarm64), if they name one. */
function infArch(path: string): string | undefined {
  let platforms: Set<string>;
  try {
    const inf = readDriverInf(readFileSync(path), path);
    platforms = new Set(inf.manufacturers.flatMap((m) => m.decorations.map((d) => decorationPlatform(d) ?? '')));
  } catch {
    return undefined;
  }
  const named = [...platforms].filter((p) => p !== '');
  if (named.length !== 1 || platforms.has('')) return undefined;
  return ARCH_NAMES[named[0]!] ?? named[0];
}

function flatLayout(dir: string, drivers: readonly DriverName[]): BundleLayout {
  const infs = new Map<DriverName, string>();
  const files: string[] = [];
  const archs = new Map<string, string>();
  for (const drv of drivers) {
    const sub = join(dir, drv);
    let names: string[];
    try {
      names = readdirSync(sub).filter((n) => statSync(join(sub, n)).isFile());
    } catch {
      throw inputError('BUNDLE_DRIVER_MISSING', `the bundle has no folder for ${drv} (and no manifest.json saying where it is)`, [], { file: sub });
    }
    const inf = names.find((n) => `${drv}/${n}`.toLowerCase() === WINPV_BUNDLE.flatInf(drv)) ?? names.find((n) => n.toLowerCase().endsWith('.inf'));
    if (!inf) throw inputError('BUNDLE_NO_INF', `the bundle's ${drv} folder has no .inf`, [], { file: sub });
    for (const n of names) files.push(`${drv}/${n}`);
    infs.set(drv, `${drv}/${inf}`);
    const a = infArch(join(sub, inf));
    if (a) archs.set(drv, a);
  }
  const atRoot = readdirSync(dir).filter((n) => WINPV_BUNDLE.isTestCert(n) && statSync(join(dir, n)).isFile());
  files.push(...atRoot);
  const testCerts = [...atRoot, ...files.filter((f) => f.includes('/') && WINPV_BUNDLE.isTestCert(f))];
  // without a manifest the signing is not said: a test-signed flat bundle says so with its .cer
  return { infs, files, traits: { where: dir, archs, ...(testCerts.length ? { signMode: 'TestSign' } : {}), testCerts } };
}
