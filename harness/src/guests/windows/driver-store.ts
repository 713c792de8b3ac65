// The PV driver packages in a Windows guest's driver store: what is staged there (Get-WindowsDriver
// -Online: the published oemNN.inf and its original INF's name, DriverVer), their removal
// (`pnputil /delete-driver <oemNN.inf> /uninstall /force`, Microsoft's "PnPUtil Command Syntax":
// /uninstall takes the package off every device using it first, /force even when a device still
// uses it), and each driver's state as the store, PnP and the xenbus monitor tell it.
import type { SshConnection } from '../../remote/ssh';
import type { DriverState } from '../../model/host';
import { DRIVER_NAMES, type DriverName } from '../../model/spec';
import { guestError, runPs, runPsJson } from './powershell';
import { CM_PROB_NEED_RESTART, type DeviceView } from './devices';

export interface StoredPackage {
  /** The published name (oemNN.inf). */
  Driver: string;
  /** The original INF's name (xenbus.inf) and the store's copy of it. */
  OriginalFileName: string;
  Version: string;
}

/** The PV drivers' packages in the store, and the modules that asked the xenbus monitor for a reboot:
 *  win-xenbus src/xen/config.c ConfigRequestReboot writes Services\xenbus_monitor\Request\<MODULE>
 *  with a Reboot value (xenvif pdo.c PdoRequestReboot, xenvbd adapter.c AdapterRequestReboot), a
 *  volatile key gone at the next boot. */
const STORE_SCRIPT = `
$names = @($p.drivers | ForEach-Object { "$_.inf" })
$pk = @(Get-WindowsDriver -Online | Where-Object { $names -contains [IO.Path]::GetFileName($_.OriginalFileName) } |
  ForEach-Object { @{ Driver = $_.Driver; OriginalFileName = $_.OriginalFileName; Version = [string]$_.Version } })
$req = @(Get-ChildItem 'HKLM:\\SYSTEM\\CurrentControlSet\\Services\\xenbus_monitor\\Request' -ErrorAction SilentlyContinue |
  Where-Object { $null -ne (Get-ItemProperty $_.PSPath -Name Reboot -ErrorAction SilentlyContinue) } | ForEach-Object { $_.PSChildName })
ConvertTo-Json -Compress -Depth 4 @{ packages = $pk; requests = $req }
`;

const DELETE_SCRIPT = `
& pnputil.exe /delete-driver $p.oem /uninstall /force
exit $LASTEXITCODE
`;

const driverOf = (p: StoredPackage): string => p.OriginalFileName.slice(p.OriginalFileName.replace(/\//g, '\\').lastIndexOf('\\') + 1).replace(/\.inf$/i, '').toLowerCase();

export async function readStore(ssh: SshConnection): Promise<{ packages: StoredPackage[]; requests: string[] }> {
  const r = await runPsJson<{ packages: StoredPackage[] | null; requests: string[] | null }>(ssh, 'driver-store', { drivers: DRIVER_NAMES }, STORE_SCRIPT);
  return { packages: r.packages ?? [], requests: (r.requests ?? []).map((x) => x.toUpperCase()) };
}

/** Removes every PV package from the store and its devices, children first (xennet before xenvif,
 *  everything before xenbus, whose bus the others sit on). Returns what was removed; each removal
 *  of a package in use finishes at the next boot (exit 3010). */
export async function deletePackages(ssh: SshConnection, guest: string): Promise<{ removed: string[]; rebootRequired: boolean }> {
  const { packages } = await readStore(ssh);
  const order = [...DRIVER_NAMES].reverse();
  const sorted = [...packages].sort((a, b) => order.indexOf(driverOf(a) as DriverName) - order.indexOf(driverOf(b) as DriverName));
  let rebootRequired = false;
  const removed: string[] = [];
  for (const pkg of sorted) {
    if (!/^oem\d+\.inf$/i.test(pkg.Driver)) throw guestError('GUEST_OUTPUT', `${guest}: the driver store names ${driverOf(pkg)}'s package '${pkg.Driver}', not an oemNN.inf`);
    // 0 done, 3010 done at the next boot (ERROR_SUCCESS_REBOOT_REQUIRED); anything else throws
    const r = await runPs(ssh, 'pnputil-delete', { oem: pkg.Driver }, DELETE_SCRIPT, { okCodes: [0, 3010], timeoutMs: 10 * 60_000 });
    rebootRequired ||= r.code === 3010;
    removed.push(`${driverOf(pkg)} ${pkg.Version} (${pkg.Driver})`);
  }
  return { removed, rebootRequired };
}

/** Each PV driver's state: bound and started (running; restart-pending when the store holds another
 *  version, which takes over at the next boot), its device waiting for a restart
 *  (CM_PROB_NEED_RESTART: reboot-required), in the store with no device yet (not-started: its
 *  parent does not run), or neither (removed). `known`: the drivers installed by this agent. */
export function driverStates(view: DeviceView, store: { packages: StoredPackage[]; requests: string[] }, known: ReadonlySet<string>): DriverState[] {
  const out: DriverState[] = [];
  // drivers this agent installed, and any other PV driver the guest has (a driver never there is not 'removed')
  const present = new Set([...known, ...store.packages.map(driverOf), ...view.xen.map((x) => (x.Service ?? '').toLowerCase()), ...view.xen.map((x) => deviceDriver(x.DeviceID) ?? '')]);
  for (const d of DRIVER_NAMES.filter((x) => present.has(x))) {
    const stored = store.packages.filter((p) => driverOf(p) === d).at(-1)?.Version;
    const dev = view.xen.find((x) => (x.Service ?? '').toLowerCase() === d && x.ConfigManagerErrorCode === 0 && x.DriverVersion);
    const waiting = view.xen.find((x) => x.ConfigManagerErrorCode === CM_PROB_NEED_RESTART && deviceDriver(x.DeviceID) === d);
    const requested = store.requests.includes(d.toUpperCase()) ? { rebootRequested: true } : {};
    if (dev && stored && stored !== dev.DriverVersion) out.push({ driver: d, state: 'restart-pending', running: dev.DriverVersion!, staged: stored, ...requested });
    else if (dev) out.push({ driver: d, state: 'running', running: dev.DriverVersion!, ...requested });
    else if (waiting) out.push({ driver: d, state: 'reboot-required', ...(stored ? { staged: stored } : {}), ...requested });
    else if (stored) out.push({ driver: d, state: 'not-started', staged: stored, ...requested });
    else out.push({ driver: d, state: 'removed' });
  }
  return out;
}

/** The PV driver a device's ID names (XENBUS\VEN_XP0001&DEV_VIF -> xenvif, XENVIF\...&DEV_NET -> xennet). */
function deviceDriver(id: string): string | undefined {
  if (/^PCI\\VEN_5853/i.test(id)) return 'xenbus';
  const m = /^XEN(?:BUS|VIF)\\VEN_[A-Z0-9]+&DEV_([A-Z]+)/i.exec(id);
  return m ? `xen${m[1]!.toLowerCase()}` : undefined;
}
