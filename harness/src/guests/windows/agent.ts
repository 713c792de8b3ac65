// The Windows guest agent: PowerShell over OpenSSH. Installs driver packages with pnputil (the
// scenario's reboot step finishes the install), reads what Windows bound through CIM (devices.ts), runs
// diskspd and NTttcp and parses their XML with the workloads parsers.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BoundDriver, DriverBundle, DriverStatus, GuestAgent } from '../../model/host';
import type { BlockWorkloadStep, DeviceRef, NetWorkloadStep } from '../../model/scenario';
import type { BlockResult, NetResult } from '../../model/trace';
import { DRIVER_NAMES, type DriverName } from '../../model/spec';
import type { SshConnection } from '../../remote/ssh';
import { parseDiskspdXml } from '../../workloads/diskspd';
import { parseNtttcpXml } from '../../workloads/ntttcp';
import { guestError, runPs, runPsJson } from './powershell';
import { parseAddDriver } from './pnputil';
import { deletePackages, driverStates, readStore } from './driver-store';
import { readNics, setNic } from './nic-config';
import { CM_PROB_NEED_RESTART, CM_PROB_UNSIGNED_DRIVER, pendingReboot, readDevices, type PendingReboot } from './devices';
import { writeIsoImage } from '../../inf/iso';
import { bundleLayout, type BundleLayout } from './bundle-layout';
import { TOOLS_ISO, WINPV_BUNDLE } from '../../inf/layouts';
import { discSigningTraits, enableTestSigning, isTestSigned, readDiscSignatures, readSigningFacts, refuseUnloadable, type GuestSigningFacts } from './signing';
import { carriedBy, discCarries, discLayout, isoName, safeSegment, winPath } from './bundle-source';
import { CD_SCRIPT, CRASH_SCRIPT, DISK_SCRIPT, NTTTCP_SCRIPT, VERIFY_FLAGS, VERIFY_SCRIPT } from './agent-scripts';

export { VERIFY_FLAGS } from './agent-scripts';
import { discInstaller, enableVerifier, localInstaller, runInstaller, verifiedDrivers } from './installer';
import { deleteVendorPackages, uninstallProducts } from './uninstall';

/** What the agent needs from the host it runs on. */
export interface WindowsGuestLink {
  name: string;
  connect(): Promise<SshConnection>;
  /** The address peers reach this guest at (NTttcp). */
  address(): Promise<string>;
  /** ntttcp-for-linux in dom0, the far end of a network workload without a peer guest. */
  dom0Ntttcp?: {
    address(): Promise<string>;
    run(role: 'r' | 's', o: { threads: number; ip: string; seconds: number }): Promise<void>;
  };
  /** Insert a bundle ISO (by name, from the host's ISO SR) into the guest's CD drive. */
  insertIso?(name: string): Promise<void>;
  /** Put a local ISO on the host and into the guest's CD drive (XenAPI: an ISO VDI); `remove` ejects
   *  and deletes it. Hosts without it get local bundles copied into the guest over SFTP. */
  deliverIso?(isoPath: string, version: string): Promise<{ name: string; remove(): Promise<void> } | undefined>;
  /** XENVBD target id of a disk, when the host can read it from xenstore. */
  vbdTarget?(dev: DeviceRef): Promise<number | undefined>;
  /** The run's own data disk of this guest (a VDI and VBD the host creates once and destroys with
   *  the guest), for verifying workloads aimed at the system disk; absent: the host cannot make one. */
  dataDisk?(): Promise<{ dev: DeviceRef; label: string }>;
  log?(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void;
  /** How long to look for an inserted disc (default 15 looks 2 s apart). */
  discWait?: { attempts: number; ms: number };
  /** Drivers the host wants installed with every driver set, where the bundle carries them
   *  (XenAPI: xeniface, through which the guest agent reaches xenstore; xapi sees the PV drivers,
   *  PV_drivers_detected, only once the agent runs). */
  companions?: DriverName[];
  /** The MAC of the NIC the harness reaches the guest through (XenAPI: VIF 0's, the guest's SSH
   *  address): its configuration is not the scenario's to change. */
  transportMac?(): Promise<string | undefined>;
  /** Copies a file of the guest into the run's report (an `artifact` trace event of this kind);
   *  returns where it is now. Absent: files stay in the guest. */
  keepFile?(guestPath: string, kind: 'installer-log'): Promise<string>;
}

/** A bundle's drivers placed in the guest: the root, each driver's INF there, and whether from a disc. */
interface Staging {
  staged: { root: string; infs: Map<DriverName, string>; fromDisc: boolean };
  layout: BundleLayout | undefined;
  facts: GuestSigningFacts | undefined;
}

const BUNDLE_ROOT = 'C:\\winpv\\bundle';
const DISC_WAIT = { attempts: 15, ms: 2000 };
/** Inbound rule NTttcp's receiver needs (Windows Defender Firewall blocks it otherwise); removed after. */
const NTTTCP_RULE = 'winpv-harness NTttcp';

export class WindowsAgent implements GuestAgent {
  constructor(private readonly link: WindowsGuestLink) {}

  private ssh(): Promise<SshConnection> {
    return this.link.connect();
  }

  // ----------------------------------------------------------------------------------- drivers

  async installDrivers(bundle: DriverBundle): Promise<{ version?: string }> {
    try {
      return await this.install(bundle);
    } finally {
      // discs nobody registered a cleanup for go when the install is over, whatever happened
      const failures: Error[] = [];
      for (const d of this.discs.splice(0)) await d.remove().catch((e: Error) => failures.push(e));
      if (failures.length) this.link.log?.('error', `${this.link.name}: removing the bundle disc failed: ${failures.map((e) => e.message).join('; ')}`);
    }
  }

  /** Bundle discs delivered without an `onCleanup` from the caller. */
  private readonly discs: { remove(): Promise<void> }[] = [];

  private async install(bundle: DriverBundle): Promise<{ version?: string }> {
    const ssh = await this.ssh();
    const iso = isoName(bundle);
    let { staged, layout, facts } = iso ? await this.stageFromPoolDisc(ssh, bundle, iso) : await this.stageLocal(ssh, bundle);
    // why Windows needs the restart, for the trace (each install reboot says its reason); a reboot
    // is needed when there is a reason
    const why: string[] = [];
    // the vendor's installer on a disc: the one for the guest's architecture
    const discMsi = bundle.installer && staged.fromDisc ? await discInstaller(ssh, this.link.name, staged.root, facts!.arch) : undefined;
    if (discMsi && !layout) layout = await this.judgeUnlabelledDisc(ssh, iso, staged.root, discMsi, facts!);
    if (layout && isTestSigned(layout.traits.signMode)) why.push(...(await this.trustTestCertificates(ssh, layout, staged.root, facts!)));
    if (bundle.installer) why.push(...(await this.runVendorInstaller(ssh, bundle, staged.root, discMsi)));
    else why.push(...(await this.addDrivers(ssh, bundle, staged.infs, { install: !bundle.staged })));
    if (bundle.staged) this.reportStates = true;
    for (const d of staged.infs.keys()) this.installed.add(d);
    if (bundle.verifier) why.push(...(await this.switchOnVerifier(ssh, [...staged.infs.keys()])));
    const reboot = why.length > 0;
    // The reboot belongs to the scenario (install-drivers reboot="true", or a reboot step): the
    // runner then follows the guest's new domain with its probes. Here it is only reported.
    if (reboot) this.link.log?.('info', `${this.link.name}: Windows needs a reboot to finish the driver install`);
    this.rebootPendingFor = reboot ? bundle.version : undefined;
    this.rebootReasons = why;
    // a disc's manifest says the version the drivers must bind at
    return iso && layout?.version ? { version: layout.version } : {};
  }

  /** A local bundle: refused before anything changes in the guest when it cannot load there
   *  (architecture, test signing under Secure Boot), then delivered as a disc or copied over SFTP. */
  private async stageLocal(ssh: SshConnection, bundle: DriverBundle): Promise<Staging> {
    const extra = (this.link.companions ?? []).filter((c) => !bundle.drivers.includes(c));
    const carried = await carriedBy(bundle.location, extra);
    if (carried.length) this.link.log?.('info', `${this.link.name}: ${carried.join(', ')} installed with the drivers (the guest agent reaches xenstore through it)`);
    const layout = await bundleLayout(bundle.location, [...bundle.drivers, ...carried]);
    const facts = await readSigningFacts(ssh);
    refuseUnloadable(this.link.name, layout.traits, facts);
    const disc = this.link.deliverIso ? await this.deliverAsDisc(ssh, bundle, layout) : undefined;
    const staged = disc ? { ...disc, fromDisc: true } : { ...(await this.stage(ssh, bundle, layout, `${BUNDLE_ROOT}\\${safeSegment(bundle.version)}`)), fromDisc: false };
    return { staged, layout, facts };
  }

  /** A disc named on the pool: the same manifest describes it as a local bundle (read from the
   *  disc); a disc without one has a folder per driver (<driver>\<driver>.inf). */
  private async stageFromPoolDisc(ssh: SshConnection, bundle: DriverBundle, iso: string): Promise<Staging> {
    const extra = (this.link.companions ?? []).filter((c) => !bundle.drivers.includes(c));
    const { root } = await this.mount(ssh, iso, new Map());
    let layout = await discLayout(ssh, `${iso}:manifest.json`, root, bundle.drivers);
    const onDisc = extra.length ? await discCarries(ssh, root, extra, layout && ((d) => discLayout(ssh, `${iso}:manifest.json`, root, [...bundle.drivers, d]))) : [];
    if (onDisc.length) {
      this.link.log?.('info', `${this.link.name}: ${onDisc.join(', ')} installed with the drivers (the guest agent reaches xenstore through it)`);
      if (layout) layout = await discLayout(ssh, `${iso}:manifest.json`, root, [...bundle.drivers, ...onDisc]);
    }
    const facts = await readSigningFacts(ssh);
    if (layout) refuseUnloadable(this.link.name, layout.traits, facts);
    const infs = layout?.infs ?? new Map([...bundle.drivers, ...onDisc].map((d) => [d, WINPV_BUNDLE.flatInf(d)]));
    return { staged: { root, infs: new Map([...infs].map(([d, inf]) => [d, `${root}\\${winPath(inf)}`])), fromDisc: true }, layout, facts };
  }

  /** A disc without a manifest (the vendor tools ISO) says nothing of its signing: Windows' own
   *  verdict on the installer and the catalogs decides, before anything is installed. */
  private async judgeUnlabelledDisc(ssh: SshConnection, iso: string | undefined, root: string, msi: string, facts: GuestSigningFacts): Promise<BundleLayout> {
    const certDirs = [root, `${root}\\${winPath(TOOLS_ISO.testCertDir)}`];
    const traits = discSigningTraits(`${iso} (no ${WINPV_BUNDLE.manifest})`, root, await readDiscSignatures(ssh, root, msi, certDirs));
    refuseUnloadable(this.link.name, traits, facts);
    this.link.log?.('info', `${this.link.name}: ${iso}: installer and driver catalogs are ${traits.signMode === 'TestSign' ? 'test-signed (their root is not trusted yet)' : 'signed and trusted'} (Get-AuthenticodeSignature)`);
    return { infs: new Map(), files: [], traits };
  }

  /** A test-signed build's certificates trusted before pnputil adds the packages, so Windows does
   *  not ask whether to trust the publisher; test signing on. The reboot reasons it leaves. */
  private async trustTestCertificates(ssh: SshConnection, layout: BundleLayout, root: string, facts: GuestSigningFacts): Promise<string[]> {
    const certs = layout.traits.testCerts.map((c) => `${root}\\${winPath(c)}`);
    const reboot = await enableTestSigning(ssh, this.link.name, certs, facts);
    this.link.log?.('info', `${this.link.name}: test certificate${certs.length > 1 ? 's' : ''} ${certs.join(', ')} trusted (Root, TrustedPublisher)${reboot ? '; test signing on from the next boot' : ''}`);
    return reboot ? ['test signing (bcdedit /set testsigning on takes effect at the next boot)'] : [];
  }

  /** The vendor's MSI (from the disc, or copied from the local bundle); the reboot reasons it leaves. */
  private async runVendorInstaller(ssh: SshConnection, bundle: DriverBundle, root: string, discMsi: string | undefined): Promise<string[]> {
    let msi: string;
    if (discMsi) msi = discMsi;
    else {
      const name = localInstaller(bundle.location);
      msi = `${root}\\${name}`;
      await ssh.putFile(join(bundle.location, name), msi.replace(/\\/g, '/'));
    }
    const r = await runInstaller(ssh, this.link.name, msi, `C:\\Windows\\Temp\\winpv-install-${safeSegment(bundle.version || 'disc')}.log`, (p) => this.keepLog(p));
    this.link.log?.('info', `${this.link.name}: vendor installer ${msi} done${r.rebootRequired ? ', reboot required' : ''}`);
    return r.rebootRequired ? ['pending PnP restart (the vendor installer asked for one)'] : [];
  }

  /** pnputil /add-driver /install of each driver, bus first; the reboot reasons it leaves. Staged
   *  (`install: false`, what an OS update does): /add-driver alone puts the package in the driver
   *  store, and PnP installs it on a matching device when it next installs one (Microsoft,
   *  "PnPUtil Command Syntax": /install "install driver package(s) on any matching devices"). */
  private async addDrivers(ssh: SshConnection, bundle: DriverBundle, infs: ReadonlyMap<DriverName, string>, o: { install: boolean } = { install: true }): Promise<string[]> {
    const why: string[] = [];
    for (const drv of DRIVER_NAMES.filter((d) => infs.has(d))) { // install order: the bus first, then its children
      const inf = infs.get(drv)!;
      const r = await runPs(ssh, 'pnputil-add', { inf, install: o.install }, `if ($p.install) { & pnputil.exe /add-driver $p.inf /install } else { & pnputil.exe /add-driver $p.inf }\nexit $LASTEXITCODE`, { okCodes: [0, 259, 3010], timeoutMs: 10 * 60_000 });
      // Judged by the exit code (0, 3010 reboot needed, 259 nothing to do; anything else throws
      // above): pnputil's text is in the display language, so it only names what was published.
      const res = parseAddDriver(r.stdout, r.code ?? -1);
      if (res.failed.length) {
        throw guestError('GUEST_DRIVER_INSTALL', `${this.link.name}: pnputil could not install ${drv} (${inf}): ${res.failed.join('; ') || 'no package added'}`);
      }
      this.link.log?.('info', `${this.link.name}: ${drv} ${bundle.version} added as ${res.published.join(', ') || '(already present)'}${res.rebootRequired ? ', reboot required' : ''}`);
      if (res.rebootRequired) why.push(`pending PnP restart (pnputil: ${drv})`);
    }
    return why;
  }

  /** Driver Verifier (standard settings) for the installed drivers, read at the next boot. */
  private async switchOnVerifier(ssh: SshConnection, drivers: readonly DriverName[]): Promise<string[]> {
    const sys = drivers.map((d) => `${d}.sys`);
    await enableVerifier(ssh, sys);
    this.verifierAsked = true;
    this.link.log?.('info', `${this.link.name}: Driver Verifier (standard) enabled for ${sys.join(' ')}`);
    return ['Driver Verifier settings (read at the next boot)'];
  }

  /** Set after an install that needs a reboot (the version installed). */
  rebootPendingFor?: string;
  /** Why that install needs it (test signing, a pending PnP restart, Driver Verifier). */
  rebootReasons: string[] = [];
  /** Driver Verifier was switched on by an install: driverStatus reports what it checks. */
  private verifierAsked = false;

  /** Copies the drivers' files into the guest, keeping the bundle's folders; returns each driver's INF path there. */
  private async stage(ssh: SshConnection, bundle: DriverBundle, layout: BundleLayout, dest: string): Promise<{ root: string; infs: Map<DriverName, string> }> {
    const files = layout.files.map((f) => ({ local: join(bundle.location, ...f.split('/')), remote: `${dest}\\${winPath(f)}` }));
    const dirs = [...new Set(files.map((f) => f.remote.slice(0, f.remote.lastIndexOf('\\'))))];
    await runPs(ssh, 'mkdir', { dirs }, `foreach ($d in $p.dirs) { New-Item -ItemType Directory -Force -Path $d | Out-Null }`);
    for (const f of files) await ssh.putFile(f.local, f.remote.replace(/\\/g, '/'));
    return { root: dest, infs: new Map([...layout.infs].map(([d, inf]) => [d, `${dest}\\${winPath(inf)}`])) };
  }

  /** A local bundle as a disc: the bundle's own ISO, or one written from its directory, handed to the
   *  host (an ISO VDI in the guest's CD drive) and installed from there. */
  private async deliverAsDisc(ssh: SshConnection, bundle: DriverBundle, layout: BundleLayout): Promise<{ root: string; infs: Map<DriverName, string> } | undefined> {
    const made = bundle.source?.kind === 'iso' ? undefined : await mkdtemp(join(tmpdir(), 'winpv-disc-'));
    let disc: { name: string; remove(): Promise<void> } | undefined;
    try {
      const isoPath = made ? join(made, `winpv-${safeSegment(bundle.version)}.iso`) : bundle.source!.path;
      try {
        if (made) await writeIsoImage(bundle.location, isoPath, bundle.version);
      } catch (e) {
        // no xorriso on this machine: the bundle is copied over SFTP as for a host without an ISO SR
        if ((e as { code?: string }).code !== 'TOOL_MISSING') throw e;
        this.link.log?.('info', `${this.link.name}: ${(e as Error).message}; copying the bundle into the guest instead`);
        return undefined;
      }
      disc = await this.link.deliverIso!(isoPath, bundle.version);
    } finally {
      if (made) await rm(made, { recursive: true, force: true });
    }
    if (!disc) {
      this.link.log?.('info', `${this.link.name}: the host has no place for a bundle disc; copying the bundle into the guest instead`);
      return undefined;
    }
    const d = disc;
    // pnputil copies the packages into the driver store, so the disc is only needed for the install
    if (bundle.onCleanup) bundle.onCleanup(`bundle disc ${d.name}`, () => d.remove());
    else this.discs.push(d);
    return this.mount(ssh, d.name, layout.infs, { inserted: true });
  }

  /** The bundle ISO in the guest's CD drive; returns the drive's root and each driver's INF on it. */
  private async mount(ssh: SshConnection, iso: string, infs: Map<DriverName, string>, o: { inserted?: boolean } = {}): Promise<{ root: string; infs: Map<DriverName, string> }> {
    if (!o.inserted) {
      if (!this.link.insertIso) throw guestError('BUNDLE_ISO_UNSUPPORTED', `${this.link.name}: this host cannot insert ISO ${iso}`);
      await this.link.insertIso(iso);
    }
    // A disc just inserted takes a while to show up in the guest (the emulated CD's media-change
    // notification, then Windows mounting it): look again, for a bounded time.
    let cd: { Letter: string } | undefined;
    const { attempts: CD_ATTEMPTS, ms: CD_WAIT_MS } = this.link.discWait ?? DISC_WAIT;
    for (let attempt = 1; !cd; attempt++) {
      try {
        cd = await runPsJson<{ Letter: string }>(ssh, 'cd-drive', {}, CD_SCRIPT);
      } catch (e) {
        if (attempt >= CD_ATTEMPTS) throw guestError('GUEST_NO_CD', `${this.link.name}: ISO ${iso} did not appear in the CD drive after ${CD_ATTEMPTS} looks ${CD_WAIT_MS / 1000} s apart (${(e as Error).message.trim()})`);
        await new Promise((r) => setTimeout(r, CD_WAIT_MS));
      }
    }
    if (!/^[A-Z]$/.test(cd.Letter)) throw guestError('GUEST_OUTPUT', `${this.link.name}: no CD drive letter for ${iso}`);
    return { root: `${cd.Letter}:`, infs: new Map([...infs].map(([d, inf]) => [d, `${cd.Letter}:\\${winPath(inf)}`])) };
  }

  async driverStatus(): Promise<DriverStatus> {
    const ssh = await this.ssh();
    const view = await readDevices(ssh);
    const bound: BoundDriver[] = [];
    const unbound: { hardwareId: string; reason: string }[] = [];
    for (const d of view.xen) {
      const hwid = d.HardwareID?.[0] ?? d.DeviceID;
      // Each PV driver's service has the driver's name (xenbus.inf installs service xenbus ...).
      if (d.ConfigManagerErrorCode === 0 && d.Service && d.DriverVersion) {
        bound.push({ driver: d.Service.toLowerCase(), version: d.DriverVersion, hardwareId: hwid, service: d.Service });
      } else {
        unbound.push({ hardwareId: hwid, reason: d.ConfigManagerErrorCode === CM_PROB_NEED_RESTART ? 'CM_PROB_NEED_RESTART (14): waits for a restart' : d.ConfigManagerErrorCode === CM_PROB_UNSIGNED_DRIVER ? 'CM_PROB_UNSIGNED_DRIVER (52): Windows refused the driver\'s signature (test-signed without test signing on and its root trusted?)' : d.ConfigManagerErrorCode ? `CM problem ${d.ConfigManagerErrorCode}` : 'no driver' });
      }
    }
    const verified = this.verifierAsked ? await verifiedDrivers(ssh) : undefined;
    const states = this.reportStates ? driverStates(view, await readStore(ssh), this.installed) : undefined;
    const nics = this.nicsSet ? await readNics(ssh) : undefined;
    return { bound, unbound, unplugged: { disks: view.emulatedDisks.length === 0, nics: view.emulatedNics.length === 0 }, ...(verified ? { verified } : {}), ...(states ? { states } : {}), ...(nics ? { nics } : {}) };
  }

  /** Every driver an install of this agent put in the guest. */
  private readonly installed = new Set<string>();
  /** A staged install or an uninstall happened: driverStatus says each driver's state. */
  private reportStates = false;
  /** A NIC was configured: driverStatus reports every interface's configuration. */
  private nicsSet = false;

  /** PV packages off the devices and out of the driver store: every one (pnputil /delete-driver
   *  /uninstall, driver-store.ts), one vendor's (`vendor`), or the vendor installer's product
   *  (`installer`: msiexec /x); uninstall.ts. The scenario's reboot finishes it. On Windows the removal
   *  of xenvif's and xenvbd's devices withdraws their unplug requests (win-xenvif pdo.c PdoStopDevice
   *  -> PdoUnplugRequest FALSE; win-xenvbd adapter.c AdapterUnplugRequest FALSE), so after the reboot
   *  the emulated NIC and disk are back. */
  async uninstallDrivers(opts: { vendor?: string; installer?: boolean }): Promise<void> {
    const ssh = await this.ssh();
    const name = this.link.name;
    const r = opts.installer ? await uninstallProducts(ssh, name, { ...(opts.vendor ? { vendor: opts.vendor } : {}), keepLog: (p) => this.keepLog(p) })
      : opts.vendor ? await deleteVendorPackages(ssh, name, opts.vendor)
        : await deletePackages(ssh, name);
    this.reportStates = true;
    this.link.log?.('info', `${name}: ${r.removed.length ? `removed ${r.removed.join(', ')}` : 'no PV driver package in the store'}${r.rebootRequired ? '; Windows finishes the removal at the next boot' : ''}`);
  }

  /** A guest file (the installer's verbose log) into the run's report where the host collects files. */
  private keepLog(guestPath: string): Promise<string> {
    return this.link.keepFile ? this.link.keepFile(guestPath, 'installer-log') : Promise.resolve(`${guestPath} in the guest`);
  }

  /** The static configuration of the NIC with this MAC (nic-config.ts). The NIC the harness talks
   *  to the guest through is refused: a new address there cuts the connection mid-command. */
  async setNic(nic: { mac: string; ipv4: string[]; ipv6: string[]; dns: string[]; mtu?: number }): Promise<void> {
    const transport = (await this.link.transportMac?.())?.toLowerCase();
    if (transport && transport === nic.mac.toLowerCase()) {
      throw guestError('NIC_IS_TRANSPORT', `${this.link.name}: the NIC ${nic.mac} is the one the harness reaches the guest through (SSH over VIF 0): a static address there would cut that connection; give the guest a second <vif> and configure that one`);
    }
    await setNic(await this.ssh(), this.link.name, nic);
    this.nicsSet = true;
    this.link.log?.('info', `${this.link.name}: NIC ${nic.mac}: ${[...nic.ipv4, ...nic.ipv6].join(' ')}, DNS ${nic.dns.join(' ')}${nic.mtu ? `, MTU ${nic.mtu}` : ''}`);
  }

  /** Whether Windows still wants a restart to finish the install (see devices.ts pendingReboot). */
  async rebootPending(): Promise<PendingReboot> {
    return pendingReboot(await this.ssh());
  }

  /** Where Windows wrote a crash dump, if it did (after the reboot that follows a bugcheck). */
  async findCrashDump(): Promise<{ path: string; bytes: number } | undefined> {
    const ssh = await this.ssh();
    const found = await runPsJson<{ FullName: string; Length: number }[]>(ssh, 'crash-dump', {}, CRASH_SCRIPT);
    const newest = found[0];
    return newest ? { path: newest.FullName, bytes: newest.Length } : undefined;
  }

  /** Copies a file of the guest (a crash dump) to a local path, streamed over SFTP. */
  async downloadFile(guestPath: string, localPath: string): Promise<void> {
    await (await this.ssh()).downloadFile(guestPath.replace(/\\/g, '/'), localPath);
  }

  // ----------------------------------------------------------------------------------- workloads

  async blockWorkload(w: BlockWorkloadStep): Promise<{ result: BlockResult; raw?: string }> {
    const ssh = await this.ssh();
    let disk = await this.diskOf(ssh, w.device);
    if (w.verify && disk.system) {
      // The system disk is shared with Windows' own paging and its cache: a read-back there can be
      // answered from memory and proves nothing about what reached the backend. A verifying workload
      // runs on a disk of its own (on a pool, a VDI and VBD the run creates and destroys).
      if (!this.link.dataDisk) {
        throw guestError('VERIFY_SYSTEM_DISK', `${this.link.name}: a verifying workload on ${w.device}, the system disk, cannot prove the data reached the disk (the cache answers the read-back), and this host cannot add a data disk: aim it at a data disk of the scenario`);
      }
      const data = await this.link.dataDisk();
      disk = await this.diskOf(ssh, data.dev);
      if (disk.system) throw guestError('VERIFY_SYSTEM_DISK', `${this.link.name}: the data disk ${data.label} came up as the system disk`);
      this.link.log?.('info', `${this.link.name}: the verifying workload aimed at ${w.device} (the system disk) runs on the run's data disk ${data.label} (${data.dev}, Windows disk ${disk.number})`);
    }
    const seconds = Math.max(1, Math.round(w.durationMs / 1000));
    // -Sh = -Su -Sw (diskspd wiki, "Command line and parameters" / "Customizing tests: Control
    // caching"): no software (OS) cache, write-through (no hardware write cache), so every write
    // reaches the virtual disk and every read comes from it.
    const args = [`-b${w.blockSize}`, `-o${w.queueDepth}`, `-t${w.threads}`, `-w${w.writePercent}`, w.pattern === 'random' ? `-r${w.blockSize}` : `-si${w.blockSize}`, `-d${seconds}`, '-W0', '-L', '-Sh', '-Rxml'];
    // Never write to the raw system disk: a test file on it instead (only unverified workloads get here).
    if (disk.system) args.push('-c1G', 'C:\\winpv\\diskspd.dat');
    else args.push(`#${disk.number}`);
    const r = await runPs(ssh, 'diskspd', { args }, `New-Item -ItemType Directory -Force -Path 'C:\\winpv' | Out-Null\n& diskspd.exe @($p.args)\nexit $LASTEXITCODE`, { timeoutMs: (seconds + 120) * 1000 });
    const raw = r.stdout;
    const result = parseDiskspdXml(raw, `${this.link.name}:diskspd`);
    if (w.verify) {
      const v = await runPsJson<{ blocks: number; mismatches: number }>(ssh, 'verify', { disk: disk.number, mib: 64, seed: 0x5eed, flags: VERIFY_FLAGS }, VERIFY_SCRIPT, { timeoutMs: 10 * 60_000 });
      result.verifyErrors = v.mismatches;
    }
    return { result, raw };
  }

  /** The Windows disk behind a PV disk (by its XENVBD target), brought online and writable if the
   *  SAN policy left a new disk offline or read-only; system: it holds Windows (IsSystem/IsBoot). */
  private async diskOf(ssh: SshConnection, dev: DeviceRef): Promise<{ number: number; system: boolean }> {
    const target = (await this.link.vbdTarget?.(dev)) ?? defaultTarget(dev);
    const d = await runPsJson<{ Number: number; IsSystem: boolean; IsBoot: boolean }>(ssh, 'disk-of', { target }, DISK_SCRIPT);
    return { number: d.Number, system: d.IsSystem || d.IsBoot };
  }

  async netWorkload(w: NetWorkloadStep, peer?: GuestAgent): Promise<{ result: NetResult; raw?: string }> {
    const seconds = Math.max(1, Math.round(w.durationMs / 1000));
    // 'both' runs as 'send' (one NTttcp pair); the result is this guest's side.
    const receiving = w.direction === 'receive';
    let raw: string;
    if (peer instanceof WindowsAgent) {
      const ip = receiving ? await this.link.address() : await peer.link.address();
      const [sender, receiver] = receiving ? [peer, this as WindowsAgent] : [this as WindowsAgent, peer];
      const [r, s] = await Promise.all([receiver.ntttcp('r', { threads: w.threads, ip, seconds }), sender.ntttcp('s', { threads: w.threads, ip, seconds })]);
      raw = receiving ? r : s;
    } else if (!peer && this.link.dom0Ntttcp) {
      // ntttcp-for-linux in dom0 is the other end; neither side waits for the other's sync port.
      const dom0 = this.link.dom0Ntttcp;
      const ip = receiving ? await this.link.address() : await dom0.address();
      const here = this.ntttcp(receiving ? 'r' : 's', { threads: w.threads, ip, seconds, noSync: true });
      const there = dom0.run(receiving ? 's' : 'r', { threads: w.threads, ip, seconds });
      [raw] = await Promise.all([here, there]);
    } else {
      throw guestError('NOT_IMPLEMENTED', `${this.link.name}: network workloads need a peer: a second Windows guest, or ntttcp-for-linux in dom0 (this host has no dom0 access)`);
    }
    return { result: parseNtttcpXml(raw, `${this.link.name}:ntttcp`), raw };
  }

  private async ntttcp(role: 'r' | 's', o: { threads: number; ip: string; seconds: number; noSync?: boolean }): Promise<string> {
    const ssh = await this.ssh();
    const args = [`-${role}`, '-m', `${o.threads},*,${o.ip}`, '-t', String(o.seconds), ...(o.noSync ? ['-ns'] : []), '-xml', 'C:\\winpv\\ntttcp.xml'];
    const r = await runPs(ssh, 'ntttcp', { args, xml: 'C:\\winpv\\ntttcp.xml', rule: NTTTCP_RULE }, NTTTCP_SCRIPT, { timeoutMs: (o.seconds + 120) * 1000 });
    return r.stdout;
  }
}

function defaultTarget(dev: DeviceRef): number {
  const id = Number(dev.split('/')[1]);
  if (id >= 51712) return (id - 51712) >> 4;
  return [768, 832, 5632, 5696].indexOf(id & ~63) < 0 ? 0 : [768, 832, 5632, 5696].indexOf(id & ~63);
}
