// Renders the INF a win-pv driver package ships, from its driver spec: [Version] with a stamped
// DriverVer and the catalog, one models section per architecture listing the hardware IDs the
// spec binds (placeholders filled for the vendor and each revision), the install and service
// sections, the files and where they go. The simulator synthesises its `builtin:<version>`
// package with this; the tests build their fixtures with it and then break them.
import type { DriverSpec, VendorPrefix } from '../model/spec';
import { ARCH_DECORATION, type Arch } from './driver-inf';
import { formatDriverVer } from './driver-ver';

export interface RenderOptions {
  /** Four-part version stamped into DriverVer, e.g. `9.1.0.42`. */
  version: string;
  /** Vendor prefix to fill `<prefix>` with (one of spec.identity.vendorPrefixes, e.g. `XP`). */
  vendorPrefix: string;
  /** Architectures to emit models sections for (default both). */
  archs?: Arch[];
  /** DriverVer date (default 2026-01-01, so renders are reproducible). */
  date?: Date;
  /** Product name in descriptions (default the vendor's name). */
  productName?: string;
  /** Override the revisions a child binds (to render a deliberately mismatched package). */
  revisions?: string[];
}

/** Well-known setup class GUIDs (devguid.h) for the classes the PV drivers install into. */
const CLASS_GUIDS: Record<string, string> = {
  system: '{4d36e97d-e325-11ce-bfc1-08002be10318}',
  net: '{4d36e972-e325-11ce-bfc1-08002be10318}',
  scsiadapter: '{4d36e97b-e325-11ce-bfc1-08002be10318}',
  hidclass: '{745a17a0-74d3-11d0-b6fe-00a0c90f57da}',
  ports: '{4d36e978-e325-11ce-bfc1-08002be10318}',
};

export function classGuidOf(spec: DriverSpec): string {
  return spec.identity.classGuid ?? CLASS_GUIDS[spec.identity.deviceClass.toLowerCase()] ?? CLASS_GUIDS.system;
}

function vendorOf(spec: DriverSpec, prefix: string): VendorPrefix {
  return spec.identity.vendorPrefixes.find((v) => v.prefix === prefix) ?? { prefix, vendor: prefix };
}

const hex4 = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');

/** A vendor prefix with the platform device id its builds use (drivers-spec adds `deviceId`). */
type Vendor = VendorPrefix & { deviceId?: number };

/** The platform PCI device ids a vendor's child IDs are listed for: 0001, 0002 and the vendor's own. */
function vendorDeviceIds(vendor: Vendor): number[] {
  const own = vendor.deviceId ?? vendor.deviceRange?.[0];
  return [0x0001, 0x0002, ...(own !== undefined ? [own] : [])];
}

/**
 * The hardware IDs a package for this vendor lists, as the win-pv INFs do: each spec template with
 * `<prefix>` filled, `<device>` once per platform device id (0001, 0002, the vendor's own; a PCI
 * template only with the vendor's own), and `<rev>` once per revision (the parent's revisions a
 * child binds, or a bus driver's own).
 */
export function renderHardwareIds(spec: DriverSpec, vendorPrefix: string, revisions?: string[]): string[] {
  const vendor: Vendor = vendorOf(spec, vendorPrefix);
  const revs = revisions ?? (spec.bindsRevisions.length > 0 ? spec.bindsRevisions : spec.revisions.map((r) => r.id));
  const out: string[] = [];
  for (const template of spec.identity.hardwareIds) {
    const withPrefix = template.replace(/<prefix>/g, vendor.prefix);
    let devices: (number | undefined)[] = [undefined];
    if (template.includes('<device>')) {
      const own = vendor.deviceId ?? vendor.deviceRange?.[0];
      devices = template.includes('<prefix>') ? vendorDeviceIds(vendor) : own !== undefined ? [own] : [];
    }
    for (const d of devices) {
      const filled = d === undefined ? withPrefix : withPrefix.replace(/<device>/g, hex4(d));
      if (filled.includes('<rev>')) for (const r of revs) out.push(filled.replace(/<rev>/g, r.toUpperCase()));
      else out.push(filled);
    }
  }
  return [...new Set(out)];
}

interface ServiceStyle {
  startType: number;
  loadOrderGroup?: string;
}

/** Bus and storage drivers start at boot (the system disk sits behind them); the rest on demand. */
function serviceStyle(spec: DriverSpec): ServiceStyle {
  const cls = spec.identity.deviceClass.toLowerCase();
  if (cls === 'scsiadapter') return { startType: 0, loadOrderGroup: 'SCSI miniport' };
  if (cls === 'net') return { startType: 3, loadOrderGroup: 'NDIS' };
  if (!spec.parent) return { startType: 0, loadOrderGroup: 'Boot Bus Extender' };
  return { startType: 3 };
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
/** An INF quoted string: `"` doubled. */
const q = (s: string) => `"${s.replace(/"/g, '""')}"`;

type Line = (s?: string) => void;

/** What every section of a rendered INF is made from, worked out once. */
interface InfPlan {
  spec: DriverSpec;
  opts: RenderOptions;
  vendor: ReturnType<typeof vendorOf>;
  product: string;
  archs: NonNullable<RenderOptions['archs']>;
  /** `Xenvif`: the prefix of section and string names. */
  base: string;
  /** The package's files other than the INF and the catalog. */
  files: DriverSpec['identity']['files'];
  sysFiles: DriverSpec['identity']['files'];
  coinstallers: DriverSpec['identity']['files'];
  /** Service executables, their message DLLs and other helpers go to System32 (dirid 11). */
  support: DriverSpec['identity']['files'];
  catalog: string;
  style: ReturnType<typeof serviceStyle>;
  hwIds: string[];
}

export function renderInf(spec: DriverSpec, opts: RenderOptions): string {
  const vendor = vendorOf(spec, opts.vendorPrefix);
  const files = spec.identity.files.filter((f) => f.kind !== 'inf' && f.kind !== 'cat');
  const p: InfPlan = {
    spec, opts, vendor, files,
    product: opts.productName ?? vendor.vendor,
    archs: opts.archs ?? ['x64', 'x86'],
    base: cap(spec.name),
    sysFiles: files.filter((f) => f.kind === 'sys'),
    coinstallers: files.filter((f) => f.kind === 'coinstaller'),
    support: files.filter((f) => f.kind !== 'sys' && f.kind !== 'coinstaller'),
    catalog: spec.identity.files.find((f) => f.kind === 'cat')?.name ?? `${spec.name}.cat`,
    style: serviceStyle(spec),
    hwIds: renderHardwareIds(spec, vendor.prefix, opts.revisions),
  };
  const out: string[] = [];
  const line: Line = (s = '') => out.push(s);
  for (const section of [versionSection, sourceSections, modelSections, installSection, copySections, serviceSections, stringsSection]) section(p, line);
  return out.join('\r\n');
}

/** The header comment and [Version]. */
function versionSection(p: InfPlan, line: Line): void {
  const { spec, vendor, catalog, opts } = p;
  line(`; ${spec.identity.inf}: ${spec.description || `${spec.name} driver package`}`);
  line(`; Rendered by winpv from drivers-spec/${spec.name}.xml for vendor prefix ${vendor.prefix}.`);
  line();
  line('[Version]');
  line('Signature="$Windows NT$"');
  line(`Class=${spec.identity.deviceClass}`);
  line(`ClassGUID=${classGuidOf(spec)}`);
  line('Provider=%Vendor%');
  line(`CatalogFile=${catalog}`);
  line(`DriverVer=${formatDriverVer(opts.date ?? new Date(Date.UTC(2026, 0, 1)), opts.version)}`);
  line('DriverPackageDisplayName=%DiskDesc%');
  line('PnpLockdown=1');
  line();
}

/** [DestinationDirs], [SourceDisksNames], [SourceDisksFiles]. */
function sourceSections(p: InfPlan, line: Line): void {
  const { support, coinstallers, base, files } = p;
  line('[DestinationDirs]');
  line('DefaultDestDir=12');
  if (support.length > 0) line(`${base}_Support_CopyFiles=11`);
  if (coinstallers.length > 0) line(`${base}_CoInst_CopyFiles=11`);
  line();
  line('[SourceDisksNames]');
  line('1=%DiskDesc%,,,""');
  line();
  line('[SourceDisksFiles]');
  for (const f of files) line(`${f.name}=1,,`);
  line();
}

/** [Manufacturer] and one models section per architecture. */
function modelSections(p: InfPlan, line: Line): void {
  const { archs, base, hwIds } = p;
  line('[Manufacturer]');
  line(`%Vendor%=Inst,${archs.map((a) => `NT${ARCH_DECORATION[a]}`).join(',')}`);
  for (const a of archs) {
    line();
    line(`[Inst.NT${ARCH_DECORATION[a]}]`);
    line('; description          install section       hardware id');
    for (const id of hwIds) line(`%${base}Desc%=${base}_Inst,${id}`);
  }
  line();
}

/** The install section (an NDIS miniport's interface type and characteristics with it). */
function installSection(p: InfPlan, line: Line): void {
  const { spec, base, sysFiles, support } = p;
  line(`[${base}_Inst]`);
  if (sysFiles.length > 0) line(`CopyFiles=${base}_CopyFiles`);
  if (support.length > 0) line(`CopyFiles=${base}_Support_CopyFiles`);
  if (spec.identity.deviceClass.toLowerCase() === 'net') {
    // NDIS miniports declare their interface type and characteristics (NCF_PHYSICAL | NCF_HAS_UI).
    line('Characteristics=0x84');
    line('BusType=15');
    line('*IfType=6');
    line('*MediaType=0');
    line('*PhysicalMediaType=14');
    line(`AddReg=${base}_Ndi`);
  }
  line();
}

/** The CopyFiles sections, the co-installer's and a network class's Ndi keys. */
function copySections(p: InfPlan, line: Line): void {
  const { spec, base, sysFiles, support, coinstallers } = p;
  if (sysFiles.length > 0) {
    line(`[${base}_CopyFiles]`);
    for (const f of sysFiles) line(f.name);
    line();
  }
  if (support.length > 0) {
    line(`[${base}_Support_CopyFiles]`);
    for (const f of support) line(f.name);
    line();
  }
  if (coinstallers.length > 0) {
    line(`[${base}_CoInst_CopyFiles]`);
    for (const f of coinstallers) line(f.name);
    line();
    line(`[${base}_Inst.CoInstallers]`);
    line(`CopyFiles=${base}_CoInst_CopyFiles`);
    line(`AddReg=${base}_CoInst_AddReg`);
    line();
    line(`[${base}_CoInst_AddReg]`);
    line(`HKR,,CoInstallers32,0x00010000,"${coinstallers[0].name},Entry"`);
    line();
  }
  if (spec.identity.deviceClass.toLowerCase() === 'net') {
    line(`[${base}_Ndi]`);
    line('HKR,Ndi,Service,0,"' + (spec.identity.services[0] ?? spec.name) + '"');
    line('HKR,Ndi\\Interfaces,UpperRange,0,"ndis5"');
    line('HKR,Ndi\\Interfaces,LowerRange,0,"ethernet"');
    line();
  }
}

/** [<Base>_Inst.Services] and each service's install and parameters sections. */
function serviceSections(p: InfPlan, line: Line): void {
  const { spec, base, files, sysFiles, style } = p;
  // A service's binary: <service>.sys (kernel driver) or <service>.exe (a Win32 service such as
  // xenbus_monitor or xenagent); otherwise the package's first driver.
  const binaryOf = (svc: string) =>
    files.find((f) => f.name.toLowerCase() === `${svc.toLowerCase()}.sys`) ?? files.find((f) => f.name.toLowerCase() === `${svc.toLowerCase()}.exe`) ?? sysFiles[0];
  const isWin32 = (svc: string) => binaryOf(svc)?.name.toLowerCase().endsWith('.exe') ?? false;
  line(`[${base}_Inst.Services]`);
  spec.identity.services.forEach((svc, i) => {
    // The first service is the function driver of the device (SPSVCINST_ASSOCSERVICE); the others
    // (xenbus's xenfilt, xenvbd's xendisk) are installed beside it; Win32 services are started.
    const flags = i === 0 ? '%SPSVCINST_ASSOCSERVICE%' : isWin32(svc) ? '%SPSVCINST_STARTSERVICE%' : '0';
    line(`AddService=${svc},${flags},${cap(svc)}_Service`);
  });
  for (const svc of spec.identity.services) {
    const binary = binaryOf(svc);
    const win32 = isWin32(svc);
    line();
    line(`[${cap(svc)}_Service]`);
    line(`DisplayName=%${cap(svc)}Desc%`);
    line(`ServiceType=${win32 ? '%SERVICE_WIN32_OWN_PROCESS%' : '%SERVICE_KERNEL_DRIVER%'}`);
    line(`StartType=${win32 ? '%SERVICE_AUTO_START%' : style.startType === 0 ? '%SERVICE_BOOT_START%' : '%SERVICE_DEMAND_START%'}`);
    line('ErrorControl=%SERVICE_ERROR_NORMAL%');
    line(`ServiceBinary=${win32 ? '%11%' : '%12%'}\\${binary?.name ?? `${svc}.sys`}`);
    if (style.loadOrderGroup && !win32) line(`LoadOrderGroup="${style.loadOrderGroup}"`);
    line(`AddReg=${cap(svc)}_Parameters`);
    line();
    line(`[${cap(svc)}_Parameters]`);
    line('HKR,"Parameters",,0x00000010');
  }
  line();
}

/** [Strings]. */
function stringsSection(p: InfPlan, line: Line): void {
  const { spec, vendor, product, base } = p;
  line('[Strings]');
  line(`Vendor=${q(vendor.vendor)}`);
  line(`DiskDesc=${q(`${product} ${spec.name} Package`)}`);
  line(`${base}Desc=${q(`${product} ${spec.description || spec.name}`)}`);
  for (const svc of spec.identity.services) if (cap(svc) !== base) line(`${cap(svc)}Desc=${q(`${product} ${svc}`)}`);
  line('SPSVCINST_ASSOCSERVICE=0x00000002');
  line('SPSVCINST_STARTSERVICE=0x00000800');
  line('SERVICE_KERNEL_DRIVER=0x1');
  line('SERVICE_WIN32_OWN_PROCESS=0x10');
  line('SERVICE_BOOT_START=0x0');
  line('SERVICE_AUTO_START=0x2');
  line('SERVICE_DEMAND_START=0x3');
  line('SERVICE_ERROR_NORMAL=0x1');
  line();
}
