// Lint rules on a spec's identity (the package it names): package-files, hardware-id, vendor-scope
// and vendor-range (the platform device's PCI ids and the vendor blocks of the facts).
import type { XmlElement } from '../xml/index';
import type { SpecDocument } from './document';
import type { Collector } from './lint-collector';

/** Vendor blocks of the platform device's PCI device ids (reference facts: Windows PV drivers). */
export const VENDOR_DEVICE_BLOCKS: readonly { range: [number, number]; vendor: string }[] = [
  { range: [0xc000, 0xc0ff], vendor: 'XenServer' },
  { range: [0xc100, 0xc1ff], vendor: 'XenClient' },
  { range: [0xc200, 0xc2ff], vendor: 'XCP-ng' },
];
/** PCI vendor id of the Xen platform device ('XS'). */
export const XEN_PCI_VENDOR = 0x5853;

const blocks = () => VENDOR_DEVICE_BLOCKS.map((b) => `${b.range[0].toString(16).toUpperCase()}-${b.range[1].toString(16).toUpperCase()} ${b.vendor}`).join(', ');

export function lintIdentity(doc: SpecDocument, c: Collector, isRoot: boolean): void {
  const id = doc.root.child('identity');
  if (!id) return;
  lintPackageFiles(id, c);
  lintHardwareIds(doc, id, c, isRoot);
  const vendors = id.childrenNamed('vendor');
  const pcis = id.childrenNamed('pci');
  if (!isRoot) {
    for (const v of vendors) c.add(v.at(), 'vendor-scope', 'vendor prefixes are declared on the root bus driver only (children inherit them)');
    for (const p of pcis) c.add(p.at(), 'vendor-scope', 'PCI ids are declared on the root bus driver only');
    return;
  }
  const prefixes = new Set<string>();
  for (const v of vendors) {
    const p = v.attr('prefix') ?? '';
    if (prefixes.has(p)) c.add(v.attrLoc('prefix'), 'vendor-scope', `vendor prefix ${p} is declared twice`);
    prefixes.add(p);
  }
  for (const p of pcis) lintPciEntry(p, c);
  lintVendorRanges(doc, vendors, c);
}

/** package-files: the INF named in identity and a catalog are among the package's files. */
function lintPackageFiles(id: XmlElement, c: Collector): void {
  const files = id.childrenNamed('file');
  const inf = id.attr('inf');
  if (inf && !files.some((f) => f.attr('name')?.toLowerCase() === inf.toLowerCase() && f.attr('kind') === 'inf')) {
    c.add(id.attrLoc('inf'), 'package-files', `the package files do not list ${inf} (kind inf)`);
  }
  if (!files.some((f) => f.attr('kind') === 'cat')) c.add(id.at(), 'package-files', 'the package files list no catalog (kind cat)');
}

/** hardware-id: PCI only on the root bus, a child's IDs on its parent's enumerator, no duplicates. */
function lintHardwareIds(doc: SpecDocument, id: XmlElement, c: Collector, isRoot: boolean): void {
  const parentEnum = doc.spec.parent?.toUpperCase();
  const seen = new Set<string>();
  for (const h of id.childrenNamed('hardware-id')) {
    const e = h.attr('enumerator');
    const d = h.attr('device') ?? '';
    const key = `${e} ${d}`;
    if (seen.has(key)) c.add(h.at(), 'hardware-id', `hardware ID ${e}/${d} is listed twice`);
    seen.add(key);
    if (e === 'PCI') {
      if (!isRoot) c.add(h.attrLoc('enumerator'), 'hardware-id', 'only the root bus driver binds PCI devices');
      else if (!/^([0-9A-F]{4}|vendor)$/.test(d)) c.add(h.attrLoc('device'), 'hardware-id', `a PCI hardware ID names a 4-digit device id or 'vendor', not '${d}'`);
    } else {
      if (parentEnum === undefined) c.add(h.attrLoc('enumerator'), 'hardware-id', `a driver without parent cannot bind ${e} devices`);
      else if (e !== parentEnum) c.add(h.attrLoc('enumerator'), 'hardware-id', `devices of parent ${doc.spec.parent} are enumerated as ${parentEnum}, not ${e}`);
      if (!/^[A-Z][A-Z0-9]*$/.test(d) || d === 'vendor') c.add(h.attrLoc('device'), 'hardware-id', `a child hardware ID names a device class (VIF, VBD, NET, ...), not '${d}'`);
    }
  }
}

/** vendor-range of one <pci>: vendor 5853, a range inside one vendor block, devices or a range. */
function lintPciEntry(p: XmlElement, c: Collector): void {
  const vendor = parseInt(p.attr('vendor') ?? '0', 16);
  if (vendor !== XEN_PCI_VENDOR) c.add(p.attrLoc('vendor'), 'vendor-range', `the Xen platform device's PCI vendor is 5853, not ${p.attr('vendor')}`);
  const r = p.attr('range');
  if (r !== undefined) {
    const [lo, hi] = r.split('-').map((x) => parseInt(x, 16));
    if (lo > hi) c.add(p.attrLoc('range'), 'vendor-range', `range ${r} is empty (start above end)`);
    else if (!VENDOR_DEVICE_BLOCKS.some((b) => lo >= b.range[0] && hi <= b.range[1])) c.add(p.attrLoc('range'), 'vendor-range', `range ${r} is not inside one vendor block (${blocks()})`);
  }
  if (p.attr('devices') === undefined && r === undefined) c.add(p.at(), 'vendor-range', 'a <pci> entry needs devices or range');
}

/** vendor-range of the vendor prefixes: device ranges inside a block and a <pci> range, ids inside them. */
function lintVendorRanges(doc: SpecDocument, vendors: XmlElement[], c: Collector): void {
  const spec = doc.spec;
  for (const [i, v] of spec.identity.vendorPrefixes.entries()) {
    const el = vendors[i];
    if (v.deviceRange) {
      const [lo, hi] = v.deviceRange;
      const block = VENDOR_DEVICE_BLOCKS.find((b) => lo >= b.range[0] && hi <= b.range[1]);
      if (lo > hi) c.add(el.attrLoc('device-range'), 'vendor-range', `device-range ${el.attr('device-range')} is empty`);
      else if (!block) c.add(el.attrLoc('device-range'), 'vendor-range', `device-range ${el.attr('device-range')} is not inside a vendor block (${blocks()})`);
      else if (!(spec.identity.pci ?? []).some((p) => p.deviceIds.includes(lo) && p.deviceIds.includes(hi))) {
        c.add(el.attrLoc('device-range'), 'vendor-range', `device-range ${el.attr('device-range')} is not covered by a <pci> range of this spec`);
      }
    }
    if (v.deviceId !== undefined) {
      if (!v.deviceRange) c.add(el.attrLoc('device-id'), 'vendor-range', 'a device-id needs the vendor\'s device-range');
      else if (v.deviceId < v.deviceRange[0] || v.deviceId > v.deviceRange[1]) c.add(el.attrLoc('device-id'), 'vendor-range', `device-id ${el.attr('device-id')} is outside the vendor's device-range ${el.attr('device-range')}`);
    }
  }
}
