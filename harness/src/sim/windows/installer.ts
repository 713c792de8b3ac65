// The install lifecycle of the simulated Windows guest: the driver store, what PnP installed on each
// device, staged replacements that wait for a restart, the reboot requests the drivers leave for the
// xenbus monitor, uninstall, the vendor installer (msiexec) and the platform PCI device the bus binds.
// Each behaviour follows the win-pv source cited beside it (xcp-ng/win-xenbus, win-xenvif, win-xenvbd,
// win-installer) or the Windows documentation of pnputil and Windows Installer.
import type { DriverName } from '../../model/spec';
import type { DriverState, NicReport } from '../../model/host';
import type { GuestFaults } from '../faults';
import type { InstalledPackage } from './packages';
import { NetworkSettings, type NicConfig } from './nic-settings';

/** The vendor prefix of a package: the XX of its XENBUS\VEN_XX<device> / XENVIF\VEN_XX<device> IDs. */
export function vendorOf(p: InstalledPackage): string | undefined {
  if (p.vendor) return p.vendor;
  for (const h of p.hardwareIds) {
    const m = /^XEN(?:BUS|VIF)\\VEN_([A-Z]{2})[0-9A-F]{4}&/.exec(h);
    if (m) return m[1];
  }
  return undefined;
}

/** The module names the drivers give ConfigRequestReboot (their __MODULE__), as the monitor's Request subkeys. */
const MODULE: Partial<Record<DriverName, string>> = { xenbus: 'XENBUS', xenvif: 'XENVIF', xenvbd: 'XENVBD', xennet: 'XENNET' };

/** A failed msiexec run: the exit code and the verbose log (msiexec /l*v) the installer wrote. */
export class InstallerFailure extends Error {
  constructor(readonly exitCode: number, readonly meaning: string, readonly log: string) {
    super(`exit ${exitCode}: ${meaning}`);
  }
}

export class WindowsSetup {
  /** The driver store (pnputil /add-driver): every package added and not deleted. */
  readonly store: InstalledPackage[] = [];
  /** Drivers whose device has a newer package installed than the one running: it takes over at the next boot. */
  private readonly restartPending = new Map<DriverName, string>();
  /** HKLM\SYSTEM\CurrentControlSet\Services\xenbus_monitor\Request\<MODULE>\Reboot (a volatile key: gone at reboot). */
  readonly rebootRequests = new Set<string>();
  /** Child drivers that refused to start this boot until a reboot (STATUS_PNP_REBOOT_REQUIRED). */
  private readonly waiting = new Set<DriverName>();
  /** Child drivers that came from the store when their device appeared (the staged way). */
  private readonly fromStore = new Set<DriverName>();
  /** XENFILT in the UpperFilters of the System and HDC device classes. */
  filters = false;
  private readonly removed = new Set<DriverName>();
  readonly net = new NetworkSettings();

  constructor(
    /** The platform PCI device id (0001, 0002, or C000 for XenServer's vendor device beside 0002). */
    readonly platformDevice: string,
    private readonly faults: GuestFaults,
    private readonly log: (msg: string) => void,
  ) {}

  /** The platform devices present, each with its hardware IDs most specific first: the vendor device
   *  comes with the 0002 platform device (XenServer's has_vendor_device), and is preferred. */
  platformDevices(): { id: string; hwids: string[] }[] {
    const ids = this.platformDevice === 'C000' ? ['C000', '0002'] : [this.platformDevice];
    return ids.map((d) => ({ id: d, hwids: [`PCI\\VEN_5853&DEV_${d}&SUBSYS_${d}5853&REV_01`, `PCI\\VEN_5853&DEV_${d}&SUBSYS_${d}5853`, `PCI\\VEN_5853&DEV_${d}`] }));
  }

  /** pnputil /add-driver /install and the vendor installer: into the store and onto the devices. A
   *  device whose driver runs now keeps running it until the next boot (xenbus is boot-start, the
   *  disk in use): PnP marks it for restart. */
  install(installed: Map<DriverName, InstalledPackage>, pkgs: InstalledPackage[], running: ReadonlyMap<string, string>, emulatedUp: readonly { pdo: string; mac: string }[] = []): void {
    // The simulator's pnputil/installer path gives the whole install one reboot (the unplug is asked for
    // at install). On Windows xenvif's first start finds the emulated NIC still up and saves its settings
    // (pdo.c PdoParseMibTable -> settings.c SettingsSave) before asking for the unplug and the second
    // reboot; that first start is folded in here, so the settings record exists as it would.
    if (pkgs.some((p) => p.driver === 'xenvif')) for (const e of emulatedUp) this.net.save(e.pdo, this.net.iface('emulated', e.mac, e.mac));
    for (const p of pkgs) {
      this.addToStore(p);
      installed.set(p.driver, p);
      this.removed.delete(p.driver);
      const now = running.get(p.driver);
      if (now !== undefined && now !== p.version) this.restartPending.set(p.driver, now);
    }
  }

  /** What an OS update does (Windows Update delivering drivers for the vendor device, the xapi
   *  "xenprep" design): the packages go to the driver store, and PnP installs each onto the devices
   *  that exist now. A child's device exists only once its bus driver runs and enumerates it, so its
   *  package waits in the store until then (`enumerate`). Nothing reboots. */
  stage(installed: Map<DriverName, InstalledPackage>, pkgs: InstalledPackage[], running: ReadonlyMap<string, string>): void {
    for (const p of pkgs) {
      this.addToStore(p);
      this.removed.delete(p.driver);
      const exists = p.driver === 'xenbus' || running.has(p.driver) || installed.has(p.driver);
      if (!exists) {
        this.fromStore.add(p.driver);
        continue;
      }
      installed.set(p.driver, p);
      const now = running.get(p.driver);
      if (now !== undefined && now !== p.version) this.restartPending.set(p.driver, now);
    }
  }

  /** A child device appeared (its bus enumerated it): PnP installs the best package of the store for it. */
  enumerate(installed: Map<DriverName, InstalledPackage>, driver: DriverName): void {
    if (installed.has(driver) || this.removed.has(driver)) return;
    const pick = this.store.filter((p) => p.driver === driver).at(-1);
    if (pick) installed.set(driver, pick);
  }

  /**
   * The vendor installer, as win-installer's InstallAgent runs it (src/InstallAgent/InstallAgent.cs
   * __InstallThreadHandler): an installer meeting another vendor's PV drivers does not install over
   * them; XCP-ng's tools have them removed first (xcp-ng-tests' XenClean tests, the xapi "xenprep"
   * design: "These drivers must be uninstalled before the new drivers are installed"). The MSI's
   * custom action fails and msiexec ends with 1603 (ERROR_INSTALL_FAILURE); its verbose log says why.
   */
  msiInstall(installed: Map<DriverName, InstalledPackage>, pkgs: InstalledPackage[], running: ReadonlyMap<string, string>, product: string, emulatedUp: readonly { pdo: string; mac: string }[] = []): string {
    const ours = new Set(pkgs.map(vendorOf));
    const foreign = [...installed.values()].filter((p) => !ours.has(vendorOf(p)));
    const log = [
      `=== Verbose logging started: msiexec /i ${product} /qn /norestart ===`,
      `MSI (s): Product: ${product} -- installing drivers ${pkgs.map((p) => `${p.driver} ${p.version}`).join(', ')}`,
    ];
    if (foreign.length) {
      log.push(
        `CustomAction InstallDrivers: other Xen PV drivers are installed: ${foreign.map((p) => `${p.driver} ${p.version} (${vendorOf(p) ?? '?'})`).join(', ')}; remove them first`,
        'CustomAction InstallDrivers returned actual error code 1603',
        'Action ended: INSTALL. Return value 3.',
        `MSI (s): Product: ${product} -- Installation failed.`,
        '=== Logging stopped ===',
      );
      throw new InstallerFailure(1603, 'fatal error during installation', log.join('\r\n') + '\r\n');
    }
    this.install(installed, pkgs, running, emulatedUp);
    log.push('Action ended: INSTALL. Return value 1.', `MSI (s): Product: ${product} -- Installation completed successfully.`, '=== Logging stopped ===');
    return log.join('\r\n') + '\r\n';
  }

  /**
   * pnputil /delete-driver <oemN.inf> /uninstall for each PV package (of one vendor, or all): the
   * driver leaves the store and its devices (the device nodes stay, without a driver). Taking effect at
   * the next boot, as for any driver in use:
   * - xenvif's PDO stop revokes its NICS unplug request (pdo.c PdoStopDevice -> PdoUnplugRequest FALSE
   *   -> xenbus unplug.c UnplugRequest -> xen unplug.c UnplugDecrementValue), xenvbd its DISKS request
   *   (adapter.c AdapterUnplugRequest FALSE);
   * - the last xenbus FDO going removes XENFILT from the class filters (xenbus driver.c
   *   DriverRemoveFunctionDeviceObject -> xen filters.c FiltersUninstall). The uninstall-leaves-filter
   *   bug skips that: the filter stays with its driver gone.
   */
  uninstall(installed: Map<DriverName, InstalledPackage>, registry: Map<string, number>, vendor?: string): DriverName[] {
    const gone: DriverName[] = [];
    for (const [d, p] of [...installed]) {
      if (vendor && vendorOf(p) !== vendor) continue;
      installed.delete(d);
      this.removed.add(d);
      this.restartPending.delete(d);
      gone.push(d);
    }
    for (let i = this.store.length - 1; i >= 0; i--) if (!vendor || vendorOf(this.store[i]) === vendor) this.store.splice(i, 1);
    const dec = (k: string) => registry.set(k, Math.max(0, (registry.get(k) ?? 0) - 1));
    if (gone.includes('xenvif')) dec('Unplug\\NICS');
    if (gone.includes('xenvbd')) dec('Unplug\\DISKS');
    if (gone.includes('xenbus') && !this.faults.uninstallLeavesFilter) this.filters = false;
    return gone;
  }

  /** Start of a boot: volatile keys go, staged packages take over. Returns a bug check when Windows
   *  cannot boot: XENFILT left in the HDC class's UpperFilters with no xenfilt driver makes the disk
   *  controller's stack fail to start, and the boot disk is gone (INACCESSIBLE_BOOT_DEVICE, 0x7B). */
  beginBoot(installed: ReadonlyMap<DriverName, InstalledPackage>): string | undefined {
    this.rebootRequests.clear();
    this.restartPending.clear();
    this.waiting.clear();
    if (this.filters && !installed.has('xenbus')) {
      return 'INACCESSIBLE_BOOT_DEVICE (0x7B): the HDC class lists the upper filter XENFILT, whose driver is no longer installed';
    }
    return undefined;
  }

  /** xenbus's FDO was added: the first one installs XENFILT as a class filter (driver.c DriverAddFunctionDeviceObject -> FiltersInstall). */
  busStarted(): void {
    this.filters = true;
  }

  /**
   * A child PDO starting on a boot where its emulated twin was not unplugged (it came from the store
   * this boot): xenvif pdo.c PdoStartDevice finds the emulated NIC up with the same MAC
   * (PdoParseMibTable), saves its settings (settings.c SettingsSave), asks for the NICS unplug
   * (PdoUnplugRequest TRUE), asks for a reboot (PdoRequestReboot -> xenbus unplug.c UnplugReboot ->
   * xen config.c ConfigRequestReboot: Request\XENVIF\Reboot = 1) and fails with
   * STATUS_PNP_REBOOT_REQUIRED; xenvbd's adapter does the same for its disks (adapter.c
   * AdapterUnplugRequest, TargetCreate STATUS_RETRY -> AdapterRequestReboot). Returns whether it started.
   */
  childStart(driver: DriverName, unplugged: boolean, registry: Map<string, number>, emulatedNics: readonly { pdo: string; mac: string }[] = []): boolean {
    if (unplugged || !this.fromStore.has(driver)) return true;
    // one xenvif PDO per VIF, each saving its own emulated twin's settings
    for (const e of emulatedNics) this.net.save(e.pdo, this.net.iface('emulated', e.mac, e.mac));
    const key = driver === 'xenvbd' ? 'Unplug\\DISKS' : 'Unplug\\NICS';
    registry.set(key, (registry.get(key) ?? 0) + 1);
    this.waiting.add(driver);
    if (!this.faults.rebootRequestLost) this.rebootRequests.add(MODULE[driver] ?? driver.toUpperCase());
    this.log(`${driver}: emulated ${driver === 'xenvbd' ? 'disks' : 'NIC'} still present: unplug requested, start refused until a reboot${this.faults.rebootRequestLost ? ' (no reboot requested)' : ''}`);
    return false;
  }

  /** Once the unplug it asked for happened, a child from the store starts like any other. */
  childStarted(driver: DriverName): void {
    this.fromStore.delete(driver);
  }

  /** The PV NIC started with its stack bound: settings.c SettingsRestore (pdo.c PdoParseMibTable). */
  pvNicStarted(pdo: string, node: string, mac: string): void {
    const did = this.net.restore(pdo, this.net.iface('pv', node, mac), !this.faults.nicSettingsNotCopied);
    if (did) this.log(`xenvif ${pdo}: ${did}`);
  }

  /** The administrator's static configuration of the interface up with this MAC. */
  configureNic(nics: readonly { mac: string; kind: 'emulated' | 'pv'; node: string }[], c: NicConfig & { mac: string }): boolean {
    const n = nics.find((x) => x.mac === c.mac);
    if (!n) return false;
    this.net.configure(this.net.iface(n.kind, n.node, n.mac), c);
    return true;
  }

  nicReports(nics: readonly { mac: string; kind: 'emulated' | 'pv'; node: string }[]): NicReport[] {
    return nics.map((n) => this.net.report(this.net.iface(n.kind, n.node, n.mac), true));
  }

  /** Each driver's state, as Device Manager and the monitor's Request key would tell it. */
  states(drivers: readonly DriverName[], installed: ReadonlyMap<DriverName, InstalledPackage>, running: ReadonlyMap<string, string>): DriverState[] {
    return drivers.map((d): DriverState => {
      const pkg = installed.get(d) ?? this.store.filter((p) => p.driver === d).at(-1);
      const vendor = pkg ? vendorOf(pkg) : undefined;
      const requested = this.rebootRequests.has(MODULE[d] ?? d.toUpperCase());
      const base = { driver: d, ...(vendor ? { vendor } : {}), ...(requested ? { rebootRequested: true } : {}) };
      if (this.removed.has(d) && !pkg) return { ...base, state: 'removed' };
      const run = running.get(d);
      if (this.restartPending.has(d)) return { ...base, state: 'restart-pending', running: this.restartPending.get(d), ...(pkg ? { staged: pkg.version } : {}) };
      if (run !== undefined) return { ...base, state: 'running', running: run };
      if (this.waiting.has(d)) return { ...base, state: 'reboot-required', ...(pkg ? { staged: pkg.version } : {}) };
      return { ...base, state: 'not-started', ...(pkg ? { staged: pkg.version } : {}) };
    });
  }

  private addToStore(p: InstalledPackage): void {
    if (!this.store.some((x) => x.driver === p.driver && x.version === p.version && vendorOf(x) === vendorOf(p))) this.store.push(p);
  }
}
