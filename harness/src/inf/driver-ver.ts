// DriverVer = mm/dd/yyyy,w.x.y.z: the date and four-part version Windows ranks drivers by.
// Both halves are validated: a calendar date (month 1-12, day within the month, four-digit
// year) and four decimal parts that each fit in 16 bits (Windows packs the version in a u64).

export interface DriverVer {
  /** ISO date, yyyy-mm-dd. */
  date: string;
  /** w.x.y.z, normalised (no leading zeros). */
  version: string;
  parts: [number, number, number, number];
}

export type DriverVerResult = { ok: true; value: DriverVer } | { ok: false; message: string };

const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

export function parseDriverVer(text: string): DriverVerResult {
  const m = /^\s*(\d{1,2})\/(\d{1,2})\/(\d{4})\s*(?:,\s*(\S*)\s*)?$/.exec(text);
  if (!m) return { ok: false, message: `DriverVer '${text}' is not mm/dd/yyyy,w.x.y.z` };
  const [month, day, year] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12) return { ok: false, message: `DriverVer '${text}': month ${month} is not 1..12` };
  if (day < 1 || day > daysIn(year, month)) return { ok: false, message: `DriverVer '${text}': ${year}-${m[1]} has no day ${day}` };
  if (m[4] === undefined || m[4] === '') return { ok: false, message: `DriverVer '${text}' has a date but no version` };
  const version = parseFourPartVersion(m[4]);
  if (!version.ok) return { ok: false, message: `DriverVer '${text}': ${version.message}` };
  const mm = String(month).padStart(2, '0');
  const dd = String(day).padStart(2, '0');
  return { ok: true, value: { date: `${year}-${mm}-${dd}`, version: version.parts.join('.'), parts: version.parts } };
}

export function parseFourPartVersion(
  text: string,
): { ok: true; parts: [number, number, number, number] } | { ok: false; message: string } {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,5}$/.test(p))) {
    return { ok: false, message: `version '${text}' is not four decimal parts w.x.y.z` };
  }
  const nums = parts.map(Number) as [number, number, number, number];
  const big = nums.find((n) => n > 0xffff);
  if (big !== undefined) return { ok: false, message: `version '${text}': part ${big} exceeds 65535` };
  return { ok: true, parts: nums };
}

/** Formats a date and version as a DriverVer value. */
export function formatDriverVer(date: Date, version: string): string {
  const mm = String(date.getUTCMonth() + 1).padStart(2, '0');
  const dd = String(date.getUTCDate()).padStart(2, '0');
  return `${mm}/${dd}/${date.getUTCFullYear()},${version}`;
}
