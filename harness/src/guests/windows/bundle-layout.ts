// Where each driver's files are inside a local bundle. A bundle with a manifest.json (`winpv build`,
// `winpv package bundle`) says it: each driver's package directory and INF (`xenbus/x64/xenbus.inf`)
// and the list of every file. A bundle without one has a flat `<bundle>/<driver>/` folder per driver.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DriverName } from '../../model/spec';
import { inputError } from '../../model/errors';
import { readManifest } from '../../inf/bundle';

export interface BundleLayout {
  /** Each driver's INF, relative to the bundle root, forward slashes. */
  infs: Map<DriverName, string>;
  /** The files a guest needs for these drivers (relative, forward slashes). */
  files: string[];
}

export async function bundleLayout(dir: string, drivers: readonly DriverName[]): Promise<BundleLayout> {
  const manifest = await readManifest(dir);
  return manifest ? fromManifest(dir, manifest, drivers) : flatLayout(dir, drivers);
}

function fromManifest(dir: string, m: NonNullable<Awaited<ReturnType<typeof readManifest>>>, drivers: readonly DriverName[]): BundleLayout {
  const infs = new Map<DriverName, string>();
  const files = new Set<string>();
  for (const drv of drivers) {
    const i = m.drivers.findIndex((d) => d.name.toLowerCase() === drv);
    const d = m.drivers[i];
    if (!d) throw inputError('BUNDLE_DRIVER_MISSING', `the bundle's manifest lists no ${drv}`, [], { file: join(dir, 'manifest.json') });
    const pkg = d.dir.replace(/\/+$/, '');
    if (!m.files.some((f) => f.path === d.inf)) {
      throw inputError('BUNDLE_NO_INF', `the manifest's INF of ${drv} (${d.inf}) is not among its files`, [], { file: join(dir, 'manifest.json'), path: `$.drivers[${i}].inf` });
    }
    for (const f of [d.inf, ...m.files.map((x) => x.path)]) {
      // the paths become Windows paths below the staging folder or the disc's root
      if (!f.split('/').every((seg) => /^[^:\\*?"<>|]+$/.test(seg))) {
        throw inputError('BUNDLE_PATH', `the manifest names '${f}', which is no relative Windows path`, [], { file: join(dir, 'manifest.json') });
      }
    }
    infs.set(drv, d.inf);
    // the driver's package directory: its INF, .sys, .cat and whatever else the INF copies
    for (const f of m.files) if (pkg === '' || f.path.startsWith(`${pkg}/`)) files.add(f.path);
  }
  return { infs, files: [...files].sort() };
}

function flatLayout(dir: string, drivers: readonly DriverName[]): BundleLayout {
  const infs = new Map<DriverName, string>();
  const files: string[] = [];
  for (const drv of drivers) {
    const sub = join(dir, drv);
    let names: string[];
    try {
      names = readdirSync(sub).filter((n) => statSync(join(sub, n)).isFile());
    } catch {
      throw inputError('BUNDLE_DRIVER_MISSING', `the bundle has no folder for ${drv} (and no manifest.json saying where it is)`, [], { file: sub });
    }
    const inf = names.find((n) => n.toLowerCase() === `${drv}.inf`) ?? names.find((n) => n.toLowerCase().endsWith('.inf'));
    if (!inf) throw inputError('BUNDLE_NO_INF', `the bundle's ${drv} folder has no .inf`, [], { file: sub });
    for (const n of names) files.push(`${drv}/${n}`);
    infs.set(drv, `${drv}/${inf}`);
  }
  return { infs, files };
}
