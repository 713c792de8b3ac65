// The simulated Windows guest: PnP binding of the installed PV driver packages by hardware ID (the
// platform PCI device for xenbus; XENBUS\VEN_..&DEV_<class>&REV_<rev> children for xenvbd, xenvif,
// xeniface; XENVIF\...&DEV_NET for xennet), the emulated-device unplug handshake, the guest keys
// each bound driver's spec lists, the frontends for the domain's devices (including hotplug), and
// suspend/resume. Everything a driver writes is decided by its spec.
import type { BoundDriver, DriverStatus } from '../../model/host';
import type { DriverName, DriverSpec, SpecSet } from '../../model/spec';
import type { DeviceRef, GuestShape } from '../../model/scenario';
import { matchKey } from '../../model/spec-eval';
import { hostError } from '../../model/errors';
import { parseVersion } from '../../model/version';
import type { Domain } from '../hypervisor';
import type { Toolstack } from '../toolstack';
import { XenbusFrontend } from '../frontend/xenbus-frontend';
import { Xenvbd } from '../frontend/xenvbd';
import { Xenvif } from '../frontend/xenvif';
import { noFrontendFaults, noGuestFaults, type FrontendFaults, type GuestFaults } from '../faults';
import { PlatformDevice, performUnplug, UNPLUG_ALL_IDE_DISKS, UNPLUG_ALL_NICS, UNPLUG_NVME_DISKS } from './platform';
import type { InstalledPackage } from './packages';
import { XenbusBalloon } from './balloon';
import { XenifaceStore, type XenifaceResult, type XenifaceOp } from './xeniface';
import { XencrshDump, type DumpOutcome } from './crashdump';
import { GuestAgents } from './agent';
import { vdevToDevid } from '../../model/vdev';
import { xenvbdTargetId } from '../frontend/xenvbd';
import { WindowsSetup, vendorOf } from './installer';
import type { NicConfig } from './nic-settings';

/** The platform device's hardware IDs as Windows reports them, most specific first. */
/** The default platform device's (0001) hardware IDs as Windows reports them, most specific first (installer.ts has them per device). */
export const PLATFORM_HWIDS = ['PCI\\VEN_5853&DEV_0001&SUBSYS_00015853&REV_01', 'PCI\\VEN_5853&DEV_0001&SUBSYS_00015853', 'PCI\\VEN_5853&DEV_0001'];
/** Xen Project's product number for the unplug protocol (docs/misc/hvm-emulated-unplug.pandoc). */
const UNPLUG_PRODUCT = 3;

const CLASS_DRIVER: Record<string, DriverName> = { VBD: 'xenvbd', VIF: 'xenvif', IFACE: 'xeniface' };

export class WindowsGuest {
  readonly installed = new Map<DriverName, InstalledPackage>();
  status: DriverStatus = { bound: [], unbound: [], unplugged: { disks: false, nics: false } };
  readonly faults: GuestFaults = noGuestFaults();
  readonly frontends = new Map<DeviceRef, XenbusFrontend>();
  private devFaults = new Map<string, FrontendFaults>();
  private unwatch: (() => Promise<void>)[] = [];
  private driverIndex = new Map<DriverName, number>();
  booted = false;
  /** The vif-rescan-lost fault has struck: new VIFs are not enumerated until the next boot. */
  private vifScanStopped = false;
  private suspending = false;
  private restoring = false;
  /** While a restored guest comes up: what each device's frontend negotiated before the move. */
  private negotiatedBefore = new Map<DeviceRef, ReadonlyMap<string, string | null>>();
  /** xenbus's balloon (created when xenbus first binds; keeps its pages across a restore or migration). */
  balloon?: XenbusBalloon;
  /** Told when the balloon changed the domain's reservation. */
  onReservation?: () => void;
  /** Told when xenstored dropped the guest's xenstore connection. */
  onXenstoreLost?: (reason: string) => void;
  private readonly xenifaceStore = new XenifaceStore(() => this.dom, this.faults, (why) => this.onXenstoreLost?.(why));
  /** xenagent (with xeniface) and, when the scenario installs it, the XenServer guest agent. */
  private agents?: GuestAgents;
  /** Registry: HKLM\SYSTEM\CurrentControlSet\Services\XEN\Unplug values the installers set. */
  readonly registry = new Map<string, number>();
  /** The install lifecycle: driver store, staged packages, reboot requests, NIC settings (installer.ts). */
  readonly setup: WindowsSetup;
  /** Told when Windows stops at boot with a bug check (the reason). */
  onBugcheck?: (reason: string) => void;
  /** The interfaces up this boot, by VIF: the PV NIC (xennet bound, emulated NIC unplugged) or the emulated one. */
  private nics: { mac: string; kind: 'emulated' | 'pv'; node: string }[] = [];

  constructor(
    public dom: Domain,
    readonly specs: SpecSet,
    readonly toolstack: Toolstack,
    readonly shape: GuestShape,
    readonly platform = new PlatformDevice(),
  ) {
    this.setup = new WindowsSetup((shape.platformDevice ?? '0001').toUpperCase(), this.faults, (m) => this.log('info', m));
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void {
    this.dom.hv.report.log(level, `d${this.dom.domid} windows: ${msg}`);
  }

  /** Faults for a device's frontend (present and future instances); `*` applies to every device. */
  deviceFaults(dev: DeviceRef | '*'): FrontendFaults {
    let f = this.devFaults.get(dev);
    if (!f) this.devFaults.set(dev, (f = noFrontendFaults()));
    for (const fe of this.frontends.values()) if (dev === '*' || fe.dev === dev) fe.faults = this.effectiveFaults(fe.dev);
    return f;
  }

  /** Re-reads the fault switches into the live frontends (after the injector changed them). */
  refreshFaults(): void {
    for (const fe of this.frontends.values()) fe.faults = this.effectiveFaults(fe.dev);
  }

  private effectiveFaults(dev: DeviceRef): FrontendFaults {
    const all = this.devFaults.get('*');
    const one = this.devFaults.get(dev);
    if (!all) return one ?? noFrontendFaults();
    if (!one) return all;
    const merged = noFrontendFaults();
    for (const k of Object.keys(merged) as (keyof FrontendFaults)[]) {
      const a = all[k];
      const b = one[k];
      (merged as unknown as Record<string, unknown>)[k] = typeof a === 'boolean' ? a || b : k === 'maxTxRetries' ? Math.min(a as number, b as number) : (b || a);
    }
    return merged;
  }

  private spec(name: DriverName): DriverSpec {
    const s = this.specs.get(name);
    if (!s) throw hostError('SIM_NO_SPEC', `no driver spec for ${name}`);
    return s;
  }

  /** Installs packages (pnputil /add-driver /install): they bind at the next boot. */
  install(pkgs: InstalledPackage[]): void {
    this.setup.install(this.installed, pkgs, this.running(), this.emulatedNicsUp());
    this.unplugAtInstall(pkgs);
    this.log('info', `installed ${pkgs.map((p) => `${p.driver} ${p.version}`).join(', ')}`);
  }

  /** Staged the way an OS update does (installer.ts WindowsSetup.stage): nothing unplugs at install. */
  stage(pkgs: InstalledPackage[]): void {
    this.setup.stage(this.installed, pkgs, this.running());
    this.log('info', `staged ${pkgs.map((p) => `${p.driver} ${p.version}`).join(', ')}`);
  }

  /** The vendor installer (msiexec /i /qn /norestart): its log, or an InstallerFailure carrying it. */
  msiInstall(pkgs: InstalledPackage[], product: string): string {
    const log = this.setup.msiInstall(this.installed, pkgs, this.running(), product, this.emulatedNicsUp());
    this.unplugAtInstall(pkgs);
    return log;
  }

  /** xenvbd/xenvif set the Unplug registry values so xen.sys unplugs the emulated devices at the next boot. */
  private unplugAtInstall(pkgs: InstalledPackage[]): void {
    for (const p of pkgs) {
      if (p.driver === 'xenvbd') this.registry.set('Unplug\\DISKS', 1);
      if (p.driver === 'xenvif') this.registry.set('Unplug\\NICS', 1);
    }
  }

  /** Uninstall (pnputil /delete-driver /uninstall, or the installer's uninstall): effective at the next boot. */
  uninstall(vendor?: string): void {
    const gone = this.setup.uninstall(this.installed, this.registry, vendor);
    this.log('info', `uninstalled ${gone.join(', ') || 'nothing'}${vendor ? ` (vendor ${vendor})` : ''}`);
  }

  /** Static configuration of the interface up with this MAC (false: no such interface is up). */
  configureNic(c: NicConfig & { mac: string }): boolean {
    return this.setup.configureNic(this.nics, c);
  }

  /** The emulated NICs up now, with the xenvif PDO name (the VIF's devid) that aliases each. */
  private emulatedNicsUp(): { pdo: string; mac: string }[] {
    return this.nics.filter((n) => n.kind === 'emulated').map((n) => ({ pdo: String(this.nicDevids.get(n.mac) ?? 0), mac: n.mac }));
  }

  /** VIF devid by MAC (the xenvif PDO name of each NIC). */
  private nicDevids = new Map<string, number>();

  /** Driver versions running this boot. */
  private running(): Map<string, string> {
    return new Map(this.status.bound.map((b) => [b.driver, b.version]));
  }

  /** The revisions the bound xenbus advertises for a child class, newest first, as child hardware IDs. */
  private childHwids(bus: DriverName, klass: string, prefix: string): string[] {
    const spec = this.spec(bus);
    const enumerator = bus === 'xenbus' ? 'XENBUS' : 'XENVIF';
    return [...spec.revisions].reverse().map((r) => `${enumerator}\\VEN_${prefix}${this.activeDevice}&DEV_${klass}&REV_${r.id}`.toUpperCase());
  }

  /** PnP: the first installed package listing one of the device's hardware IDs binds to it. */
  private bind(hwids: string[], candidates: DriverName[], why: string): BoundDriver | undefined {
    for (const name of candidates) {
      const pkg = this.installed.get(name);
      if (!pkg) continue;
      let ids = pkg.hardwareIds;
      const spec = this.specs.get(name);
      if (this.faults.revisionMismatch && spec?.parent) {
        // The child was built against a revision its parent no longer advertises.
        ids = ids.map((h) => h.replace(/REV_[0-9A-F]{8}$/i, 'REV_0900FFFF'));
      }
      const hit = hwids.find((h) => ids.includes(h.toUpperCase()));
      if (hit) return { driver: name, version: pkg.version, hardwareId: hit, service: pkg.service };
    }
    const wanted = candidates.filter((c) => this.installed.has(c));
    this.status.unbound.push({
      hardwareId: hwids[0],
      reason: wanted.length
        ? `no installed driver matches (${wanted.map((w) => `${w} ${this.installed.get(w)!.version} binds ${this.installed.get(w)!.hardwareIds.filter((h) => h.includes(why)).join(' ') || 'other IDs'}`).join('; ')})`
        : 'no driver installed for this device',
    });
    return undefined;
  }

  /** Boots Windows with whatever is installed. */
  async boot(): Promise<void> {
    this.status = { bound: [], unbound: [], unplugged: { disks: false, nics: false } };
    this.driverIndex.clear();
    const stop = this.setup.beginBoot(this.installed);
    if (stop) {
      this.log('error', `bug check: ${stop}`);
      this.onBugcheck?.(stop);
      return;
    }
    const macs = await this.vifMacs();
    this.nicDevids = new Map(macs.map((m) => [m.mac, m.devid]));
    this.nics = macs.map(({ mac }) => ({ mac, kind: 'emulated' as const, node: mac }));
    // PnP binds xenbus to the first platform device whose IDs its INF lists (the vendor device first)
    let bus: BoundDriver | undefined;
    for (const dev of this.setup.platformDevices()) {
      const before = this.status.unbound.length;
      bus = this.bind(dev.hwids, ['xenbus'], 'PCI');
      if (bus) {
        this.activeDevice = dev.id;
        this.status.unbound.splice(before);
        break;
      }
    }
    if (!bus) {
      this.booted = true;
      return;
    }
    this.status.bound.push(bus);
    this.setup.busStarted();
    // xen.sys: unplug the emulated devices the installed PV drivers asked for.
    let mask = 0;
    if (this.registry.get('Unplug\\DISKS')) mask |= UNPLUG_ALL_IDE_DISKS | UNPLUG_NVME_DISKS;
    if (this.registry.get('Unplug\\NICS')) mask |= UNPLUG_ALL_NICS;
    if (!this.faults.noUnplug) {
      // the build number is the fourth part of xenbus's DriverVer (model/version.ts reads it)
      const build = parseVersion(bus.version)?.[3] ?? 0;
      if (!performUnplug(this.platform, mask, UNPLUG_PRODUCT, build)) this.log('warn', 'emulated device unplug refused');
    }
    this.status.unplugged = { disks: this.platform.disksUnplugged, nics: this.platform.nicsUnplugged };
    if (this.status.unplugged.nics) this.nics = [];
    await this.writeDriverKey('xenbus', bus.version);
    // xenbus: control/shutdown watch first, then advertise suspend support.
    this.unwatch.push(await this.dom.xs.watch(`${this.dom.home}/control/shutdown`, () => this.dom.onCpu(() => void this.onShutdownRequest())));
    if (!(this.restoring && this.faults.featureSuspendLost)) await this.writeGuestKey('xenbus', 'control/feature-suspend', '1');
    // fdo.c FdoD3ToD0 then sets the memory/target watch and writes control/feature-balloon; FdoStartDevice
    // waits for the balloon thread's first pass before the bus goes on (children enumerate after it).
    // Deviation: xenbus starts its balloon thread whenever memory/target exists; the model starts it only
    // when the target is below static-max (ballooning is needed), because with the thread in every
    // guest the planted-bug run of migrate-into-poorer-backend hung after its wait timed out (cause not
    // found yet; see the field report of issue #18).
    const target = Number((await this.dom.xs.read(`${this.dom.home}/memory/target`)) ?? NaN);
    const max = Number((await this.dom.xs.read(`${this.dom.home}/memory/static-max`)) ?? NaN);
    if (this.balloon || target < max) {
      this.balloon ??= new XenbusBalloon(this.dom, this.faults, () => this.onReservation?.(), (rel, v) => this.writeGuestKey('xenbus', rel, v));
      await this.balloon.start(this.dom);
    }

    // the children's VEN_<prefix><device>: the prefix xenbus was built with (VENDOR_PREFIX), the device it bound
    const xenbusPkg = this.installed.get('xenbus')!;
    const prefix = xenbusPkg.vendor ?? [...this.installed.values()].map(vendorOf).find(Boolean) ?? this.spec('xenbus').identity.vendorPrefixes[0]?.prefix ?? 'XP';
    for (const klass of ['VBD', 'VIF', 'IFACE']) {
      const present = klass === 'IFACE' || this.shape[klass === 'VBD' ? 'vbds' : 'vifs'].length > 0 || (await this.dom.xs.directory(`${this.dom.home}/device/${klass.toLowerCase()}`)).length > 0;
      if (!present) continue;
      if (klass === 'IFACE' && !this.installed.has('xeniface')) continue;
      this.setup.enumerate(this.installed, CLASS_DRIVER[klass]);
      const unplugged = klass === 'VBD' ? this.status.unplugged.disks : klass === 'VIF' ? this.status.unplugged.nics : true;
      if (this.installed.has(CLASS_DRIVER[klass]) && !this.setup.childStart(CLASS_DRIVER[klass], unplugged, this.registry, klass === 'VIF' && macs[0] ? { pdo: String(macs[0].devid), mac: macs[0].mac } : undefined)) continue;
      const child = this.bind(this.childHwids('xenbus', klass, prefix), [CLASS_DRIVER[klass]], 'REV_');
      if (!child) continue;
      this.setup.childStarted(child.driver as DriverName);
      this.status.bound.push(child);
      await this.writeDriverKey(child.driver as DriverName, child.version);
      if (child.driver === 'xenvif') this.setup.enumerate(this.installed, 'xennet');
      if (child.driver === 'xenvif' && this.installed.has('xennet')) {
        const net = this.bind(this.childHwids('xenvif', 'NET', prefix), ['xennet'], 'REV_');
        if (net) {
          this.status.bound.push(net);
          await this.writeDriverKey('xennet', net.version);
          // each VIF's PV NIC: the device node XENVIF\VEN_<prefix>&DEV_NET\<PDO name> (xenvif pdo.c PdoQueryId)
          const vendor = vendorOf(this.installed.get('xenvif')!) ?? prefix;
          for (const { devid, mac } of macs) {
            const node = `XENVIF\\VEN_${vendor}&DEV_NET\\${devid}`;
            this.setup.pvNicStarted(String(devid), node, mac);
            if (this.status.unplugged.nics) this.nics.push({ mac, kind: 'pv', node });
          }
        }
      }
    }
    this.booted = true;
    this.vifScanStopped = false;
    for (const type of ['vbd', 'vif'] as const) {
      this.unwatch.push(await this.dom.xs.watch(`${this.dom.home}/device/${type}`, () => this.dom.onCpu(() => void this.scanDevices(type))));
    }
    await this.scanDevices('vbd');
    await this.scanDevices('vif');
    if (this.isBound('xeniface')) {
      // the agents' services keep running across a restore or migration and hear of it from xeniface
      this.agents ??= new GuestAgents(this.dom, this.faults, { name: this.shape.name, memoryKiB: this.shape.memoryMiB * 1024, managementAgent: this.shape.agent === true }, (l, m) => this.log(l, m));
      if (this.restoring) this.agents.resumed(this.dom);
      else this.agents.start(this.dom);
    }
  }

  /** The platform device xenbus bound this boot (its id is in the child devices' IDs). */
  private activeDevice = '0001';

  /** Each VIF's MAC, as the toolstack wrote it for the frontend. */
  private async vifMacs(): Promise<{ devid: number; mac: string }[]> {
    const out: { devid: number; mac: string }[] = [];
    for (const id of await this.dom.xs.directory(`${this.dom.home}/device/vif`)) {
      const mac = await this.dom.xs.read(`${this.dom.home}/device/vif/${id}/mac`);
      if (mac) out.push({ devid: Number(id), mac: mac.toLowerCase() });
    }
    return out;
  }

  private isBound(d: DriverName): boolean {
    return this.status.bound.some((b) => b.driver === d);
  }

  /** drivers/<N>: "<vendor, non-alphanumerics as _> <DRIVER> <version>", at the first free index. */
  private async writeDriverKey(driver: DriverName, version: string): Promise<void> {
    const spec = this.specs.get(driver);
    if (!spec || !matchKey(spec.guestKeys, 'guest', 'drivers/0')) return;
    let n = this.driverIndex.get(driver);
    if (n === undefined) {
      const used = new Set(await this.dom.xs.directory(`${this.dom.home}/drivers`));
      n = 0;
      while (used.has(String(n)) || [...this.driverIndex.values()].includes(n)) n++;
      this.driverIndex.set(driver, n);
    }
    const vendor = (spec.identity.vendorPrefixes[0]?.vendor ?? 'Xen Project').replace(/[^A-Za-z0-9]/g, '_');
    await this.dom.xs.write(`${this.dom.home}/drivers/${n}`, `${vendor} ${driver.toUpperCase()} ${version}`);
  }

  /** Writes a guest key if the driver's spec lists it (the spec decides what a driver writes). */
  private async writeGuestKey(driver: DriverName, rel: string, value: string): Promise<void> {
    const spec = this.specs.get(driver);
    if (!spec || !matchKey(spec.guestKeys, 'guest', rel)) return;
    await this.dom.xs.write(`${this.dom.home}/${rel}`, value);
  }

  /** Creates frontends for new device directories (boot and hotplug) and drops removed ones. */
  private async scanDevices(type: 'vbd' | 'vif'): Promise<void> {
    if (!this.booted || this.suspending) return;
    const driver: DriverName = type === 'vbd' ? 'xenvbd' : 'xenvif';
    if (!this.isBound(driver)) return;
    if (type === 'vif' && this.vifScanStopped) return;
    const ids = await this.dom.xs.directory(`${this.dom.home}/device/${type}`);
    let removed = 0;
    for (const [dev, fe] of this.frontends) {
      if (fe.type === type && !ids.includes(String(fe.devid))) {
        this.frontends.delete(dev);
        await fe.detach();
        removed++;
      }
    }
    // win-xenvif fdo.c FdoScan re-reads device/vif on every event of the watch __FdoD3ToD0 set, an empty
    // directory included, so a VIF added after the last one went is enumerated like any other. The
    // vif-rescan-lost fault is an FDO that drops that watch (as __FdoD0ToD3 does) when its last child goes.
    if (type === 'vif' && removed > 0 && ids.length === 0 && this.faults.vifRescanLost) {
      this.vifScanStopped = true;
      this.log('warn', 'xenvif: last VIF removed; no longer scanning device/vif');
      return;
    }
    for (const id of ids) {
      const dev = `${type}/${Number(id)}` as DeviceRef;
      if (this.frontends.has(dev)) continue;
      const fe = type === 'vbd'
        ? new Xenvbd(this.dom, this.spec('xenvbd'), Number(id), this.shape.vbds.find((v) => String(this.devidOf(v.vdev)) === id) ?? { vdev: id, sizeMiB: 0, mode: 'w', backend: {} }, this.shape.vcpus)
        : new Xenvif(this.dom, this.spec('xenvif'), Number(id), this.shape.vifs.find((v) => v.devid === Number(id)) ?? { devid: Number(id), backend: {} }, this.shape.vcpus);
      fe.faults = this.effectiveFaults(dev);
      fe.registry = this.shape.registry ?? [];
      const before = this.negotiatedBefore.get(dev);
      if (before) fe.inheritNegotiated(before);
      this.frontends.set(dev, fe);
      void this.startFrontend(fe, type, Number(id));
    }
  }

  private devidOf(vdev: string): number | undefined {
    const rec = this.toolstack.devicesOf(this.dom.domid).find((r) => 'vdev' in r.shape && r.shape.vdev === vdev);
    return rec ? Number(rec.dev.split('/')[1]) : undefined;
  }

  private async startFrontend(fe: XenbusFrontend, type: 'vbd' | 'vif', id: number): Promise<void> {
    try {
      if (type === 'vif') {
        await this.writeGuestKey('xenvif', 'feature/hotplug/vif', '1');
        const n = [...this.frontends.values()].filter((f) => f.type === 'vif').indexOf(fe);
        await this.writeGuestKey('xenvif', `attr/vif/${id}/name`, `Ethernet${n > 0 ? ` ${n + 1}` : ''}`);
        await this.writeGuestKey('xenvif', `attr/vif/${id}/ipv4/0`, `10.0.${this.dom.domid & 0xff}.${(id + 2) & 0xff}`);
      } // xenvbd's data/scsi/target keys are its frontend's prepare step (Xenvbd.prepare)
      await fe.start();
      // Windows puts its page file and crash dump on the boot disk (the first one) and tells that disk's
      // stack so (IRP_MN_DEVICE_USAGE_NOTIFICATION): xenvbd's target.c __TargetDeviceUsageNotification ->
      // frontend.c FrontendSetDeviceUsage writes the target's paging and dump flags, which the crash-dump
      // path looks for (xencrsh fdo.c FdoFindTarget).
      const boot = this.shape.vbds[0] && vdevToDevid(this.shape.vbds[0].vdev);
      if (type === 'vbd' && id === boot) {
        for (const usage of ['paging', 'dump']) await this.writeGuestKey('xenvbd', `data/scsi/target/${xenvbdTargetId(id)}/${usage}`, '1');
      }
    } catch (e) {
      this.log('error', `${fe.dev}: ${(e as Error).message}`);
    }
  }

  /** xenbus's control/shutdown watch: 'suspend' quiesces the frontends and suspends the domain. */
  private async onShutdownRequest(): Promise<void> {
    const v = await this.dom.xs.read(`${this.dom.home}/control/shutdown`);
    if (!v) return;
    await this.dom.xs.write(`${this.dom.home}/control/shutdown`, '');
    if (v === 'suspend') {
      this.suspending = true;
      await Promise.all([...this.frontends.values()].map((f) => f.suspend()));
      this.dom.setState('suspended'); // SCHEDOP_shutdown(SHUTDOWN_suspend)
    } else if (v === 'poweroff' || v === 'halt') {
      await this.shutdown();
      this.dom.setState('shutdown');
    } else if (v === 'reboot') {
      await this.shutdown();
      this.dom.setState('shutdown');
    }
  }

  /** After a resume (in place, or restored under a new domain): reconnect and rewrite the guest keys. */
  async resumed(newDom?: Domain): Promise<void> {
    this.suspending = false;
    if (newDom) {
      for (const u of this.unwatch.splice(0)) await u().catch(() => undefined);
      await this.balloon?.stop();
      // Windows does not reboot when it moves; its drivers keep what they knew. The simulator rebuilds
      // the frontends in the new domain, so it hands each one what its predecessor negotiated.
      this.negotiatedBefore = new Map([...this.frontends].map(([dev, fe]) => [dev, new Map(fe.negotiated)]));
      this.dom = newDom;
      for (const fe of this.frontends.values()) await fe.detach();
      this.frontends.clear();
      this.driverIndex.clear();
      this.booted = false;
      this.restoring = true;
      try {
        await this.boot();
      } finally {
        this.restoring = false;
        this.negotiatedBefore.clear();
      }
      return;
    }
    for (const b of this.status.bound) await this.writeDriverKey(b.driver as DriverName, b.version);
    if (!this.faults.featureSuspendLost) await this.writeGuestKey('xenbus', 'control/feature-suspend', '1');
    await Promise.all([...this.frontends.values()].map((f) => f.resumeReconnect()));
    this.agents?.resumed(this.dom);
  }

  /** Orderly shutdown: every frontend closes, each driver removes its drivers/<N> record, watches go. */
  async shutdown(): Promise<void> {
    await Promise.all([...this.frontends.values()].map((f) => (f.phase === 'connected' ? f.close() : Promise.resolve())));
    for (const fe of this.frontends.values()) await fe.detach();
    this.frontends.clear();
    for (const n of this.driverIndex.values()) await this.dom.xs.rm(`${this.dom.home}/drivers/${n}`);
    this.driverIndex.clear();
    for (const u of this.unwatch.splice(0)) await u().catch(() => undefined);
    await this.balloon?.stop();
    this.agents?.stop();
    this.booted = false;
  }

  /** The guest died: nothing of it runs any more (frontends stay as they were). */
  crashed(): void {
    this.booted = false;
    void this.balloon?.stop();
    this.agents?.stop();
  }

  /**
   * KeBugCheckEx: Windows stops (no driver of the running system runs again, its watches are dead), and
   * the crash dump stack writes the dump through xenvbd's dump path (crashdump.ts). Returns what the
   * dump path did, the frontend keys the dead drivers left behind (the toolstack rebuilds the devices
   * when the guest restarts) and a release to call once the backends were reset.
   */
  async bugcheck(code: number, params: bigint[]): Promise<{ outcome: DumpOutcome; leftBehind: string[]; release: () => Promise<void> }> {
    this.booted = false;
    this.agents?.stop();
    for (const u of this.unwatch.splice(0)) await u().catch(() => undefined);
    await this.balloon?.stop();
    const dead = [...this.frontends.values()];
    const leftBehind = dead.flatMap((fe) => fe.keysLeftBehind());
    for (const fe of dead) await fe.freeze();
    this.frontends.clear();
    this.driverIndex.clear();
    const dump = new XencrshDump(this.dom, this.faults, (l, m) => this.log(l, m));
    const outcome = await dump.run(code, params);
    // the dead system's rings and the dump's: their grants go with the domain's reset, once the backends let go
    const release = async () => {
      dump.release();
      for (const fe of dead) await fe.detach();
    };
    return { outcome, leftBehind: [...leftBehind, ...dump.keysWritten()], release };
  }

  /** A store IOCTL of xeniface (only while xeniface is bound, as its device interface exists only then). */
  async xenifaceRequest(op: XenifaceOp, path: string, value?: string): Promise<XenifaceResult> {
    if (!this.booted || !this.isBound('xeniface')) throw hostError('SIM_NO_XENIFACE', 'xeniface is not bound in this guest (install it with the other drivers)');
    return this.xenifaceStore.request(op, path, value);
  }

  driverStatus(): DriverStatus {
    const drivers = [...new Set<DriverName>(['xenbus', 'xenvbd', 'xenvif', 'xennet', ...this.installed.keys(), ...this.setup.store.map((p) => p.driver)])];
    const states = this.setup.states(drivers, this.installed, this.running());
    return JSON.parse(JSON.stringify({ ...this.status, states, nics: this.setup.nicReports(this.nics) })) as DriverStatus;
  }

  frontend(dev: DeviceRef): XenbusFrontend | undefined {
    return this.frontends.get(dev);
  }
}
