// Judging a hardware ID an INF lists against the driver spec's templates and the vendor's ranges.
// Windows compares hardware IDs case-insensitively; so do we.
import type { DriverSpec, VendorPrefix } from '../model/spec';

/** drivers-spec adds `deviceId` (the vendor's own platform device id) to VendorPrefix. */
type Vendor = VendorPrefix & { deviceId?: number };

export interface HardwareIdMatch {
  template: string;
  prefix?: string;
  device?: number;
  rev?: string;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function templateRegex(template: string, prefixes: readonly string[]): RegExp {
  const alternation = prefixes.map(escape).join('|') || '(?!)';
  const shapes: Record<string, string> = { prefix: alternation, device: '[0-9A-F]{4}', rev: '[0-9A-F]{8}' };
  const seen = new Set<string>();
  const body = template
    .split(/<(prefix|device|rev)>/)
    .map((part, i) => {
      if (i % 2 === 0) return escape(part);
      // A placeholder used twice (DEV_<device>&SUBSYS_<device>5853) must be the same value both times.
      if (seen.has(part)) return `\\k<${part}>`;
      seen.add(part);
      return `(?<${part}>${shapes[part]})`;
    })
    .join('');
  return new RegExp(`^${body}$`, 'i');
}

/** The spec template an ID instantiates (with the parts it filled in), or undefined. */
export function matchHardwareId(spec: DriverSpec, id: string): HardwareIdMatch | undefined {
  const prefixes = spec.identity.vendorPrefixes.map((v) => v.prefix);
  for (const template of spec.identity.hardwareIds) {
    const m = templateRegex(template, prefixes).exec(id);
    if (!m) continue;
    const g = m.groups ?? {};
    return {
      template,
      ...(g.prefix ? { prefix: spec.identity.vendorPrefixes.find((v) => v.prefix.toLowerCase() === g.prefix.toLowerCase())!.prefix } : {}),
      ...(g.device ? { device: parseInt(g.device, 16) } : {}),
      ...(g.rev ? { rev: g.rev.toUpperCase() } : {}),
    };
  }
  return undefined;
}

const hex4 = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');

/**
 * Why an ID is outside the vendor's range, or undefined when it is fine: the prefix must be the
 * set's vendor's, and a platform device id must be 0001/0002 (Xen's and XenServer's legacy ids,
 * listed in the spec's PCI ranges) or inside the vendor's own device range.
 */
export function vendorProblem(spec: DriverSpec, match: HardwareIdMatch, vendorPrefix: string | undefined): string | undefined {
  const vendors = spec.identity.vendorPrefixes as Vendor[];
  if (match.prefix && vendorPrefix && match.prefix.toLowerCase() !== vendorPrefix.toLowerCase()) {
    return `vendor prefix ${match.prefix} is not the set's vendor ${vendorPrefix}`;
  }
  if (match.device === undefined) return undefined;
  // Shared ids: Xen's 0001, XenServer's legacy 0002, and any spec PCI id outside every vendor range.
  const inSomeRange = (id: number) => vendors.some((v) => v.deviceRange && id >= v.deviceRange[0] && id <= v.deviceRange[1]);
  const shared = new Set([0x0001, 0x0002, ...(spec.identity.pci ?? []).flatMap((p) => p.deviceIds).filter((id) => !inSomeRange(id))]);
  if (shared.has(match.device)) return undefined;
  const vendor = vendors.find((v) => v.prefix.toLowerCase() === (match.prefix ?? vendorPrefix ?? '').toLowerCase());
  const candidates = vendor ? [vendor] : vendors;
  for (const v of candidates) {
    if (v.deviceId === match.device) return undefined;
    if (v.deviceRange && match.device >= v.deviceRange[0] && match.device <= v.deviceRange[1]) return undefined;
  }
  const ranges = candidates
    .filter((v) => v.deviceRange)
    .map((v) => `${v.vendor} ${hex4(v.deviceRange![0])}-${hex4(v.deviceRange![1])}`)
    .join(', ');
  return `platform device id ${hex4(match.device)} is outside ${vendor ? `${vendor.vendor}'s range` : 'every vendor range'} (${ranges || 'none declared'}; shared ids 0001, 0002)`;
}
