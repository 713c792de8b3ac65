// Where the Windows agent's driver bundle comes from: the pool's ISO a bundle names, a bundle disc's
// manifest read in the guest, the companion drivers a bundle carries, and the guest paths made from it.
import type { DriverBundle } from '../../model/host';
import type { DriverName } from '../../model/spec';
import type { BundleManifest } from '../../model/bundle';
import { inputError } from '../../model/errors';
import { parseVersion } from '../../model/version';
import type { SshConnection } from '../../remote/ssh';
import { validateManifest } from '../../inf/bundle';
import { WINPV_BUNDLE } from '../../inf/layouts';
import { runPs, runPsJson } from './powershell';
import { bundleLayout, layoutFromManifest, type BundleLayout } from './bundle-layout';

/** The layout of the bundle disc at `root` from its manifest.json (the one `winpv package bundle`
 *  writes), read in the guest; undefined for a disc without one. */
export async function discLayout(ssh: SshConnection, where: string, root: string, drivers: readonly DriverName[]): Promise<BundleLayout | undefined> {
  const r = await runPs(ssh, 'disc-manifest', { path: `${root}\\manifest.json` }, `if (Test-Path -LiteralPath $p.path) { Get-Content -Raw -Encoding UTF8 -LiteralPath $p.path } else { 'null' }`);
  let data: unknown;
  try {
    data = JSON.parse(r.stdout.replace(/^\uFEFF/, ''));
  } catch {
    throw inputError('BUNDLE_MANIFEST', 'the disc\'s manifest.json is not JSON', [], { file: where });
  }
  if (data === null) return undefined;
  const problems = validateManifest(data, where);
  if (problems.length) throw inputError('BUNDLE_MANIFEST', `invalid manifest (${problems.length} problem(s))`, problems, { file: where });
  return layoutFromManifest(where, data as BundleManifest, drivers);
}

/** Which of these drivers a local bundle carries (its manifest lists them, or their folder is there). */
export async function carriedBy(dir: string, drivers: readonly DriverName[]): Promise<DriverName[]> {
  const out: DriverName[] = [];
  for (const d of drivers) if (await bundleLayout(dir, [d]).then(() => true, () => false)) out.push(d);
  return out;
}

/** Which of these drivers a bundle disc carries: its manifest lists them (`withManifest` reads the
 *  layout with one more driver), or, without a manifest, their INF is there. */
export async function discCarries(ssh: SshConnection, root: string, drivers: readonly DriverName[], withManifest?: (d: DriverName) => Promise<unknown>): Promise<DriverName[]> {
  if (withManifest) {
    const out: DriverName[] = [];
    for (const d of drivers) if (await withManifest(d).then(() => true, () => false)) out.push(d);
    return out;
  }
  const paths = drivers.map((d) => `${root}\\${winPath(WINPV_BUNDLE.flatInf(d))}`);
  const there = await runPsJson<boolean[]>(ssh, 'disc-has', { paths }, `ConvertTo-Json -Compress -InputObject @(foreach ($f in $p.paths) { Test-Path -LiteralPath $f })`);
  return drivers.filter((_, i) => there[i] === true);
}

/** `builtin:<version>` on a real host means the pool's bundle ISO `winpv-<version>.iso`; `iso:<name>` names one. */
export function isoName(b: DriverBundle): string | undefined {
  if (b.location.startsWith('iso:')) return b.location.slice(4);
  const m = /^builtin:(.*)$/.exec(b.location);
  if (!m) return undefined;
  if (!/^\d+(\.\d+){1,3}$/.test(m[1]!) || !parseVersion(m[1]!)) throw inputError('BUNDLE_VERSION', `'${b.location}': builtin bundles are builtin:<version> with two to four parts, e.g. builtin:9.1.0.42`);
  return `winpv-${m[1]}.iso`;
}

export const winPath = (rel: string) => rel.split('/').join('\\');

export function safeSegment(s: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(s)) throw inputError('BUNDLE_VERSION', `bundle version '${s}' is not a safe folder name`);
  return s;
}
