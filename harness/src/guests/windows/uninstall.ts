// The two targeted removals of PV drivers from a Windows guest, beside the remove-everything of
// driver-store.ts:
// - the vendor installer's uninstall: the product's code found under the Uninstall keys of the
//   registry, then `msiexec /x {code} /qn /norestart /l*v <log>` (Microsoft, "Command-Line Options"
//   of msiexec; "Uninstall Registry Key": one subkey per product, named by its ProductCode for
//   Windows Installer products, with DisplayName, Publisher, DisplayVersion and WindowsInstaller=1;
//   a 32-bit product on 64-bit Windows registers under WOW6432Node);
// - one vendor's driver packages: `pnputil /enum-drivers` names each oemNN.inf's provider and
//   original INF, the vendor's are deleted with `pnputil /delete-driver <oemNN.inf> /uninstall`,
//   children before xenbus (the bus the others sit on), without /force: a package whose device
//   refuses to let go stays, and the removal fails saying so (Microsoft, "PnPUtil Command Syntax").
import type { SshConnection } from '../../remote/ssh';
import { DRIVER_NAMES, type DriverName } from '../../model/spec';
import { guestError, runPs, runPsJson } from './powershell';
import { parseEnumDrivers, type EnumeratedDriver } from './pnputil';
import { msiExitMeaning } from './installer';

/** The Provider a vendor's PV driver INFs carry (win-xenbus src/xenbus.inf and its children:
 *  Provider=%Vendor%, the vendor name the build is given; drivers-spec/xenbus.xml lists the
 *  prefixes), and the Publisher its installer registers. XenServer's older builds were branded
 *  Citrix. A vendor the table does not know is matched by the name given. */
const VENDOR_PROVIDERS: Readonly<Record<string, readonly string[]>> = {
  XP: ['Xen Project'],
  XN: ['XCP-ng', 'Vates'],
  XS: ['XenServer', 'Cloud Software Group', 'Citrix'],
};

/** The provider names of a vendor prefix (XS) or of a vendor named outright. */
export const vendorProviders = (vendor: string): readonly string[] => VENDOR_PROVIDERS[vendor.toUpperCase()] ?? [vendor];

const isVendors = (name: string, vendor: string): boolean => vendorProviders(vendor).some((p) => name.toLowerCase().includes(p.toLowerCase()));

// ------------------------------------------------------------------------------ vendor's packages

const ENUM_SCRIPT = `
& pnputil.exe /enum-drivers
exit $LASTEXITCODE
`;

const DELETE_SCRIPT = `
& pnputil.exe /delete-driver $p.oem /uninstall
exit $LASTEXITCODE
`;

const driverOfInf = (original: string): string => original.replace(/\.inf$/i, '').toLowerCase();

/** The vendor's PV packages in the driver store, in removal order: children first, xenbus last. */
export function vendorPackages(listed: readonly EnumeratedDriver[], vendor: string): EnumeratedDriver[] {
  const order = [...DRIVER_NAMES].reverse();
  return listed
    .filter((d) => (DRIVER_NAMES as readonly string[]).includes(driverOfInf(d.original)) && isVendors(d.provider, vendor))
    .sort((a, b) => order.indexOf(driverOfInf(a.original) as DriverName) - order.indexOf(driverOfInf(b.original) as DriverName));
}

/** Removes one vendor's PV packages from the store and their devices; Windows finishes the removal of
 *  a package in use at the next boot (exit 3010). Refused, naming the package, when pnputil keeps one. */
export async function deleteVendorPackages(ssh: SshConnection, guest: string, vendor: string): Promise<{ removed: string[]; rebootRequired: boolean }> {
  const r = await runPs(ssh, 'pnputil-enum-drivers', {}, ENUM_SCRIPT, { timeoutMs: 5 * 60_000 });
  const listed = parseEnumDrivers(r.stdout);
  if (!listed) throw guestError('GUEST_OUTPUT', `${guest}: pnputil /enum-drivers answered in a display language whose labels winpv does not read (Published Name, Original Name, Provider Name): run the guest with an English display language`);
  const pkgs = vendorPackages(listed, vendor);
  if (!pkgs.length) {
    const pv = listed.filter((d) => (DRIVER_NAMES as readonly string[]).includes(driverOfInf(d.original)));
    throw guestError('GUEST_NO_PACKAGE', `${guest}: no PV driver package of vendor ${vendor} (provider ${vendorProviders(vendor).join(' or ')}) in the driver store; it holds ${pv.map((d) => `${d.original} of ${d.provider}`).join(', ') || 'none'}`);
  }
  let rebootRequired = false;
  const removed: string[] = [];
  for (const pkg of pkgs) {
    if (!/^oem\d+\.inf$/i.test(pkg.published)) throw guestError('GUEST_OUTPUT', `${guest}: pnputil names ${pkg.original}'s package '${pkg.published}', not an oemNN.inf`);
    // 0 done, 3010 done at the next boot (ERROR_SUCCESS_REBOOT_REQUIRED); anything else: kept
    const d = await runPs(ssh, 'pnputil-delete', { oem: pkg.published }, DELETE_SCRIPT, { okCodes: 'any', timeoutMs: 10 * 60_000 });
    if (d.code !== 0 && d.code !== 3010) {
      const why = (d.stdout + d.stderr).split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !/^Microsoft PnP Utility$/i.test(l)).join(' ');
      throw guestError('GUEST_DRIVER_UNINSTALL', `${guest}: pnputil kept ${pkg.original} ${pkg.version} of ${pkg.provider} (${pkg.published}), exit ${d.code}: ${why || 'no reason given'}${removed.length ? `; removed before it: ${removed.join(', ')}` : ''}`);
    }
    rebootRequired ||= d.code === 3010;
    removed.push(`${driverOfInf(pkg.original)} ${pkg.version} of ${pkg.provider} (${pkg.published})`);
  }
  return { removed, rebootRequired };
}

// ------------------------------------------------------------------------------ installer's product

/** A Windows Installer product as its Uninstall key describes it. */
export interface InstalledProduct {
  /** The ProductCode, `{GUID}`: the subkey's name. */
  code: string;
  name: string;
  publisher: string;
  version: string;
  /** Registered under WOW6432Node (a 32-bit installer on 64-bit Windows). */
  wow64: boolean;
}

const PRODUCTS_SCRIPT = `
$roots = @('HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall', 'HKLM:\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall')
$out = @(foreach ($r in $roots) { if (Test-Path -LiteralPath $r) { Get-ChildItem -LiteralPath $r | ForEach-Object {
  $v = Get-ItemProperty -LiteralPath $_.PSPath
  if ($v.WindowsInstaller -eq 1) { @{ code = $_.PSChildName; name = [string]$v.DisplayName; publisher = [string]$v.Publisher; version = [string]$v.DisplayVersion; wow64 = ($r -like '*WOW6432Node*') } } } } })
ConvertTo-Json -Compress -Depth 3 -InputObject $out
`;

const UNINSTALL_SCRIPT = `
& msiexec.exe /x $p.code /qn /norestart /l*v $p.log | Out-Null
exit $LASTEXITCODE
`;

/** What the PV tools' products are called (XenServer VM Tools, Citrix VM Tools, XCP-ng Windows PV
 *  Tools, Xen PV drivers): a product of a PV vendor whose name says tools or drivers. */
const PV_PRODUCT = /\b(?:PV|VM|Guest)\b.*\b(?:Tools|Drivers)\b|\bXen\b.*\bDrivers\b/i;

/** The PV tools products among the installed ones (of one vendor, when given). */
export function pvProducts(all: readonly InstalledProduct[], vendor?: string): InstalledProduct[] {
  const vendors = vendor ? [vendor] : Object.keys(VENDOR_PROVIDERS);
  return all.filter((p) => /^\{[0-9A-F]{8}(?:-[0-9A-F]{4}){3}-[0-9A-F]{12}\}$/i.test(p.code) && PV_PRODUCT.test(p.name) && vendors.some((v) => isVendors(p.publisher, v) || isVendors(p.name, v)));
}

export async function installedProducts(ssh: SshConnection): Promise<InstalledProduct[]> {
  return (await runPsJson<InstalledProduct[] | null>(ssh, 'msi-products', {}, PRODUCTS_SCRIPT)) ?? [];
}

/** msiexec /x of each PV tools product found (of one vendor, when given): 0 done, 3010/1641 done
 *  once Windows restarts; 1605 (ERROR_UNKNOWN_PRODUCT: the Uninstall key names a product Windows
 *  Installer does not have), 1603 (ERROR_INSTALL_FAILURE) and any other code fail, the verbose log
 *  handed to `keepLog` first (it says why) (Microsoft, "MsiExec.exe and InstMsi.exe Error Messages"). */
export async function uninstallProducts(ssh: SshConnection, guest: string, o: { vendor?: string; keepLog(guestPath: string): Promise<string> }): Promise<{ removed: string[]; rebootRequired: boolean }> {
  const all = await installedProducts(ssh);
  const found = pvProducts(all, o.vendor);
  if (!found.length) {
    throw guestError('GUEST_NO_PRODUCT', `${guest}: no Windows Installer product of the PV tools${o.vendor ? ` of vendor ${o.vendor} (publisher ${vendorProviders(o.vendor).join(' or ')})` : ''} under HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall or its WOW6432Node twin (${all.length} installer product${all.length === 1 ? '' : 's'} there: ${all.map((p) => p.name).slice(0, 6).join(', ') || 'none'}); were the drivers installed with pnputil? uninstall with pnputil (no method="installer")`);
  }
  let rebootRequired = false;
  const removed: string[] = [];
  for (const p of found) {
    const log = `C:\\Windows\\Temp\\winpv-uninstall-${p.code.replace(/[{}]/g, '')}.log`;
    const r = await runPs(ssh, 'msiexec-uninstall', { code: p.code, log }, UNINSTALL_SCRIPT, { okCodes: 'any', timeoutMs: 20 * 60_000 });
    const code = r.code ?? -1;
    if (code === 0 || code === 3010 || code === 1641) {
      rebootRequired ||= code !== 0;
      removed.push(`${p.name} ${p.version} (${p.code})`);
      continue;
    }
    const where = await o.keepLog(log).catch((e: Error) => `${log} in the guest (not collected: ${e.message})`);
    throw guestError('GUEST_DRIVER_UNINSTALL', `${guest}: msiexec /x ${p.code} (${p.name} ${p.version}) failed (${code}: ${msiExitMeaning(code)}); its log is ${where}`);
  }
  return { removed, rebootRequired };
}
