// The simulated Windows guest: boot (PnP binding of the installed PV driver packages by hardware ID,
// pnp.ts: the platform PCI device for xenbus; XENBUS\VEN_..&DEV_<class>&REV_<rev> children for xenvbd,
// xenvif, xeniface; XENVIF\...&DEV_NET for xennet), the emulated-device unplug handshake, the guest keys
// each bound driver's spec lists (guest-keys.ts), the frontends for the domain's devices, including
// hotplug (frontends.ts), the install lifecycle (installer.ts), suspend/resume, shutdown and the bug
// check. Everything a driver writes is decided by its spec.
import type { BoundDriver, DriverStatus } from '../../model/host';
import type { DriverName, DriverSpec, SpecSet } from '../../model/spec';
import type { DeviceRef, GuestShape } from '../../model/scenario';
import { hostError } from '../../model/errors';
import { parseVersion } from '../../model/version';
import type { Domain } from '../hypervisor';
import type { Toolstack } from '../toolstack';
import type { XenbusFrontend } from '../frontend/xenbus-frontend';
import { noGuestFaults, type FrontendFaults, type GuestFaults } from '../faults';
import { PlatformDevice, performUnplug, UNPLUG_ALL_IDE_DISKS, UNPLUG_ALL_NICS, UNPLUG_NVME_DISKS } from './platform';
import type { InstalledPackage } from './packages';
import { XenbusBalloon } from './balloon';
import { XenifaceStore, type XenifaceResult, type XenifaceOp } from './xeniface';
import { XencrshDump, type DumpOutcome } from './crashdump';
import { GuestAgents } from './agent';
import { WindowsSetup, vendorOf } from './installer';
import type { NicConfig } from './nic-settings';
import { bindDevice, childHwids, CLASS_DRIVER } from './pnp';
import { GuestKeys } from './guest-keys';
import { GuestFrontends } from './frontends';

/** Xen Project's product number for the unplug protocol (docs/misc/hvm-emulated-unplug.pandoc). */
const UNPLUG_PRODUCT = 3;

/** A VIF as Windows finds it at boot: its devid (the xenvif PDO name) and the MAC the toolstack wrote. */
type VifMac = { devid: number; mac: string };

export class WindowsGuest {
  readonly installed = new Map<DriverName, InstalledPackage>();
  status: DriverStatus = { bound: [], unbound: [], unplugged: { disks: false, nics: false } };
  readonly faults: GuestFaults = noGuestFaults();
  private unwatch: (() => Promise<void>)[] = [];
  booted = false;
  private suspending = false;
  private restoring = false;
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
  /** VIF devid by MAC (the xenvif PDO name of each NIC). */
  private nicDevids = new Map<string, number>();
  /** The platform device xenbus bound this boot (its id is in the child devices' IDs). */
  private activeDevice = '0001';
  private readonly keys: GuestKeys;
  private readonly fes: GuestFrontends;

  constructor(
    public dom: Domain,
    readonly specs: SpecSet,
    readonly toolstack: Toolstack,
    readonly shape: GuestShape,
    readonly platform = new PlatformDevice(),
  ) {
    this.setup = new WindowsSetup((shape.platformDevice ?? '0001').toUpperCase(), this.faults, (m) => this.log('info', m));
    this.keys = new GuestKeys(() => this.dom, specs);
    this.fes = new GuestFrontends({
      dom: () => this.dom,
      shape,
      toolstack,
      faults: this.faults,
      keys: this.keys,
      spec: (name) => this.spec(name),
      scans: (type) => this.booted && !this.suspending && this.isBound(type === 'vbd' ? 'xenvbd' : 'xenvif'),
      log: (level, msg) => this.log(level, msg),
    });
  }

  /** The live frontends, by device. */
  get frontends(): Map<DeviceRef, XenbusFrontend> {
    return this.fes.live;
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void {
    this.dom.hv.report.log(level, `d${this.dom.domid} windows: ${msg}`);
  }

  /** Faults for a device's frontend (present and future instances); `*` applies to every device. */
  deviceFaults(dev: DeviceRef | '*'): FrontendFaults {
    return this.fes.deviceFaults(dev);
  }

  /** Re-reads the fault switches into the live frontends (after the injector changed them). */
  refreshFaults(): void {
    this.fes.refreshFaults();
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

  /** Driver versions running this boot. */
  private running(): Map<string, string> {
    return new Map(this.status.bound.map((b) => [b.driver, b.version]));
  }

  /** PnP binding as this guest sees it (what is installed, the revision-mismatch fault), failures into the status. */
  private bind(hwids: string[], candidates: DriverName[], why: string): BoundDriver | undefined {
    return bindDevice({ installed: this.installed, specs: this.specs, revisionMismatch: this.faults.revisionMismatch }, hwids, candidates, why, this.status.unbound);
  }

  /** Boots Windows with whatever is installed. */
  async boot(): Promise<void> {
    this.status = { bound: [], unbound: [], unplugged: { disks: false, nics: false } };
    this.keys.forget();
    const stop = this.setup.beginBoot(this.installed);
    if (stop) {
      this.log('error', `bug check: ${stop}`);
      this.onBugcheck?.(stop);
      return;
    }
    const macs = await this.vifMacs();
    this.nicDevids = new Map(macs.map((m) => [m.mac, m.devid]));
    this.nics = macs.map(({ mac }) => ({ mac, kind: 'emulated' as const, node: mac }));
    const bus = this.bindBus();
    if (!bus) {
      this.booted = true;
      return;
    }
    this.status.bound.push(bus);
    this.setup.busStarted();
    this.unplugEmulated(bus);
    await this.keys.writeDriverKey('xenbus', bus.version);
    await this.startXenbus();
    await this.enumerateChildren(macs);
    this.booted = true;
    this.fes.vifScanStopped = false;
    for (const type of ['vbd', 'vif'] as const) {
      // a scan that fails (the domain torn down under a pending watch event: its xenstore is gone and
      // reads give EACCES) ends there, as xenvif's FdoScan returns on a failed read (fdo.c); it must
      // not become an unhandled rejection that takes the simulator process down
      const scan = () => void this.fes.scan(type).catch((e: unknown) => this.log('warn', `scan of device/${type} failed: ${(e as Error).message}`));
      this.unwatch.push(await this.dom.xs.watch(`${this.dom.home}/device/${type}`, () => this.dom.onCpu(scan)));
    }
    await this.fes.scan('vbd');
    await this.fes.scan('vif');
    this.startAgents();
  }

  /** PnP binds xenbus to the first platform device whose IDs its INF lists (the vendor device first). */
  private bindBus(): BoundDriver | undefined {
    for (const dev of this.setup.platformDevices()) {
      const before = this.status.unbound.length;
      const bus = this.bind(dev.hwids, ['xenbus'], 'PCI');
      if (bus) {
        this.activeDevice = dev.id;
        this.status.unbound.splice(before);
        return bus;
      }
    }
    return undefined;
  }

  /** xen.sys: unplug the emulated devices the installed PV drivers asked for. */
  private unplugEmulated(bus: BoundDriver): void {
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
  }

  /** xenbus: control/shutdown watch first, then advertise suspend support, then the balloon. */
  private async startXenbus(): Promise<void> {
    this.unwatch.push(await this.dom.xs.watch(`${this.dom.home}/control/shutdown`, () => this.dom.onCpu(() => void this.onShutdownRequest())));
    if (!(this.restoring && this.faults.featureSuspendLost)) await this.keys.writeGuestKey('xenbus', 'control/feature-suspend', '1');
    // fdo.c FdoD3ToD0 then sets the memory/target watch and writes control/feature-balloon; FdoStartDevice
    // waits for the balloon thread's first pass before the bus goes on (children enumerate after it).
    // Deviation: xenbus starts its balloon thread whenever memory/target exists; the model starts it only
    // when the target is below static-max (ballooning is needed), because with the thread in every
    // guest the planted-bug run of migrate-into-poorer-backend hung after its wait timed out (cause not
    // found yet; see the field report of issue #18).
    const target = Number((await this.dom.xs.read(`${this.dom.home}/memory/target`)) ?? NaN);
    const max = Number((await this.dom.xs.read(`${this.dom.home}/memory/static-max`)) ?? NaN);
    if (this.balloon || target < max) {
      this.balloon ??= new XenbusBalloon(this.dom, this.faults, () => this.onReservation?.(), (rel, v) => this.keys.writeGuestKey('xenbus', rel, v));
      await this.balloon.start(this.dom);
    }
  }

  /** xenbus enumerates its child classes present in the domain and PnP binds their drivers (xennet below xenvif). */
  private async enumerateChildren(macs: VifMac[]): Promise<void> {
    // the children's VEN_<prefix><device>: the prefix xenbus was built with (VENDOR_PREFIX), the device it bound
    const xenbusPkg = this.installed.get('xenbus')!;
    const prefix = xenbusPkg.vendor ?? [...this.installed.values()].map(vendorOf).find(Boolean) ?? this.spec('xenbus').identity.vendorPrefixes[0]?.prefix ?? 'XP';
    for (const klass of ['VBD', 'VIF', 'IFACE']) {
      const present = klass === 'IFACE' || this.shape[klass === 'VBD' ? 'vbds' : 'vifs'].length > 0 || (await this.dom.xs.directory(`${this.dom.home}/device/${klass.toLowerCase()}`)).length > 0;
      if (!present) continue;
      if (klass === 'IFACE' && !this.installed.has('xeniface')) continue;
      const driver = CLASS_DRIVER[klass];
      this.setup.enumerate(this.installed, driver);
      const unplugged = klass === 'VBD' ? this.status.unplugged.disks : klass === 'VIF' ? this.status.unplugged.nics : true;
      if (this.installed.has(driver) && !this.setup.childStart(driver, unplugged, this.registry, klass === 'VIF' ? macs.map((m) => ({ pdo: String(m.devid), mac: m.mac })) : [])) continue;
      const child = this.bind(childHwids(this.spec('xenbus'), klass, prefix, this.activeDevice), [driver], 'REV_');
      if (!child) continue;
      this.setup.childStarted(child.driver as DriverName);
      this.status.bound.push(child);
      await this.keys.writeDriverKey(child.driver as DriverName, child.version);
      if (child.driver === 'xenvif') this.setup.enumerate(this.installed, 'xennet');
      if (child.driver === 'xenvif' && this.installed.has('xennet')) await this.bindNet(prefix, macs);
    }
  }

  /** xenvif enumerates each VIF's NET device and PnP binds xennet: the PV NICs come up. */
  private async bindNet(prefix: string, macs: VifMac[]): Promise<void> {
    const net = this.bind(childHwids(this.spec('xenvif'), 'NET', prefix, this.activeDevice), ['xennet'], 'REV_');
    if (!net) return;
    this.status.bound.push(net);
    await this.keys.writeDriverKey('xennet', net.version);
    // each VIF's PV NIC: the device node XENVIF\VEN_<prefix>&DEV_NET\<PDO name> (xenvif pdo.c PdoQueryId)
    const vendor = vendorOf(this.installed.get('xenvif')!) ?? prefix;
    for (const { devid, mac } of macs) {
      const node = `XENVIF\\VEN_${vendor}&DEV_NET\\${devid}`;
      this.setup.pvNicStarted(String(devid), node, mac);
      if (this.status.unplugged.nics) this.nics.push({ mac, kind: 'pv', node });
    }
  }

  /** With xeniface bound, the agents' services start (or, after a move, hear of it from xeniface). */
  private startAgents(): void {
    if (!this.isBound('xeniface')) return;
    // the agents' services keep running across a restore or migration and hear of it from xeniface
    this.agents ??= new GuestAgents(this.dom, this.faults, { name: this.shape.name, memoryKiB: this.shape.memoryMiB * 1024, managementAgent: this.shape.agent === true }, (l, m) => this.log(l, m));
    if (this.restoring) this.agents.resumed(this.dom);
    else this.agents.start(this.dom);
  }

  /** Each VIF's MAC, as the toolstack wrote it for the frontend. */
  private async vifMacs(): Promise<VifMac[]> {
    const out: VifMac[] = [];
    for (const id of await this.dom.xs.directory(`${this.dom.home}/device/vif`)) {
      const mac = await this.dom.xs.read(`${this.dom.home}/device/vif/${id}/mac`);
      if (mac) out.push({ devid: Number(id), mac: mac.toLowerCase() });
    }
    return out;
  }

  private isBound(d: DriverName): boolean {
    return this.status.bound.some((b) => b.driver === d);
  }

  /** xenbus's control/shutdown watch: 'suspend' quiesces the frontends and suspends the domain. */
  private async onShutdownRequest(): Promise<void> {
    const v = await this.dom.xs.read(`${this.dom.home}/control/shutdown`);
    if (!v) return;
    await this.dom.xs.write(`${this.dom.home}/control/shutdown`, '');
    if (v === 'suspend') {
      this.suspending = true;
      await Promise.all([...this.frontends.values()].map(async (f) => {
        await f.settleConnect();
        await f.suspend();
      }));
      this.dom.setState('suspended'); // SCHEDOP_shutdown(SHUTDOWN_suspend)
    } else if (v === 'poweroff' || v === 'halt' || v === 'reboot') {
      await this.shutdown();
      this.dom.setState('shutdown');
    }
  }

  /** After a resume (in place, or restored under a new domain): reconnect and rewrite the guest keys. */
  async resumed(newDom?: Domain): Promise<void> {
    this.suspending = false;
    if (newDom) return this.restoredInto(newDom);
    for (const b of this.status.bound) await this.keys.writeDriverKey(b.driver as DriverName, b.version);
    if (!this.faults.featureSuspendLost) await this.keys.writeGuestKey('xenbus', 'control/feature-suspend', '1');
    await Promise.all([...this.frontends.values()].map((f) => f.resumeReconnect()));
    this.agents?.resumed(this.dom);
  }

  /** Restored or migrated into a new domain: the drivers come up there again, keeping what they knew. */
  private async restoredInto(newDom: Domain): Promise<void> {
    for (const u of this.unwatch.splice(0)) await u().catch(() => undefined);
    await this.balloon?.stop();
    // Windows does not reboot when it moves; its drivers keep what they knew. The simulator rebuilds
    // the frontends in the new domain, so it hands each one what its predecessor negotiated.
    this.fes.negotiatedBefore = new Map([...this.frontends].map(([dev, fe]) => [dev, new Map(fe.negotiated)]));
    this.dom = newDom;
    await this.fes.detachAll();
    this.keys.forget();
    this.booted = false;
    this.restoring = true;
    try {
      await this.boot();
    } finally {
      this.restoring = false;
      this.fes.negotiatedBefore.clear();
    }
  }

  /** Orderly shutdown: every frontend closes, each driver removes its drivers/<N> record, watches go. */
  async shutdown(): Promise<void> {
    await Promise.all([...this.frontends.values()].map((f) => f.stop()));
    await this.fes.detachAll();
    await this.keys.removeDriverKeys();
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
  async bugcheck(code: number, params: bigint[]): Promise<{ outcome: DumpOutcome; release: () => Promise<void> }> {
    this.booted = false;
    this.agents?.stop();
    for (const u of this.unwatch.splice(0)) await u().catch(() => undefined);
    await this.balloon?.stop();
    const dead = [...this.frontends.values()];
    for (const fe of dead) await fe.freeze();
    this.frontends.clear();
    this.keys.forget();
    const dump = new XencrshDump(this.dom, this.faults, (l, m) => this.log(l, m));
    const outcome = await dump.run(code, params);
    // the dead system's rings and the dump's: their grants go with the domain's reset, once the backends let go
    const release = async () => {
      dump.release();
      for (const fe of dead) await fe.detach();
    };
    return { outcome, release };
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
