// A Windows Server guest double reached over real SSH (ssh2's Server, like Windows' OpenSSH with
// cmd.exe as the default shell): it accepts only `powershell.exe ... -EncodedCommand <base64>`
// command lines, decodes the script, reads the operation marker and the JSON parameters, and answers
// the way Windows would: pnputil's text, Get-PnpDevice JSON, diskspd -Rxml and NTttcp -xml documents.
// Files come in over SFTP into an in-memory C: drive; pnputil reads the staged INF's DriverVer.
import { Server, utils, type Connection, type SFTPWrapper } from 'ssh2';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { sha256Fingerprint } from '../../../src/remote/known-hosts';
import { authenticator, usableKeyPair } from '../ssh-server';
import { decodeCommand, OP_MARKER } from '../../../src/guests/windows/powershell';
import { renderDiskspdXml } from '../../../src/workloads/diskspd';
import { renderNtttcpXml } from '../../../src/workloads/ntttcp';

export interface DriverPackage {
  driver: string;
  version: string;
  date: string;
  provider: string;
  published: string;
  /** Thumbprint of the test root its catalog is signed under; absent: production (Microsoft-attested) signed. */
  testSignedBy?: string;
}

/** How the double reads a catalog's signer: a real .cat is a PKCS#7 whose chain Windows checks
 *  (CI.dll); the double's test catalogs carry this marker and the SHA-1 thumbprint of the test
 *  certificate (the DER bytes of the .cer) instead. Anything else counts as production-signed. */
export const TEST_SIGNER_MARKER = 'winpv-double-test-signer:';

/** A thumbprint as Windows shows it: SHA-1 of the certificate's DER bytes, upper-case hex. */
export const thumbprint = (der: Buffer): string => createHash('sha1').update(der).digest('hex').toUpperCase();

/** An unsigned catalog (inf2cat's output before signtool signs it: a PKCS#7 without a signer); the
 *  double's unsigned catalogs carry this marker. */
export const UNSIGNED_CATALOG_MARKER = 'winpv-double-unsigned-catalog';

/** The stream an MSI (an OLE compound file) keeps its Authenticode signature in, named in UTF-16LE
 *  in the compound file's directory (Microsoft, "Digital Signatures and Windows Installer": the
 *  signature of a package is stored in its \005DigitalSignature stream). */
const MSI_SIGNATURE_STREAM = Buffer.from('\u0005DigitalSignature', 'utf16le');

/** An MSI as a test fixture: the compound-file header, and a signature stream when signed (by the
 *  test certificate `testSigner`, DER, or else a production signer). */
export function fixtureMsi(o: { signed: boolean; testSigner?: Buffer; product?: MsiProduct }): Buffer<ArrayBuffer> {
  const header = Buffer.from('d0cf11e0a1b11ae1', 'hex');
  const product = o.product ? [Buffer.from(`${PRODUCT_MARKER}${JSON.stringify(o.product)}\n`, 'latin1')] : [];
  if (!o.signed) return Buffer.concat([header, ...product]);
  return Buffer.concat([header, ...product, MSI_SIGNATURE_STREAM, ...(o.testSigner ? [Buffer.from(`${TEST_SIGNER_MARKER}${thumbprint(o.testSigner)}`, 'latin1')] : [])]);
}

/** What an MSI's Property table says of its product (ProductCode, ProductName, Manufacturer,
 *  ProductVersion): what Windows Installer registers under the Uninstall key at install. */
export interface MsiProduct {
  code: string;
  name: string;
  publisher: string;
  version: string;
}

/** The double's MSIs carry their product as this marker and one line of JSON. */
const PRODUCT_MARKER = 'winpv-double-msi-product:';

/** A product registered under HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\{code}
 *  (WOW6432Node for a 32-bit package on 64-bit Windows), with the drivers its install added. */
export interface RegisteredProduct extends MsiProduct {
  wow64: boolean;
  drivers: DriverPackage[];
  /** Only the Uninstall key is left (a removal that failed half way, a cleaned Installer cache):
   *  Windows Installer no longer knows the product. */
  stale?: boolean;
}

export interface WindowsGuestState {
  name: string;
  /** Driver store: packages added with pnputil (by driver name). */
  store: Map<string, DriverPackage>;
  /** What is bound now (changes at boot to what the store holds). */
  bound: Map<string, DriverPackage>;
  /** Files on C: (path with \ separators, upper-cased drive). */
  files: Map<string, Buffer>;
  crashDumps: { path: string; bytes: number }[];
  verifier: string[];
  /** Every decoded script, in order. */
  scripts: string[];
  /** Raw command lines as received. */
  commands: string[];
  /** Make the next diskspd run fail like an interrupted run (<Error>). */
  failNextDiskspd?: boolean;
  /** Blocks the disk's backend acknowledged but never kept (lost writes): a verify pass sees them
   *  only when it reads the disk itself, not the cache (see the verify handler). */
  verifyMismatches: number;
  /** Hot-plugged data disks Windows sees, by XENVBD target (targets 0-3 are always there; 0 holds
   *  Windows). */
  dataDisks: Set<number>;
  /** Every diskspd run: its arguments, its target and whether it bypassed the caches (-Sh, or -Su
   *  with -Sw). */
  diskspdRuns: { args: string[]; target: string; cacheBypassed: boolean }[];
  /** Every verify pass: the Windows disk, the CreateFile flags, and whether its read-back could
   *  prove anything (a data disk, no buffering, write-through). */
  verifyRuns: { disk: number; flags: number; proves: boolean }[];
  /** A disc is in the CD drive (D:). */
  cdLoaded: boolean;
  /** verifier.exe accepts the settings but nothing is verified (a policy that blocks it). */
  verifierIgnored?: boolean;
  /** The next msiexec run exits with this Windows Installer error. */
  failNextInstaller?: number;
  /** Installers run (the .msi paths). */
  installers: string[];
  /** Real time diskspd and NTttcp take to answer (ms; default 0): a workload in flight for a while. */
  workloadMs?: number;
  /** diskspd and NTttcp answer only once this settles: a workload in flight until the test says
   *  (a run held mid-scenario while something else happens, with no timing involved). */
  workloadGate?: Promise<void>;
  /** HKLM\SYSTEM\CurrentControlSet\Services\XEN\Unplug: what the PV drivers' install asked to
   *  unplug (NICS by xenvif, DISKS by xenvbd). xen.sys reads it early at boot (win-xenbus
   *  src/xen/unplug.c), so a request written now takes effect at the next boot only. */
  unplugRequest: { disks: boolean; nics: boolean };
  /** What xen.sys unplugged at this boot (the emulated devices are gone). */
  unplugged: { disks: boolean; nics: boolean };
  /** Devices waiting for a restart (ConfigManagerErrorCode 14, CM_PROB_NEED_RESTART), by driver. */
  needRestart: Set<string>;
  /** Drivers Driver Verifier checks in this boot (`verifier /query`); `verifier` holds next boot's. */
  verifierActive: string[];
  /** Boots so far. */
  boots: number;
  /** Looks at the CD drive that still find it empty after a disc goes in (media not yet mounted). */
  cdLag: number;
  /** Inbound firewall rules opened by scripts and not yet removed (display names). */
  firewallRules: string[];
  /** Every firewall rule ever opened (display names). */
  firewallOpened: string[];
  /** A driver whose device asks for a restart at every boot (a broken install that never settles). */
  stuckRestart?: string;
  /** PROCESSOR_ARCHITECTURE: AMD64, x86 or ARM64. */
  arch: string;
  /** UEFI Secure Boot is on (Confirm-SecureBootUEFI, SecureBoot\State UEFISecureBootEnabled). */
  secureBoot: boolean;
  /** Test signing: `bcd` is what bcdedit wrote, `boot` what this boot runs with (read at boot). */
  testSigning: { bcd: boolean; boot: boolean };
  /** LocalMachine certificate stores (thumbprints). */
  certStores: { Root: Set<string>; TrustedPublisher: Set<string> };
  /** Drivers in the store whose signature this boot refused (CM_PROB_UNSIGNED_DRIVER, 52). */
  unsigned: Set<string>;
  /** The guest agent (XenServer's Windows guest agent, installed by the vendor tools' MSI or put in
   *  the template) is installed; it runs, and reports to xapi, only once xenbus and xeniface are
   *  bound (it reaches xenstore through xeniface). */
  agentInstalled: boolean;
  /** HKLM\SYSTEM\CurrentControlSet\Control\CrashControl (Microsoft, "Overview of memory dump file
   *  options for Windows"; Server's defaults: CrashDumpEnabled 7 automatic, AutoReboot 1, no
   *  NMICrashDump). */
  crashControl: { crashDumpEnabled: number; autoReboot: boolean; nmiCrashDump: boolean };
  /** Sysinternals NotMyFault (notmyfault64.exe) is on the PATH. */
  notMyFault: boolean;
  /** Stop codes of the bugchecks so far. */
  bugchecks: number[];
  /** The Xen PCI devices QEMU gives the guest, the one xenbus binds first: XenServer's vendor device
   *  C000 (has_vendor_device) is preferred over the platform device (platform:device_id, 0001 when
   *  unset: xenopsd xenops_server_xen.ml), as win-xenbus's INF ranks them (src/xenbus.inf). */
  platformDevices: string[];
  /** A bugcheck writes no dump although CrashControl asks for one (a page file too small for it:
   *  Windows logs it at the next boot and keeps whatever dump was there before). */
  dumpFails?: boolean;
  /** The XEN service (xen.sys, installed by xenbus.inf as a boot driver) is on the system. Deleting
   *  the xenbus package from the driver store does not delete the service, so xen.sys still loads at
   *  boot and unplugs what Services\XEN\Unplug asks (win-xenbus src/xen/unplug.c UnplugInitialize). */
  xenService: boolean;
  /** Services\xenbus_monitor\Request\<MODULE> keys with a Reboot value (win-xenbus src/xen/config.c
   *  ConfigRequestReboot; volatile: gone at the next boot). */
  rebootRequests: Set<string>;
  /** Planted driver bug: a child that refuses to start until a reboot does not write its Request key. */
  rebootRequestLost?: boolean;
  /** Planted driver bug: xenvif's / xenvbd's removal does not withdraw their unplug request, so
   *  xen.sys goes on unplugging the emulated devices with no PV driver left to replace them. */
  unplugKeptOnRemoval?: boolean;
  /** Packages in the store no device takes: another provider's package of a driver whose device
   *  PnP gave to the package in `store` (Windows keeps every package added; each device gets the one
   *  it ranks best, here the one added last). Listed by pnputil /enum-drivers, deletable. */
  outranked: DriverPackage[];
  /** Windows Installer products, by ProductCode (upper case, with braces). */
  products: Map<string, RegisteredProduct>;
  /** The next msiexec /x exits with this Windows Installer error (its custom action fails). */
  failNextUninstall?: number;
  /** Drivers whose device vetoes its removal (a query-remove refused: the device is in use), so
   *  pnputil /delete-driver /uninstall without /force keeps their package. */
  removalVetoed: Set<string>;
  /** Services\xenvif\Settings: per MAC, the interface xenvif recorded last (win-xenvif settings.c
   *  SettingsSave / SettingsStoreCurrent): `emulated:<mac>` or `pv:<provider>:<mac>`. */
  xenvifRecorded: Map<string, string>;
  /** Planted driver bug: xenvif's SettingsRestore records the new interface without copying. */
  nicSettingsNotCopied?: boolean;
  /** The MACs of the guest's VIFs (xenopsd gives the emulated NIC and the PV NIC the VIF's MAC). */
  macs: string[];
  /** Each network interface's static configuration (Windows keeps it per interface: the emulated
   *  NIC and the PV NIC are two interfaces), by `emulated:<mac>` / `pv:<mac>`. */
  nicSettings: Map<string, { addresses: string[]; dns: string[]; mtu?: number }>;
}

/** Which Windows the double plays, and in which display language. */
export interface WindowsFlavour {
  /** server2016 has pnputil /add-driver (1607) but not /enum-devices (Windows 10 1903 and later). */
  os?: 'server2016' | 'server2019' | 'server2022' | 'server2025' | 'win10' | 'win11';
  language?: 'en-US' | 'de-DE';
  /** PROCESSOR_ARCHITECTURE (default AMD64). */
  arch?: 'AMD64' | 'x86' | 'ARM64';
  /** UEFI Secure Boot on (default off). */
  secureBoot?: boolean;
  /** The template has the guest agent installed (default not). */
  guestAgent?: boolean;
}

export interface WindowsDouble {
  host: string;
  port: number;
  hostKeyFingerprint: string;
  state: WindowsGuestState;
  /** A disc goes into the CD drive: its files appear under D:\\ (null: ejected). */
  insertDisc(files: Map<string, Buffer> | null): void;
  /** After a bugcheck Windows writes the dump from the page file at the next boot: a complete
   *  C:\\Windows\\MEMORY.DMP or a minidump in C:\\Windows\\Minidump. Returns its path and bytes. */
  writeCrashDump(kind: 'full' | 'mini', bytes?: number, memory?: Buffer[], code?: number): { path: string; data: Buffer };
  /** A non-maskable interrupt reaches the guest (dom0's `xl trigger <domid> nmi`): with
   *  NMICrashDump = 1 Windows bugchecks with 0x80 NMI_HARDWARE_FAILURE; without it nothing happens here. */
  nmi(): void;
  /** Called when the guest bugchecked and, with AutoReboot, restarts: the pool reboots its domain. */
  onRestart?: () => void;
  /** The guest "boots": drivers in the store become bound. Returns the PV version xenbus reports. */
  boot(): { major: number; minor: number; micro: number; build: number } | undefined;
  close(): Promise<void>;
}

const normPath = (p: string) => p.replace(/\//g, '\\').replace(/^\\?([a-zA-Z]):/, (_, d: string) => `${d.toUpperCase()}:`);

/** Clones of one template share the host key: pass one to several doubles. */
export const generateHostKey = (): string => usableKeyPair().private;

export async function startWindowsDouble(o: { name: string; host: string; port?: number; user: string; password?: string; authorizedKey?: string; hostKey?: string } & WindowsFlavour): Promise<WindowsDouble> {
  const german = o.language === 'de-DE';
  const os = o.os ?? 'server2022';
  const hostKey = { private: o.hostKey ?? generateHostKey() };
  const parsed = utils.parseKey(hostKey.private);
  if (parsed instanceof Error) throw parsed;
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  const state: WindowsGuestState = { name: o.name, store: new Map(), bound: new Map(), files: new Map(), crashDumps: [], verifier: [], scripts: [], commands: [], verifyMismatches: 0, dataDisks: new Set(), diskspdRuns: [], verifyRuns: [], cdLoaded: false, installers: [], unplugRequest: { disks: false, nics: false }, unplugged: { disks: false, nics: false }, needRestart: new Set(), verifierActive: [], boots: 0, cdLag: 0, firewallRules: [], firewallOpened: [], arch: o.arch ?? 'AMD64', secureBoot: o.secureBoot ?? false, testSigning: { bcd: false, boot: false }, certStores: { Root: new Set(), TrustedPublisher: new Set() }, unsigned: new Set(), agentInstalled: o.guestAgent ?? false, crashControl: { crashDumpEnabled: 7, autoReboot: true, nmiCrashDump: false }, notMyFault: true, bugchecks: [], platformDevices: ['0001'], xenService: false, rebootRequests: new Set(), macs: ['00:16:3e:5a:00:01'], nicSettings: new Map(), outranked: [], products: new Map(), removalVetoed: new Set(), xenvifRecorded: new Map() };
  const conns = new Set<Connection>();
  let nextOem = 3;

  const server = new Server({ hostKeys: [hostKey.private] }, (client) => {
    conns.add(client);
    client.on('close', () => conns.delete(client));
    client.on('error', () => undefined);
    client.on('authentication', authenticator(o));
    client.on('ready', () => {
      client.on('session', (accept) => {
        const session = accept();
        session.on('exec', (acceptExec, _reject, info) => {
          const ch = acceptExec();
          ch.on('data', () => undefined);
          state.commands.push(info.command);
          const r = execute(info.command);
          if (r.bugcheck !== undefined) {
            // KeBugCheckEx: the command never answers; the guest (and every connection) goes down
            const code = r.bugcheck;
            setImmediate(() => bugcheck(code));
            return;
          }
          const workload = /^# winpv:(diskspd|ntttcp)\n/.test(state.scripts.at(-1) ?? '');
          const answer = () => setTimeout(() => {
            if (r.stdout) ch.write(r.stdout);
            if (r.stderr) ch.stderr.write(r.stderr);
            ch.exit(r.code);
            ch.end();
          }, workload ? (state.workloadMs ?? 0) : 0);
          if (workload && state.workloadGate) void state.workloadGate.then(answer, answer);
          else answer();
        });
        session.on('sftp', (acceptSftp) => serveSftp(acceptSftp(), state.files));
      });
    });
  });

  // Windows at a bugcheck (KeBugCheckEx): the dump goes to the page file and, with CrashDumpEnabled,
  // becomes C:\Windows\MEMORY.DMP (here written at once; the host reads it only after the restart);
  // every connection drops; with AutoReboot the guest restarts (the pool builds a new domain).
  function bugcheck(code: number) {
    state.bugchecks.push(code);
    if (state.crashControl.crashDumpEnabled !== 0 && !state.dumpFails) double.writeCrashDump('full', undefined, [], code);
    for (const c of conns) c.end();
    if (state.crashControl.autoReboot) double.onRestart?.();
  }

  function execute(line: string): { code: number; stdout: string; stderr: string; bugcheck?: number } {
    if (!/^powershell\.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand [A-Za-z0-9+/=]+$/.test(line)) {
      return { code: 1, stdout: '', stderr: `'${line.split(' ')[0]}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n` };
    }
    const script = decodeCommand(line)!;
    state.scripts.push(script);
    const op = script.startsWith(OP_MARKER) ? script.slice(OP_MARKER.length, script.indexOf('\n')) : '';
    // The parameters are the single-quoted JSON literal of the $p line (quotes doubled inside).
    const pm = /^\$p = ConvertFrom-Json '((?:[^']|'')*)'$/m.exec(script);
    const p = pm ? (JSON.parse(pm[1]!.replace(/''/g, "'")) as Record<string, unknown>) : {};
    try {
      return ops[op]?.(p) ?? { code: 1, stdout: '', stderr: `unknown script (${op || 'no marker'})\r\n` };
    } catch (e) {
      return { code: 1, stdout: '', stderr: `${(e as Error).message}\r\n` };
    }
  }

  const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');

  const ops: Record<string, (p: Record<string, unknown>) => { code: number; stdout: string; stderr: string; bugcheck?: number }> = {
    mkdir: () => ({ code: 0, stdout: '', stderr: '' }),
    'crash-control': () => ({ code: 0, stdout: JSON.stringify({ CrashDumpEnabled: state.crashControl.crashDumpEnabled, AutoReboot: state.crashControl.autoReboot ? 1 : 0, NMICrashDump: state.crashControl.nmiCrashDump ? 1 : 0 }), stderr: '' }),
    // NotMyFault /bugcheck <code>: its driver calls KeBugCheckEx (Sysinternals NotMyFault's usage)
    notmyfault: (p) => {
      if (!state.notMyFault) return { code: 1, stdout: '', stderr: "& : The term 'notmyfault64.exe' is not recognized as the name of a cmdlet, function, script file, or operable program.\r\n" };
      const code = Number(p.code);
      if (!Number.isInteger(code) || code <= 0) return { code: 1, stdout: '', stderr: 'Invalid bugcheck code\r\n' };
      return { code: 0, stdout: '', stderr: '', bugcheck: code };
    },
    'cd-drive': () => (state.cdLoaded && state.cdLag-- <= 0 ? { code: 0, stdout: JSON.stringify({ Letter: 'D' }), stderr: '' } : { code: 1, stdout: '', stderr: 'no CD in the drive\r\n' }),
    'pnputil-add': (p) => pnputilAdd(String(p.inf), p.install !== false),
    // Get-WindowsDriver -Online of the PV packages, and the xenbus monitor's Request subkeys with a Reboot value
    'driver-store': () => ({
      code: 0,
      stdout: JSON.stringify({
        packages: [...state.store.values()].map((v) => ({ Driver: v.published, OriginalFileName: `C:\\Windows\\System32\\DriverStore\\FileRepository\\${v.driver}.inf_amd64_${v.published.replace(/\D/g, '')}e1c2\\${v.driver}.inf`, Version: v.version })),
        requests: [...state.rebootRequests],
      }),
      stderr: '',
    }),
    // pnputil /delete-driver oemNN.inf [/uninstall] [/force] (Microsoft, "PnPUtil Command Syntax"):
    // the package leaves the store and, with /uninstall, its devices; a device in use keeps running it
    // until the next boot (3010). Without /uninstall a package a device uses is refused; without
    // /force so is one whose device vetoes its removal (in use). The XEN service stays.
    'pnputil-delete': (p) => {
      const oem = String(p.oem).toLowerCase();
      const script = state.scripts.at(-1)!;
      const entry = [...state.store.values(), ...state.outranked].find((v) => v.published === oem);
      if (!entry) return { code: 2, stdout: crlf(`Microsoft PnP Utility\n\nFailed to delete driver package: The system cannot find the file specified.\n`), stderr: '' };
      const uninstall = /\/delete-driver \$p\.oem \/uninstall/.test(script);
      const force = /\/delete-driver \$p\.oem[^\n]* \/force/.test(script);
      const takes = state.store.get(entry.driver) === entry && state.bound.has(entry.driver);
      const inUseText = 'Microsoft PnP Utility\n\nFailed to delete driver package: One or more devices are presently installed using the specified INF.\n';
      if (takes && (!uninstall || (!force && state.removalVetoed.has(entry.driver)))) return { code: 1, stdout: crlf(inUseText), stderr: '' };
      const inUse = removePackage(entry);
      return { code: inUse ? 3010 : 0, stdout: crlf(`Microsoft PnP Utility\n\nDriver package uninstalled.\nDriver package deleted successfully.\n${inUse ? 'System reboot is needed to complete uninstall operations!\n' : ''}`), stderr: '' };
    },
    // pnputil /enum-drivers: the OEM packages of the store, one block each (Microsoft, "PnPUtil
    // Command Syntax" / "PnPUtil Examples": Published Name, Original Name, Provider Name, Class Name,
    // Class GUID, Driver Version as DriverVer's date and version, Signer Name)
    'pnputil-enum-drivers': () => ({
      code: 0,
      stdout: crlf(`Microsoft PnP Utility\n\n${[...state.store.values(), ...state.outranked].sort((x, y) => Number(x.published.replace(/\D/g, '')) - Number(y.published.replace(/\D/g, ''))).map((v) => [
        `Published Name:     ${v.published}`, `Original Name:      ${v.driver}.inf`, `Provider Name:      ${v.provider}`, `Class Name:         ${v.driver === 'xennet' ? 'Network adapters' : v.driver === 'xenvbd' ? 'Storage controllers' : 'System devices'}`,
        `Class GUID:         ${v.driver === 'xennet' ? '{4d36e972-e325-11ce-bfc1-08002be10318}' : v.driver === 'xenvbd' ? '{4d36e97b-e325-11ce-bfc1-08002be10318}' : '{4d36e97d-e325-11ce-bfc1-08002be10318}'}`,
        `Driver Version:     ${v.date} ${v.version}`, `Signer Name:        ${v.testSignedBy ? 'Xen Project Test Signing' : 'Microsoft Windows Hardware Compatibility Publisher'}`,
      ].join('\n') + '\n').join('\n')}`),
      stderr: '',
    }),
    'nic-set': (p) => {
      const mac = String(p.mac);
      const up = adapters().filter((a) => a.mac === mac && a.up);
      if (up.length !== 1) return { code: 3, stdout: '', stderr: `no single adapter up with MAC ${mac} (found ${up.length})\r\n` };
      const addrs = (p.addresses as { ip: string; prefix: number }[]).map((x) => `${x.ip}/${x.prefix}`);
      state.nicSettings.set(up[0]!.key, { addresses: addrs, dns: (p.dns as string[]) ?? [], ...(p.mtu ? { mtu: Number(p.mtu) } : {}) });
      return { code: 0, stdout: '', stderr: '' };
    },
    'nic-report': () => ({
      code: 0,
      stdout: JSON.stringify(adapters().map((a) => {
        const c = state.nicSettings.get(a.key);
        return { mac: a.mac, up: a.up, driver: a.driver, addresses: c?.addresses ?? [], dns: c?.dns ?? [], mtu: c?.mtu ?? 1500 };
      })),
      stderr: '',
    }),
    // The vendor installer: installs every driver package found beside it (one folder per driver),
    // registers its product under the Uninstall key, writes its verbose log, and asks for the restart
    // it was told not to do. Over another provider's PV drivers its driver custom action fails and
    // msiexec ends 1603 (the xapi "xenprep" design: existing drivers "must be uninstalled before the
    // new drivers are installed"; win-installer InstallAgent.cs removes older tools first, which a
    // quiet MSI install does not do), the log saying why.
    msiexec: (p) => {
      const msi = normPath(String(p.msi));
      const log = msiLog(String(p.log), `/i ${msi}`);
      state.installers.push(msi);
      const fail = state.failNextInstaller;
      state.failNextInstaller = undefined;
      if (!state.files.has(msi)) return log.end(1619, ['MSI (c): Note: 1: 2203 2: ' + msi + ' 3: -2147287038', 'This installation package could not be opened.']);
      if (fail) return log.end(fail, [`CustomAction InstallDrivers returned actual error code ${fail}`]);
      const dir = msi.slice(0, msi.lastIndexOf('\\'));
      const infs = [...state.files.keys()].filter((k) => k.startsWith(`${dir}\\`) && /^[^\\]+\\[^\\]+\.inf$/i.test(k.slice(dir.length + 1)));
      const providers = new Set(infs.map((k) => infProvider(state.files.get(k)!.toString('utf8'))));
      const foreign = [...state.store.values()].filter((v) => !providers.has(v.provider));
      if (foreign.length) {
        return log.end(1603, [`CustomAction InstallDrivers: other Xen PV drivers are installed: ${foreign.map((v) => `${v.driver} ${v.version} (${v.provider})`).join(', ')}; remove them first`, 'CustomAction InstallDrivers returned actual error code 1603']);
      }
      const added: DriverPackage[] = [];
      for (const inf of infs) {
        const r = pnputilAdd(inf);
        if (r.code !== 0 && r.code !== 3010) return log.end(1603, [`CustomAction InstallDrivers: pnputil could not add ${inf}`, 'CustomAction InstallDrivers returned actual error code 1603']);
        added.push(state.store.get(inf.slice(inf.lastIndexOf('\\') + 1).replace(/\.inf$/i, '').toLowerCase())!);
      }
      const product = msiProduct(state.files.get(msi)!, added[0]?.provider ?? 'Xen Project', added[0]?.version ?? '');
      state.products.set(product.code.toUpperCase(), { ...product, wow64: false, drivers: added });
      // the vendor tools' MSI installs the guest agent with the drivers (managementagent*.msi)
      state.agentInstalled = true;
      return log.end(3010, [`MSI (s): Product: ${product.name} -- Installation completed successfully.`]);
    },
    // msiexec /x {ProductCode}: the product's driver packages leave the store and their devices (its
    // uninstall runs pnputil's way), its Uninstall key goes. A code Windows Installer does not have is
    // 1605 (ERROR_UNKNOWN_PRODUCT; Microsoft, "MsiExec.exe and InstMsi.exe Error Messages").
    'msiexec-uninstall': (p) => {
      const code = String(p.code).toUpperCase();
      const log = msiLog(String(p.log), `/x ${code}`);
      const product = state.products.get(code);
      if (!product || product.stale) return log.end(1605, ['This action is only valid for products that are currently installed.']);
      const fail = state.failNextUninstall;
      state.failNextUninstall = undefined;
      if (fail) return log.end(fail, [`CustomAction UninstallDrivers returned actual error code ${fail}`, `MSI (s): Product: ${product.name} -- Removal failed.`]);
      let inUse = false;
      for (const d of product.drivers) if ([...state.store.values(), ...state.outranked].includes(d)) inUse = removePackage(d) || inUse;
      state.products.delete(code);
      return log.end(inUse ? 3010 : 0, [`MSI (s): Product: ${product.name} -- Removal completed successfully.`]);
    },
    // the Uninstall keys (both views) of Windows Installer products, as the agent's script reads them
    'msi-products': () => ({ code: 0, stdout: JSON.stringify([...state.products.values()].map((v) => ({ code: v.code, name: v.name, publisher: v.publisher, version: v.version, wow64: v.wow64 }))), stderr: '' }),
    // Get-ChildItem -File -Filter *.msi of each folder that exists (not recursive)
    'find-msi': (p) => {
      const roots = ((p.roots as string[]) ?? []).map(normPath);
      return { code: 0, stdout: JSON.stringify(roots.flatMap((root) => [...state.files.keys()].filter((k) => k.startsWith(root) && !k.slice(root.length).includes('\\') && /\.msi$/i.test(k)))), stderr: '' };
    },
    // `verifier /query`: statistics of the drivers verified in this boot (labels localized).
    'verifier-query': () => ({
      code: 0,
      stdout: crlf(state.verifierActive.length
        ? `${german ? 'Ebene' : 'Level'}: 000209BB\n${state.verifierActive.map((d) => `\n${german ? 'Name' : 'Name'}: ${d}, ${german ? 'Ladevorgänge' : 'loads'}: 1, ${german ? 'Entladevorgänge' : 'unloads'}: 0\n`).join('')}`
        : german ? 'Zurzeit werden keine Treiber überprüft.\n' : 'No drivers are currently verified.\n'),
      stderr: '',
    }),
    // pnputil /enum-devices arrived with Windows 10 1903 (Microsoft's PnPUtil command syntax page);
    // Server 2016's pnputil answers an unknown command with its usage and a failure exit code.
    'pnputil-enum': () => (os === 'server2016' ? { code: 87, stdout: crlf(german ? 'Microsoft-PnP-Dienstprogramm\n\nUngültiger Parameter.\n' : 'Microsoft PnP Utility\n\nInvalid command line.\n'), stderr: '' } : { code: 0, stdout: crlf(enumDevices()), stderr: '' }),
    'pnp-cim': () => ({ code: 0, stdout: JSON.stringify(cimDevices()), stderr: '' }),
    'reboot-pending': () => ({ code: 0, stdout: JSON.stringify({ devices: cimDevices().filter((d) => d.ConfigManagerErrorCode === 14).map((d) => d.DeviceID), renames: false, cbs: false }), stderr: '' }),
    verifier: (p) => {
      if (!state.verifierIgnored) state.verifier = ((p.drivers as string[]) ?? []).map((d) => d.toLowerCase());
      return { code: 2, stdout: crlf('\nThe system reboot is required for the changes to take effect.\n'), stderr: '' };
    },
    'disk-of': (p) => {
      const target = Number(p.target);
      if (!Number.isInteger(target) || target < 0 || (target > 3 && !state.dataDisks.has(target))) return { code: 1, stdout: '', stderr: `no disk at XENVBD target ${p.target}\r\n` };
      return { code: 0, stdout: JSON.stringify({ Number: target, IsSystem: target === 0, IsBoot: target === 0 }), stderr: '' };
    },
    diskspd: (p) => diskspd(p.args as string[]),
    // Windows' cache manager keeps what was written through a buffered handle, and a read of the
    // same range is served from it (CreateFileW: FILE_FLAG_NO_BUFFERING 0x20000000 bypasses it;
    // FILE_FLAG_WRITE_THROUGH 0x80000000 makes a write complete only once on the disk). So lost
    // writes show only when the pass is unbuffered and write-through, on a disk of its own (the
    // system disk, 0, is shared with the pagefile and Windows' own cached I/O).
    verify: (p) => {
      const flags = Number(p.flags ?? 0x80000000) >>> 0;
      const disk = Number(p.disk);
      const proves = disk > 0 && (flags & 0x20000000) !== 0 && (flags & 0x80000000) !== 0;
      state.verifyRuns.push({ disk, flags, proves });
      return { code: 0, stdout: JSON.stringify({ blocks: Number(p.mib), mismatches: proves ? state.verifyMismatches : 0 }), stderr: '' };
    },
    // Windows Defender Firewall blocks inbound connections to a program without a rule: the script
    // opens one (New-NetFirewallRule) around the run and removes it (Remove-NetFirewallRule).
    ntttcp: (p) => {
      const script = state.scripts.at(-1)!;
      const rule = typeof p.rule === 'string' && /New-NetFirewallRule -DisplayName \$p\.rule/.test(script) ? p.rule : undefined;
      const args = p.args as string[];
      if (rule) state.firewallOpened.push(rule);
      if (args.includes('-r') && !rule) return { code: 1, stdout: '', stderr: 'ntttcp: no connection from the sender (blocked by the firewall)\r\n' };
      const r = ntttcp(args);
      if (rule && /finally \{ Remove-NetFirewallRule -DisplayName \$p\.rule/.test(script)) state.firewallRules = state.firewallRules.filter((x) => x !== rule);
      else if (rule) state.firewallRules.push(rule);
      return r;
    },
    'disc-has': (p) => ({ code: 0, stdout: JSON.stringify(((p.paths as string[]) ?? []).map((f) => state.files.has(normPath(f)))), stderr: '' }),
    'disc-manifest': (p) => ({ code: 0, stdout: state.files.get(normPath(String(p.path)))?.toString('utf8') ?? 'null', stderr: '' }),
    // Get-AuthenticodeSignature of the installer and of every .cat below the disc root, and the
    // test certificates in the folders asked (Get-ChildItem, .cer/.crt). A test signature is Valid
    // only once its root is in LocalMachine\Root; before that the chain "terminated in a root
    // certificate which is not trusted": Status UnknownError (SignatureStatus, PowerShell).
    authenticode: (p) => {
      const root = normPath(String(p.root));
      const files = [normPath(String(p.msi)), ...[...state.files.keys()].filter((k) => k.startsWith(`${root}\\`) && /\.cat$/i.test(k))];
      const sigs = files.map((f) => {
        const data = state.files.get(f);
        if (!data) throw new Error(`Get-AuthenticodeSignature : Cannot find path '${f}' because it does not exist.`);
        const text = data.toString('latin1');
        const signed = /\.msi$/i.test(f) ? data.includes(MSI_SIGNATURE_STREAM) : !text.includes(UNSIGNED_CATALOG_MARKER);
        const test = text.includes(TEST_SIGNER_MARKER) ? text.slice(text.indexOf(TEST_SIGNER_MARKER) + TEST_SIGNER_MARKER.length).slice(0, 40) : undefined;
        const status = !signed ? 'NotSigned' : test && !state.certStores.Root.has(test) ? 'UnknownError' : 'Valid';
        return { path: f, status, signer: !signed ? '' : test ? 'CN=Xen Project Test Signing' : 'CN=Vendor, O=Vendor' };
      });
      const certs = ((p.certDirs as string[]) ?? []).map(normPath).flatMap((d) => [...state.files.keys()].filter((k) => k.startsWith(`${d}\\`) && !k.slice(d.length + 1).includes('\\') && /\.(cer|crt)$/i.test(k)));
      return { code: 0, stdout: JSON.stringify({ files: sigs, certs }), stderr: '' };
    },
    'guest-facts': () => ({ code: 0, stdout: JSON.stringify({ arch: state.arch, secureBoot: state.secureBoot, testSigning: state.testSigning.boot }), stderr: '' }),
    // Import-Certificate into the stores the script names; a missing file fails the cmdlet.
    'trust-test-cert': (p) => {
      const script = state.scripts.at(-1)!;
      for (const c of (p.certs as string[]) ?? []) {
        const der = state.files.get(normPath(c));
        if (!der) return { code: 1, stdout: '', stderr: `Import-Certificate : The system cannot find the file specified. (${c})\r\n` };
        for (const store of ['Root', 'TrustedPublisher'] as const) if (script.includes(`Cert:\\LocalMachine\\${store} `)) state.certStores[store].add(thumbprint(der));
      }
      return { code: 0, stdout: '', stderr: '' };
    },
    // Under Secure Boot the testsigning element is locked (Microsoft, "BCDEdit /set": "The value is
    // protected by Secure Boot policy and cannot be modified or deleted"); otherwise it is written
    // to the BCD store and read at the next boot (Microsoft, "The TESTSIGNING Boot Configuration Option").
    'bcdedit-testsigning': () => {
      if (state.secureBoot) return { code: 1, stdout: '', stderr: 'An error has occurred setting the element data.\r\nThe value is protected by Secure Boot policy and cannot be modified or deleted.\r\n' };
      state.testSigning.bcd = true;
      return { code: 0, stdout: 'The operation completed successfully.\r\n', stderr: '' };
    },
    // newest first, as the agent's Sort-Object LastWriteTime -Descending gives them
    'crash-dump': () => ({ code: 0, stdout: JSON.stringify([...state.crashDumps].reverse().map((d) => ({ FullName: d.path, Length: d.bytes }))), stderr: '' }),
  };

  /** A package out of the store (and, when its device ran it, off the device at the next boot):
   *  xenvif's device going withdraws its NICS unplug request (win-xenvif src/xenvif/pdo.c
   *  PdoStopDevice -> PdoUnplugRequest FALSE -> xenbus UnplugDecrementValue), xenvbd's its DISKS
   *  request (win-xenvbd src/xenvbd/adapter.c AdapterUnplugRequest FALSE); another provider's
   *  package of the driver takes the device over. Returns whether the device ran it (reboot needed). */
  function removePackage(entry: DriverPackage): boolean {
    const i = state.outranked.indexOf(entry);
    if (i >= 0) {
      state.outranked.splice(i, 1);
      return false;
    }
    state.store.delete(entry.driver);
    const next = state.outranked.map((v) => v.driver).lastIndexOf(entry.driver);
    if (next >= 0) state.store.set(entry.driver, state.outranked.splice(next, 1)[0]!);
    else if (!state.unplugKeptOnRemoval) {
      if (entry.driver === 'xenvif') state.unplugRequest.nics = false;
      if (entry.driver === 'xenvbd') state.unplugRequest.disks = false;
    }
    return state.bound.has(entry.driver);
  }

  /** msiexec's verbose log (/l*v, UTF-16LE as Windows Installer writes it) and its exit code. */
  function msiLog(path: string, command: string) {
    const lines = [`=== Verbose logging started: msiexec ${command} /qn /norestart ===`];
    return {
      end(code: number, more: string[]) {
        lines.push(...more, `MSI (s): Windows Installer ended with exit code ${code}`, '=== Logging stopped ===');
        state.files.set(normPath(path), Buffer.from(`${lines.join('\r\n')}\r\n`, 'utf16le'));
        return { code, stdout: '', stderr: '' };
      },
    };
  }

  /** Get-NetAdapter: per VIF, the emulated NIC (until xen.sys unplugged it) and the PV NIC (xennet
   *  bound on a started xenvif). */
  function adapters(): { key: string; mac: string; up: boolean; driver: string }[] {
    const net = state.bound.get('xennet');
    const pv = net !== undefined && state.bound.has('xenvif') && !state.needRestart.has('xenvif');
    return state.macs.flatMap((m) => {
      const mac = m.toUpperCase().replace(/:/g, '-');
      return [
        ...(state.unplugged.nics ? [] : [{ key: `emulated:${m}`, mac, up: true, driver: 'RTL8139.sys' }]),
        ...(pv ? [{ key: pvNicKey(net!, m), mac, up: true, driver: 'xennet.sys' }] : []),
      ];
    });
  }

  function pnputilAdd(infPath: string, install = true): { code: number; stdout: string; stderr: string } {
    const inf = normPath(infPath);
    const base = inf.slice(inf.lastIndexOf('\\') + 1);
    const text = state.files.get(inf)?.toString('utf8');
    if (text === undefined) {
      return { code: 2, stdout: crlf(`Microsoft PnP Utility\n\nAdding driver package:  ${base}\nFailed to add driver package: The system cannot find the file specified.\n\nTotal driver packages:  1\nAdded driver packages:  0\n`), stderr: '' };
    }
    const dv = /^\s*DriverVer\s*=\s*([0-9/]+)\s*,\s*([0-9.]+)/im.exec(text);
    if (!dv) {
      return { code: 13, stdout: crlf(`Microsoft PnP Utility\n\nAdding driver package:  ${base}\nFailed to add driver package: The INF is invalid.\n\nTotal driver packages:  1\nAdded driver packages:  0\n`), stderr: '' };
    }
    const driver = base.replace(/\.inf$/i, '').toLowerCase();
    const published = `oem${nextOem++}.inf`;
    const catName = /^\s*CatalogFile\s*=\s*(\S+)/im.exec(text)?.[1];
    const cat = catName ? state.files.get(`${inf.slice(0, inf.lastIndexOf('\\'))}\\${catName}`)?.toString('latin1') : undefined;
    const testSignedBy = cat?.includes(TEST_SIGNER_MARKER) ? cat.slice(cat.indexOf(TEST_SIGNER_MARKER) + TEST_SIGNER_MARKER.length).slice(0, 40) : undefined;
    const provider = infProvider(text);
    const before = state.store.get(driver);
    if (before && before.provider !== provider) state.outranked.push(before);
    state.store.set(driver, { driver, version: dv[2]!, date: dv[1]!, provider, published, ...(testSignedBy ? { testSignedBy } : {}) });
    if (driver === 'xenbus') state.xenService = true;
    // A device already bound to an older package needs a reboot to take the new one; without
    // /install the package is only staged in the store: nothing is installed now, nothing to reboot for.
    const reboot = install && (driver === 'xenbus' || state.bound.has(driver));
    if (german) {
      return { code: reboot ? 3010 : 0, stdout: crlf(`Microsoft-PnP-Dienstprogramm\n\nTreiberpaket wird hinzugefügt:  ${base}\nDas Treiberpaket wurde erfolgreich hinzugefügt.\nVeröffentlichter Name:           ${published}\n\nTreiberpakete gesamt:  1\nHinzugefügte Treiberpakete:  1\n${reboot ? 'Zum Abschließen der Installationsvorgänge ist ein Systemneustart erforderlich.\n' : ''}`), stderr: '' };
    }
    return {
      code: reboot ? 3010 : 0,
      stdout: crlf(`Microsoft PnP Utility\n\nAdding driver package:  ${base}\nDriver package added successfully.\nPublished Name:         ${published}\n${install ? 'Driver package installed on matching devices.\n' : ''}\nTotal driver packages:  1\nAdded driver packages:  1\n${reboot ? 'System reboot is needed to complete install operations!\n' : ''}`),
      stderr: '',
    };
  }

  const pvBound = () => state.bound.has('xenbus');
  // Revisions as the driver specs have them: xenvif and xenvbd bind XENBUS ...&REV_0900000B,
  // xennet binds XENVIF ...&DEV_NET&REV_09000005.
  const rev = '&REV_0900000B';
  const netRev = '&REV_09000005';
  function devices() {
    const xb = state.bound.get('xenbus');
    const pd = state.platformDevices[0] ?? '0001';
    const list: { id: string; desc: string; cls: string; drv?: DriverPackage; matching: string; service: string }[] = [
      { id: `PCI\\VEN_5853&DEV_${pd}&SUBSYS_${pd}5853&REV_02\\3&267A616A&0&18`, desc: xb ? 'XENBUS' : 'PCI Device', cls: 'System', drv: xb, matching: `PCI\\VEN_5853&DEV_${pd}&SUBSYS_${pd}5853&REV_02`, service: xb ? 'xenbus' : '' },
    ];
    if (xb) {
      const ready = (d: string) => (state.needRestart.has(d) ? undefined : state.bound.get(d));
      const vif = ready('xenvif');
      const net = ready('xennet');
      const vbd = ready('xenvbd');
      list.push(
        { id: `XENBUS\\VEN_XP0001&DEV_VIF${rev}\\_`, desc: 'XENVIF', cls: 'System', drv: vif, matching: `XENBUS\\VEN_XP0001&DEV_VIF${rev}`, service: vif ? 'xenvif' : '' },
        { id: `XENVIF\\VEN_XP0001&DEV_NET${netRev}\\0`, desc: 'XENNET', cls: 'Net', drv: vif ? net : undefined, matching: `XENVIF\\VEN_XP0001&DEV_NET${netRev}`, service: net ? 'xennet' : '' },
        { id: `XENBUS\\VEN_XP0001&DEV_VBD${rev}\\_`, desc: 'XENVBD', cls: 'SCSIAdapter', drv: vbd, matching: `XENBUS\\VEN_XP0001&DEV_VBD${rev}`, service: vbd ? 'xenvbd' : '' },
      );
      // xeniface binds the IFACE child xenbus enumerates (drivers-spec/xeniface.xml, binds REV_0900000B);
      // listed only with xeniface installed (a guest without it would show an unknown device there)
      const iface = state.bound.get('xeniface');
      if (iface) list.push({ id: `XENBUS\\VEN_XP0001&DEV_IFACE${rev}\\_`, desc: 'XENIFACE', cls: 'System', drv: iface, matching: `XENBUS\\VEN_XP0001&DEV_IFACE${rev}`, service: 'xeniface' });
    }
    return list;
  }

  function enumDevices(): string {
    let out = 'Microsoft PnP Utility\n\n';
    for (const d of devices()) {
      out += `Instance ID:                ${d.id}\nDevice Description:         ${d.drv ? d.desc : 'Unknown device'}\nClass Name:                 ${d.cls}\n`;
      out += `Manufacturer Name:          ${d.drv?.provider ?? '(Unknown)'}\nStatus:                     ${d.drv ? 'Started' : 'Problem'}\n`;
      if (d.drv) {
        out += `Driver Name:                ${d.drv.published}\nMatching Drivers:\n    Driver Name:            ${d.drv.published}\n    Original Name:          ${d.drv.driver}.inf\n`;
        out += `    Provider Name:          ${d.drv.provider}\n    Class Name:             ${d.cls}\n    Driver Version:         ${d.drv.date} ${d.drv.version}\n`;
        out += `    Matching Device ID:     ${d.matching}\n    Driver Rank:            00FF0000\n    Driver Status:          Best Ranked / Installed\n`;
      } else out += 'Problem Code:               28 (0x1C) [CM_PROB_FAILED_INSTALL]\n';
      out += '\n';
    }
    if (!state.unplugged.disks) {
      out += 'Instance ID:                IDE\\DISKQEMU_HARDDISK___________________________2.5+____\\5&1F5B7A2&0&0.0.0\nDevice Description:         QEMU HARDDISK ATA Device\nClass Name:                 DiskDrive\nStatus:                     Started\nDriver Name:                disk.inf\n\n';
    }
    return out;
  }

  // Win32_PnPEntity joined with Win32_PnPSignedDriver, as the agent's CIM script gives them.
  function cimDevices() {
    const pending = (id: string) => (/DEV_VIF/.test(id) && state.needRestart.has('xenvif')) || (/DEV_VBD/.test(id) && state.needRestart.has('xenvbd'));
    const xen = devices().map((d) => {
      const unsigned = d.drv === undefined && [...state.unsigned].some((u) => d.desc === u.toUpperCase() || (u === 'xenbus' && d.id.startsWith('PCI\\VEN_5853')));
      const code = d.drv ? 0 : pending(d.id) ? 14 : unsigned ? 52 : 28;
      return { DeviceID: d.id, ConfigManagerErrorCode: code, Service: d.drv ? d.service : null, HardwareID: [d.matching], DriverVersion: d.drv?.version ?? null, InfName: d.drv?.published ?? null };
    });
    const emulated = [
      ...(state.unplugged.disks ? [] : [{ DeviceID: 'IDE\\DISKQEMU_HARDDISK___________________________2.5+____\\5&1F5B7A2&0&0.0.0', ConfigManagerErrorCode: 0, Service: 'disk', HardwareID: ['IDE\\DiskQEMU_HARDDISK___________________________2.5+____'], DriverVersion: '10.0.20348.1', InfName: 'disk.inf' }]),
      ...(state.unplugged.nics ? [] : [{ DeviceID: 'PCI\\VEN_10EC&DEV_8139&SUBSYS_11001AF4&REV_20\\3&267A616A&0&20', ConfigManagerErrorCode: 0, Service: 'rtl8139', HardwareID: ['PCI\\VEN_10EC&DEV_8139&SUBSYS_11001AF4&REV_20'], DriverVersion: '6.110.0.0', InfName: 'netrtl.inf' }]),
    ];
    return [...xen, ...emulated];
  }

  const flag = (args: string[], f: string) => {
    const a = args.find((x) => x.startsWith(f));
    return a === undefined ? undefined : a.slice(f.length);
  };

  /** -S's modifiers may come in one switch (-Suw) or several (-Su -Sw). */
  const cacheSwitches = (args: string[]) => {
    const mods = args.filter((a) => /^-S[bhmruw]*$/.test(a)).map((a) => a.slice(2)).join('');
    return mods.includes('h') || (mods.includes('u') && mods.includes('w'));
  };

  function diskspd(args: string[]): { code: number; stdout: string; stderr: string } {
    const bs = Number(flag(args, '-b'));
    const qd = Number(flag(args, '-o'));
    const threads = Number(flag(args, '-t'));
    const wp = Number(flag(args, '-w'));
    const secs = Number(flag(args, '-d'));
    const target = args[args.length - 1]!;
    if (![bs, qd, threads, wp, secs].every(Number.isFinite) || !args.includes('-Rxml')) return { code: 1, stdout: '', stderr: 'diskspd: invalid arguments\r\n' };
    // -Sh is -Su (no software cache) with -Sw (write-through) (diskspd wiki, "Command line and parameters")
    state.diskspdRuns.push({ args, target, cacheBypassed: cacheSwitches(args) });
    // PV storage is faster than the emulated disk: the double answers with plausible figures.
    const iops = pvBound() ? 42000 : 900;
    const perThread = Math.floor((iops * secs) / threads);
    const writes = Math.floor((perThread * wp) / 100);
    const lat = (n: number, base: number) => Array.from({ length: Math.min(n, 2000) }, (_, i) => base + (i % 97) / 40);
    const fail = state.failNextDiskspd;
    state.failNextDiskspd = false;
    const xml = renderDiskspdXml({
      computerName: state.name.toUpperCase(),
      profile: { durationSeconds: secs, warmupSeconds: 0, blockSize: bs, queueDepth: qd, threadsPerTarget: threads, writePercent: wp, random: args.some((a) => a.startsWith('-r')), measureLatency: args.includes('-L'), disableOsCache: args.includes('-Sh') },
      testTimeSeconds: secs,
      cpus: [{ userPercent: 2, kernelPercent: 18, idlePercent: 80 }, { userPercent: 1.5, kernelPercent: 12.5, idlePercent: 86 }],
      threads: Array.from({ length: threads }, () => ({ targets: [{ path: target, fileSize: 10 * 2 ** 30, readBytes: (perThread - writes) * bs, readCount: perThread - writes, writeBytes: writes * bs, writeCount: writes, readLatencyMs: lat(perThread - writes, 0.3), writeLatencyMs: lat(writes, 0.6) }] })),
      error: fail ? 'The test was interrupted before the measurements began. No results are displayed.' : undefined,
    });
    return { code: 0, stdout: crlf(xml), stderr: '' };
  }

  function ntttcp(args: string[]): { code: number; stdout: string; stderr: string } {
    const role = args.includes('-s') ? 'sender' : 'receiver';
    const m = args[args.indexOf('-m') + 1] ?? '';
    const threads = Number(m.split(',')[0]);
    const secs = Number(args[args.indexOf('-t') + 1]);
    if (!Number.isFinite(threads) || !Number.isFinite(secs)) return { code: 1, stdout: '', stderr: 'ntttcp: invalid arguments\r\n' };
    const bytesPerThread = (pvBound() ? 1.2e9 : 9e7) * secs / threads;
    const xml = renderNtttcpXml({
      role, computerName: state.name.toUpperCase(),
      params: { port: 5001, runTimeMs: secs * 1000, warmupMs: 0, cooldownMs: 0, udp: false, verifyData: false, bufferLen: 65536, async: false },
      threads: Array.from({ length: threads }, () => ({ bytes: Math.round(bytesPerThread), realtimeSeconds: secs })),
      realtimeSeconds: secs, packetsSent: 1000 * secs, packetsReceived: 1000 * secs, packetsRetransmitted: role === 'sender' ? 3 : 0, errors: 0, cpuPercent: 21.5,
    });
    return { code: 0, stdout: crlf(xml), stderr: '' };
  }

  await new Promise<void>((res) => server.listen(o.port ?? 0, o.host, () => res()));
  const port = (server.address() as AddressInfo).port;
  const double: WindowsDouble = {
    host: o.host,
    port,
    hostKeyFingerprint: sha256Fingerprint(key.getPublicSSH()),
    state,
    insertDisc(files) {
      for (const k of [...state.files.keys()]) if (k.startsWith('D:\\')) state.files.delete(k);
      state.cdLoaded = files !== null;
      for (const [k, v] of files ?? []) state.files.set(normPath(`D:\\${k}`), v);
    },
    nmi() {
      if (state.crashControl.nmiCrashDump) bugcheck(0x80);
    },
    writeCrashDump(kind, bytes = kind === 'full' ? 3 * 2 ** 20 + 17 : 256 * 1024, memory = [], code = 0x1e) {
      const path = kind === 'full' ? 'C:\\Windows\\MEMORY.DMP' : `C:\\Windows\\Minidump\\112426-${String(state.crashDumps.length + 1).padStart(5, '0')}-01.dmp`;
      const data = dumpBytes(bytes, `${state.name}:${path}`, code);
      // what the guest had in memory lands in the dump (spread over it, one across the 1 MiB mark)
      memory.forEach((m, i) => m.copy(data, i === 0 ? 2 ** 20 - Math.floor(m.length / 2) : Math.floor((data.length * (i + 1)) / (memory.length + 2))));
      state.files.set(path, data);
      state.crashDumps.push({ path, bytes: data.length });
      return { path, data };
    },
    boot() {
      state.boots++;
      // xen.sys (from the xenbus package) reads the unplug request early in this boot.
      state.unplugged = state.xenService ? { ...state.unplugRequest } : { disks: false, nics: false };
      state.rebootRequests.clear();
      // a package deleted from the store no longer binds its device at this boot
      for (const k of [...state.bound.keys()]) if (!state.store.has(k)) state.bound.delete(k);
      // test signing is read from the BCD at boot; a test-signed driver loads only with it on and
      // its test root trusted, else its device stops at CM_PROB_UNSIGNED_DRIVER (52) (Microsoft,
      // "Device Manager error codes": code 52; "The TESTSIGNING Boot Configuration Option")
      state.testSigning.boot = state.testSigning.bcd && !state.secureBoot;
      state.unsigned.clear();
      for (const [k, v] of state.store) {
        if (v.testSignedBy && !(state.testSigning.boot && state.certStores.Root.has(v.testSignedBy))) {
          state.unsigned.add(k);
          state.bound.delete(k);
        } else state.bound.set(k, v);
      }
      state.needRestart.clear();
      state.verifierActive = [...state.verifier];
      if (!state.bound.has('xenbus')) return undefined;
      // xenbus now enumerates its children; xenvif's and xenvbd's install on those devices asks for
      // the unplug of the emulated NICs / disks (Services\XEN\Unplug NICS / DISKS) and leaves the
      // device at CM_PROB_NEED_RESTART until the next boot performs it (win-xenvif, win-xenvbd:
      // the driver requests the unplug and reports that a restart is required).
      for (const [drv, cls] of [['xenvif', 'nics'], ['xenvbd', 'disks']] as const) {
        if (!state.bound.has(drv)) continue;
        if (!state.unplugged[cls]) {
          state.unplugRequest[cls] = true;
          state.needRestart.add(drv);
          // xenvif pdo.c PdoRequestReboot / xenvbd adapter.c AdapterRequestReboot -> xenbus
          // ConfigRequestReboot: Services\xenbus_monitor\Request\XENVIF (XENVBD), value Reboot
          if (!state.rebootRequestLost) state.rebootRequests.add(drv.toUpperCase());
        }
      }
      if (state.stuckRestart) state.needRestart.add(state.stuckRestart);
      // The PV NIC's start: xenvif copies the configuration of the interface it recorded last (the
      // emulated NIC, saved when xenvif first met it up with the same MAC, or the PV NIC of another
      // provider's drivers, a device node of its own: XENVIF\VEN_<prefix>&DEV_NET) onto this one
      // when they differ, and records this one (win-xenvif src/xenvif/settings.c SettingsSave,
      // SettingsRestore -> SettingsCopy, SettingsStoreCurrent).
      const net = state.bound.get('xennet');
      if (net && !state.needRestart.has('xenvif')) {
        for (const m of state.macs) {
          const here = pvNicKey(net, m);
          const was = state.xenvifRecorded.get(m) ?? `emulated:${m}`;
          if (was === here) continue;
          const saved = state.nicSettings.get(was);
          if (saved && !state.nicSettingsNotCopied) state.nicSettings.set(here, { ...saved, addresses: [...saved.addresses] });
          state.xenvifRecorded.set(m, here);
        }
      }
      // PV_drivers_detected: only once a PV frontend connected (or xenbus alone is all there is).
      const children = ['xenvif', 'xenvbd'].filter((d) => state.bound.has(d));
      if (children.length && children.every((d) => state.needRestart.has(d))) return undefined;
      const xb = state.bound.get('xenbus')!;
      // DriverVer may give fewer than four parts; the guest agent reports the missing ones as 0.
      const [major = 0, minor = 0, micro = 0, build = 0] = xb.version.split('.').map(Number);
      return { major, minor, micro, build };
    },
    close: () =>
      new Promise<void>((res) => {
        for (const c of conns) c.end();
        server.close(() => res());
      }),
  };
  return double;
}

/** The PV NIC of a MAC is a device node per provider of xennet (another vendor's prefix makes a new
 *  node with a new interface GUID: win-xenvif pdo.c PdoQueryId), so its configuration is its own. */
const pvNicKey = (net: DriverPackage, mac: string) => `pv:${net.provider}:${mac}`;

/** An INF's Provider, its %strkey% resolved from [Strings] (Microsoft, "INF Strings Section"). */
export function infProvider(text: string): string {
  const raw = (/^\s*Provider\s*=\s*(.+?)\s*$/im.exec(text)?.[1] ?? 'Xen Project').replace(/"/g, '');
  const key = /^%(.+)%$/.exec(raw)?.[1];
  if (!key) return raw;
  const strings = text.slice(text.search(/^\s*\[Strings\]/im));
  return new RegExp(`^\\s*${key}\\s*=\\s*"?([^"\\r\\n]*)"?`, 'im').exec(strings)?.[1]?.trim() ?? raw;
}

/** The product an MSI installs: its marker, else a product of the drivers' provider. */
function msiProduct(msi: Buffer, provider: string, version: string): MsiProduct {
  const text = msi.toString('latin1');
  const at = text.indexOf(PRODUCT_MARKER);
  if (at >= 0) return JSON.parse(text.slice(at + PRODUCT_MARKER.length, text.indexOf('\n', at))) as MsiProduct;
  const h = createHash('sha1').update(msi).digest('hex').toUpperCase();
  return { code: `{${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}}`, name: 'Xen PV Drivers for Windows', publisher: provider, version };
}

/** A kernel dump's bytes: the DUMP_HEADER64 signature ("PAGE" "DU64"), its BugCheckCode (ULONG at
 *  0x38), and deterministic filler. */
function dumpBytes(n: number, seed: string, code: number): Buffer {
  const b = Buffer.alloc(Math.max(n, 0x40));
  b.write('PAGEDU64', 0, 'latin1');
  let x = 2166136261;
  for (const c of seed) x = Math.imul(x ^ c.charCodeAt(0), 16777619) >>> 0;
  for (let i = 8; i < b.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  b.writeUInt32LE(code >>> 0, 0x38);
  return b;
}

const { STATUS_CODE, OPEN_MODE } = utils.sftp;

/** An SFTP subsystem over an in-memory C: drive (enough for OpenSSH-for-Windows uploads and reads). */
function serveSftp(sftp: SFTPWrapper, files: Map<string, Buffer>) {
  const handles = new Map<number, { path: string; data: Buffer; write: boolean }>();
  let next = 1;
  const h = (id: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(id);
    return b;
  };
  sftp.on('OPEN', (reqid, filename, flags) => {
    const path = normPath(filename);
    const write = (flags & OPEN_MODE.WRITE) !== 0;
    const existing = files.get(path);
    if (!write && !existing) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE);
    const id = next++;
    handles.set(id, { path, data: write && flags & OPEN_MODE.TRUNC ? Buffer.alloc(0) : (existing ?? Buffer.alloc(0)), write });
    sftp.handle(reqid, h(id));
  });
  sftp.on('WRITE', (reqid, handle, offset, data) => {
    const f = handles.get(handle.readUInt32BE(0));
    if (!f) return sftp.status(reqid, STATUS_CODE.FAILURE);
    const end = offset + data.length;
    if (end > f.data.length) f.data = Buffer.concat([f.data, Buffer.alloc(end - f.data.length)]);
    data.copy(f.data, offset);
    sftp.status(reqid, STATUS_CODE.OK);
  });
  sftp.on('READ', (reqid, handle, offset, length) => {
    const f = handles.get(handle.readUInt32BE(0));
    if (!f) return sftp.status(reqid, STATUS_CODE.FAILURE);
    if (offset >= f.data.length) return sftp.status(reqid, STATUS_CODE.EOF);
    sftp.data(reqid, f.data.subarray(offset, offset + length));
  });
  sftp.on('FSTAT', (reqid, handle) => {
    const f = handles.get(handle.readUInt32BE(0));
    if (!f) return sftp.status(reqid, STATUS_CODE.FAILURE);
    sftp.attrs(reqid, { mode: 0o100644, size: f.data.length, uid: 0, gid: 0, atime: 0, mtime: 0 });
  });
  sftp.on('STAT', (reqid, p) => {
    const d = files.get(normPath(p));
    if (!d) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE);
    sftp.attrs(reqid, { mode: 0o100644, size: d.length, uid: 0, gid: 0, atime: 0, mtime: 0 });
  });
  sftp.on('CLOSE', (reqid, handle) => {
    const id = handle.readUInt32BE(0);
    const f = handles.get(id);
    if (f?.write) files.set(f.path, f.data);
    handles.delete(id);
    sftp.status(reqid, STATUS_CODE.OK);
  });
  sftp.on('REALPATH', (reqid, p) => sftp.name(reqid, [{ filename: p, longname: p, attrs: {} as never }]));
}
