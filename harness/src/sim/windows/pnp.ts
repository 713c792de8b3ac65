// Plug and Play of the simulated Windows guest: the hardware IDs of the devices the bus drivers
// enumerate, and binding a device to the first installed package that lists one of its IDs (or
// recording why none did, as Device Manager shows an unknown device).
import type { BoundDriver, DriverStatus } from '../../model/host';
import type { DriverName, DriverSpec, SpecSet } from '../../model/spec';
import type { InstalledPackage } from './packages';

/** The driver of each xenbus child class (XENBUS\VEN_..&DEV_<class>). */
export const CLASS_DRIVER: Record<string, DriverName> = { VBD: 'xenvbd', VIF: 'xenvif', IFACE: 'xeniface' };

/** What binding reads: the packages installed, their specs, and whether the revision-mismatch fault is on. */
export interface PnpView {
  installed: ReadonlyMap<DriverName, InstalledPackage>;
  specs: SpecSet;
  revisionMismatch: boolean;
}

/** The revisions a bound bus driver advertises for a child class, newest first, as the child's hardware
 *  IDs: `<XENBUS|XENVIF>\VEN_<prefix><platform device>&DEV_<class>&REV_<revision>`. */
export function childHwids(bus: DriverSpec, klass: string, prefix: string, platformDevice: string): string[] {
  const enumerator = bus.name === 'xenbus' ? 'XENBUS' : 'XENVIF';
  return [...bus.revisions].reverse().map((r) => `${enumerator}\\VEN_${prefix}${platformDevice}&DEV_${klass}&REV_${r.id}`.toUpperCase());
}

/** PnP: the first installed package of `candidates` listing one of the device's hardware IDs binds to
 *  it; when none does, the device is added to `unbound` with the reason (`why` picks the IDs to name). */
export function bindDevice(v: PnpView, hwids: string[], candidates: DriverName[], why: string, unbound: DriverStatus['unbound']): BoundDriver | undefined {
  for (const name of candidates) {
    const pkg = v.installed.get(name);
    if (!pkg) continue;
    let ids = pkg.hardwareIds;
    if (v.revisionMismatch && v.specs.get(name)?.parent) {
      // The child was built against a revision its parent no longer advertises.
      ids = ids.map((h) => h.replace(/REV_[0-9A-F]{8}$/i, 'REV_0900FFFF'));
    }
    const hit = hwids.find((h) => ids.includes(h.toUpperCase()));
    if (hit) return { driver: name, version: pkg.version, hardwareId: hit, service: pkg.service };
  }
  const wanted = candidates.filter((c) => v.installed.has(c));
  unbound.push({
    hardwareId: hwids[0],
    reason: wanted.length
      ? `no installed driver matches (${wanted.map((w) => `${w} ${v.installed.get(w)!.version} binds ${v.installed.get(w)!.hardwareIds.filter((h) => h.includes(why)).join(' ') || 'other IDs'}`).join('; ')})`
      : 'no driver installed for this device',
  });
  return undefined;
}
