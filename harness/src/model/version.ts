// Driver versions as Windows has them: four 16-bit parts w.x.y.z (DriverVer, the version resource,
// what Win32_PnPSignedDriver.DriverVersion reports). Windows packs them into one 64-bit number and
// ranks drivers by it, so a shorter spelling is the same version with zeros after it: 9.1.0 is
// 9.1.0.0. Every place that reads or compares a driver version (builtin:<version>, bundle
// manifests, what a guest reports, package verification) goes through this one type.

export type DriverVersion = readonly [number, number, number, number];

/** `w[.x[.y[.z]]]`, each part decimal and at most 65535; undefined when it is not one. */
export function parseVersion(text: string): DriverVersion | undefined {
  const parts = text.trim().split('.');
  if (parts.length < 1 || parts.length > 4 || parts.some((p) => !/^\d{1,5}$/.test(p))) return undefined;
  const nums = parts.map(Number);
  if (nums.some((n) => n > 0xffff)) return undefined;
  while (nums.length < 4) nums.push(0);
  return nums as unknown as DriverVersion;
}

/** Four parts, no leading zeros (`9.1.0.0`). */
const formatVersion = (v: DriverVersion): string => v.join('.');

/** The four-part spelling of a version text, or undefined when it is no version. */
export function normaliseVersion(text: string): string | undefined {
  const v = parseVersion(text);
  return v ? formatVersion(v) : undefined;
}

/** Orders versions the way Windows ranks them (part by part); texts that are no version sort first. */
export function compareVersions(a: string | DriverVersion, b: string | DriverVersion): number {
  const va = typeof a === 'string' ? parseVersion(a) : a;
  const vb = typeof b === 'string' ? parseVersion(b) : b;
  if (!va || !vb) return (va ? 1 : 0) - (vb ? 1 : 0);
  for (let i = 0; i < 4; i++) if (va[i] !== vb[i]) return va[i]! - vb[i]!;
  return 0;
}

/** Same version whatever the spelling (9.1.0 = 9.1.0.0 = 9.01.0.0); texts that are no version are equal only to themselves. */
export function sameVersion(a: string, b: string): boolean {
  const va = parseVersion(a);
  const vb = parseVersion(b);
  return va && vb ? compareVersions(va, vb) === 0 : a === b;
}
