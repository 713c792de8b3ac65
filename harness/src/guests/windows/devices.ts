// What Windows bound, read through CIM (Win32_PnPEntity, Win32_PnPSignedDriver) rather than the
// display-language text of pnputil: CIM property names and numeric codes are the same on every
// Windows from Server 2016 on, in every language, and need no pnputil /enum-devices (Windows 10
// 1903+ only). Also: whether Windows wants a restart before the install is finished.
import type { SshConnection } from '../../remote/ssh';
import { runPsJson } from './powershell';

/** ConfigManagerErrorCode 14: CM_PROB_NEED_RESTART ("This device cannot work properly until you
 *  restart your computer"), from cfg.h of the Windows SDK / Device Manager error codes. */
export const CM_PROB_NEED_RESTART = 14;
/** Windows cannot verify the digital signature of the driver (cfgmgr32.h CM_PROB_UNSIGNED_DRIVER). */
export const CM_PROB_UNSIGNED_DRIVER = 52;

/** What a pending-restart reason (pendingReboot's) means: a XENBUS child (xenvif, xenvbd) that
 *  waits for a restart has asked for the emulated device's unplug, which xen.sys reads only at the
 *  next boot (win-xenvif/win-xenvbd write the unplug request at install); any other device is a
 *  plain pending PnP restart. */
export function pendingReason(r: string): string {
  if (/^pnp:XENBUS\\VEN_[A-Z0-9]+&DEV_(VIF|VBD)/i.test(r)) return `emulated-device unplug (${r.slice(4)} waits for the restart that unplugs the emulated ${/DEV_VIF/i.test(r) ? 'NIC' : 'disks'})`;
  if (r.startsWith('pnp:')) return `pending PnP restart (${r.slice(4)})`;
  return r;
}

/** Device instance ids of the PV stack as the win-pv drivers create them: the platform PCI device
 *  (vendor 5853, XenServer: 0001, 0002, or a vendor device C000-C2FF such as XenServer's C000 with
 *  has_vendor_device, drivers-spec/xenbus.xml), XENBUS\VEN_<vendor>&DEV_<VIF|VBD|IFACE|...>&REV_<rev>\<n> children of
 *  xenbus (win-xenbus src/xenbus/pdo.c PdoQueryId) and XENVIF\VEN_...&DEV_NET&REV_...\<n> of xenvif. */
const XEN_INSTANCE = /^(PCI\\VEN_5853&DEV_(000[12]|C[0-2][0-9A-F]{2})|XENBUS\\VEN_[A-Z0-9]+&DEV_[A-Z]+&REV_[0-9A-F]{8}\\|XENVIF\\VEN_[A-Z0-9]+&DEV_NET&REV_[0-9A-F]{8}\\|XENVBD\\)/i;
/** The emulated devices QEMU gives an HVM guest, which the unplug removes (IDE/ATA disks, and the
 *  RTL8139 or e1000 NIC; docs/misc/hvm-emulated-unplug.pandoc). Matched by id, never by name. */
const EMULATED_DISK = /^(IDE\\DISK|SCSI\\DISK&VEN_QEMU|SCSI\\DISKQEMU)/i;
const EMULATED_NIC = /^PCI\\VEN_(10EC&DEV_8139|8086&DEV_100E)/i;

export interface CimDevice {
  DeviceID: string;
  ConfigManagerErrorCode: number;
  Service?: string | null;
  HardwareID?: string[] | null;
  /** Win32_PnPSignedDriver of the device: its INF (oemNN.inf), original INF name is not in CIM, so
   *  the provider's INF is named by the service it installs. */
  DriverVersion?: string | null;
  InfName?: string | null;
}

export interface DeviceView {
  xen: CimDevice[];
  emulatedDisks: string[];
  emulatedNics: string[];
}

export async function readDevices(ssh: SshConnection): Promise<DeviceView> {
  const all = await runPsJson<CimDevice[]>(ssh, 'pnp-cim', {}, CIM_SCRIPT);
  return {
    xen: all.filter((d) => XEN_INSTANCE.test(d.DeviceID)),
    emulatedDisks: all.filter((d) => EMULATED_DISK.test(d.DeviceID)).map((d) => d.DeviceID),
    emulatedNics: all.filter((d) => EMULATED_NIC.test(d.DeviceID)).map((d) => d.DeviceID),
  };
}

export interface PendingReboot {
  pending: boolean;
  /** Why: 'pnp:<instance id>' for a device at CM_PROB_NEED_RESTART, 'PendingFileRenameOperations', 'CBS'. */
  reasons: string[];
}

/** Whether Windows wants a restart: a device waiting for one (problem 14, as after xenvif's and
 *  xenvbd's install asked for the emulated-device unplug that xen.sys only reads at boot), files to
 *  replace at boot (Session Manager\PendingFileRenameOperations, how an in-use .sys is updated), or
 *  servicing (Component Based Servicing\RebootPending). */
export async function pendingReboot(ssh: SshConnection): Promise<PendingReboot> {
  const r = await runPsJson<{ devices: string[]; renames: boolean; cbs: boolean }>(ssh, 'reboot-pending', {}, PENDING_SCRIPT);
  const reasons = [...(r.devices ?? []).map((d) => `pnp:${d}`), ...(r.renames ? ['PendingFileRenameOperations'] : []), ...(r.cbs ? ['CBS'] : [])];
  return { pending: reasons.length > 0, reasons };
}

const CIM_SCRIPT = `
$drv = @{}
Get-CimInstance Win32_PnPSignedDriver | Where-Object { $_.DeviceID } | ForEach-Object { $drv[$_.DeviceID.ToUpperInvariant()] = $_ }
$out = @(Get-CimInstance Win32_PnPEntity | ForEach-Object {
  $s = $drv[[string]$_.DeviceID.ToUpperInvariant()]
  [pscustomobject]@{ DeviceID = $_.DeviceID; ConfigManagerErrorCode = [int]$_.ConfigManagerErrorCode; Service = $_.Service; HardwareID = @($_.HardwareID)
    DriverVersion = $(if ($s) { $s.DriverVersion } else { $null }); InfName = $(if ($s) { $s.InfName } else { $null }) } })
ConvertTo-Json -Compress -Depth 3 -InputObject $out
`;

const PENDING_SCRIPT = `
$dev = @(Get-CimInstance Win32_PnPEntity -Filter 'ConfigManagerErrorCode = ${CM_PROB_NEED_RESTART}' | ForEach-Object { $_.DeviceID })
$sm = Get-ItemProperty -ErrorAction SilentlyContinue 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Session Manager'
$cbs = Test-Path 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Component Based Servicing\\RebootPending'
[pscustomobject]@{ devices = $dev; renames = [bool]($sm.PendingFileRenameOperations); cbs = [bool]$cbs } | ConvertTo-Json -Compress
`;
