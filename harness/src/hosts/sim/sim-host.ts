// SimHost: the embedded simulated Xen host behind `--host sim`. It runs the simulator of sim/
// (hypervisor, xenstored, toolstack, Linux-style backends, spec-driven Windows frontends) in
// virtual time and implements HostBackend with every capability the simulator has. It reports
// guest lifecycle, ring.io, grants audits, fault switches and backend counters to the trace; the
// xenstore and ring samples come from the run's probes through `xenstore` and `rings`.
import type { Socket } from 'node:net';
import { FAULTS, type Capability, type FaultName } from '../../model/catalog';
import type {
  BackendControlCapability, BugcheckCapability, DestinationOptions, DriverBundle, DriverStatus, FaultCapability, GuestAgent, GuestPowerState, GuestRef, HostBackend,
  HostClock, HotplugCapability, XenifaceStoreCapability, MigrateCapability, RingId, SaveRestoreCapability, SnapshotCapability, SuspendCapability,
} from '../../model/host';
import type { BlockWorkloadStep, DeviceRef, GuestShape, NetWorkloadStep, VbdShape, VifShape } from '../../model/scenario';
import type { SpecSet, DriverName } from '../../model/spec';
import { stopCode, type TraceEventInput, type TraceSink, type GuestLifecycle } from '../../model/trace';
import { guestError, hostError, WinpvError } from '../../model/errors';
import { XenbusState } from '../../model/xenbus';
import { vdevToDevid } from '../../model/vdev';
import { Hypervisor, type Domain } from '../../sim/hypervisor';
import { Scheduler } from '../../sim/scheduler';
import { simXenstore, type SimXenstore } from '../../sim/xs-adapter';
import { XenstoreClient } from '../../xenstore/client';
import { Toolstack } from '../../sim/toolstack';
import { VirtualBridge, Dom0Endpoint, parseMac } from '../../sim/bridge';
import { WindowsGuest } from '../../sim/windows/guest';
import { STOP_NAMES } from '../../sim/windows/crashdump';
import { BUILTIN_PREFIX, builtinPackages, bundlePackages } from '../../sim/windows/packages';
import { sameVersion } from '../../model/version';
import { runDiskspd } from '../../sim/windows/diskspd';
import { runNtttcp, type NetEndpoint } from '../../sim/windows/ntttcp';
import { Xenvbd } from '../../sim/frontend/xenvbd';
import { Xenvif } from '../../sim/frontend/xenvif';
import { Blkback } from '../../sim/backend/blkback';
import { Netback } from '../../sim/backend/netback';
import { SparseDisk } from '../../sim/disk';
import { SimRingView, SimXenstoreView } from './views';
import { SimFaultInjector } from './faults';
import { collectSimDump, STOP_PARAMS } from './crash-dump';
import type { FaultTarget, SimGuest } from './sim-guest';
import { InstallerFailure } from '../../sim/windows/installer';
import { msiExitMeaning } from '../../guests/windows/installer';
import { storeArtifact } from '../../util/artifacts';
import { writeFile } from 'node:fs/promises';

export type { SimGuest } from './sim-guest';

export const SIM_CAPABILITIES: Capability[] = [
  'hotplug', 'suspend', 'save-restore', 'migrate', 'snapshot', 'backend-control', 'backend-keys', 'destination-backend-keys', 'fault-injection', 'ring-ids', 'grant-audit', 'windows-guest', 'balloon', 'xeniface-store', 'guest-bugcheck', 'guest-agent',
  'vendor-installer', 'driver-uninstall', 'driver-staging', 'nic-settings', 'platform-device', 'vendor-packages',
];

export interface SimHostOptions {
  /** The driver specs the frontends and the reference packages follow. */
  specs: SpecSet;
  /** Properties of simulated driver builds, by the version installed (`9.1.7` for builtin:9.1.7):
   *  `ioSlowdown` multiplies the disk's per-I/O service time while that build is installed, so a
   *  regression can be planted in one build and found by `winpv bisect`. No real behaviour: a
   *  simulator-only knob for demonstrating and testing history, regression and bisection. */
  builds?: Record<string, SimBuildProperties>;
}

export interface SimBuildProperties {
  ioSlowdown?: number;
}

/** Virtual delay between a restore returning and the restored domain being unpaused. */
const RESTORE_UNPAUSE_MS = 5;
/** How long a cooperative suspend may take before the host gives up (virtual ms). */
const SUSPEND_TIMEOUT_MS = 60_000;

interface SavedImage {
  guest: SimGuest;
  disks: Map<string, SparseDisk>;
}

export class SimHost implements HostBackend, FaultTarget {
  readonly kind = 'sim' as const;
  readonly label = 'sim';
  readonly capabilities: ReadonlySet<Capability> = new Set(SIM_CAPABILITIES);
  /** The simulated guest reboots inside its domain (the domid stays). */
  readonly rebootMakesNewDomain = false;
  readonly clock: HostClock;
  private _hv?: Hypervisor;
  private xsd?: SimXenstore;
  private dom0?: Domain;
  private toolstack?: Toolstack;
  private sink?: TraceSink;
  private view?: SimXenstoreView;
  private bridges = new Map<string, VirtualBridge>();
  // dom0's own port on the bridge uses the address Xen gives dom0 vifs (fe:ff:ff:ff:ff:ff).
  private dom0Endpoint = new Dom0Endpoint(parseMac('fe:ff:ff:ff:ff:ff'));
  readonly guests = new Map<string, SimGuest>();
  private images = new Map<string, SavedImage>();
  private snapshots = new Map<string, { guest: string; disks: Map<string, SparseDisk> }>();
  private nextImage = 1;
  readonly faultInjector: SimFaultInjector;

  readonly hotplug: HotplugCapability;
  readonly suspend: SuspendCapability;
  readonly saveRestore: SaveRestoreCapability;
  readonly migrate: MigrateCapability;
  readonly snapshot: SnapshotCapability;
  readonly backendControl: BackendControlCapability;
  readonly faults: FaultCapability;
  readonly xenifaceStore: XenifaceStoreCapability;
  readonly bugcheck: BugcheckCapability;
  readonly rings: SimRingView;
  /** The run's `<report dir>/artifacts` (crash dumps go there), when it keeps one. */
  private artifactsDir?: string;

  constructor(readonly opts: SimHostOptions) {
    this.clock = {
      now: () => this._hv?.sched.now() ?? 0,
      sleep: (ms) => (this._hv ? this._hv.sched.sleep(ms) : Promise.reject(hostError('SIM_NOT_OPEN', 'the simulated host is not open'))),
    };
    this.faultInjector = new SimFaultInjector(this);
    this.hotplug = {
      attachVbd: (g, vbd) => this.attachVbd(g, vbd),
      attachVif: (g, vif) => this.attachVif(g, vif),
      detach: (g, dev, o) => this.detachDevice(g, dev, o.surprise),
    };
    this.suspend = { suspend: (g) => this.suspendGuest(g), resume: (g, o) => this.resumeGuest(g, o) };
    this.saveRestore = { save: (g) => this.save(g), restore: (g, img, o) => this.restore(g, img, o) };
    this.migrate = { migrate: (g, _target, o) => this.migrateGuest(g, o) };
    this.snapshot = {
      snapshot: (g, label) => this.takeSnapshot(g, label),
      revert: (g, s) => this.revert(g, s),
      deleteSnapshot: async (s) => void this.snapshots.delete(s),
    };
    this.backendControl = {
      restartKind: 'reprobe',
      restartBackend: (g, dev) => this.ts().restartBackend(this.guest(g).dom, dev),
      forceBackendState: async (g, dev, state) => {
        const rec = this.ts().record(this.guest(g).dom.domid, dev);
        if (!rec) throw hostError('SIM_NO_DEVICE', `${g.name} has no ${dev}`);
        await rec.backend.force(state);
      },
    };
    this.xenifaceStore = { request: (g, r) => this.guest(g).win.xenifaceRequest(r.op, r.path, r.value) };
    this.bugcheck = { bugcheck: (g, o) => this.bugcheckGuest(g, o.code) };
    this.faults = { supported: new Set(Object.keys(FAULTS) as FaultName[]), inject: (f, g) => this.faultInjector.inject(f, g) };
    this.rings = new SimRingView({
      guestRings: (g) => this.guestRings(g),
      guestRing: (g, id) => this.guestRing(g, id),
      guestByDomid: (d) => [...this.guests.values()].find((x) => x.dom.domid === d)?.ref,
      backendStats: (g, dev) => this.ts().record(this.guest(g).dom.domid, dev)?.backend.stats() ?? null,
      onRingNotify: (cb) => this.hv.report.add({ ringNotify: cb }),
    });
  }

  get hv(): Hypervisor {
    if (!this._hv) throw hostError('SIM_NOT_OPEN', 'the simulated host is not open');
    return this._hv;
  }

  get xenstore(): SimXenstoreView {
    if (!this.view) throw hostError('SIM_NOT_OPEN', 'the simulated host is not open');
    return this.view;
  }

  get xenstored(): SimXenstore {
    if (!this.xsd) throw hostError('SIM_NOT_OPEN', 'the simulated host is not open');
    return this.xsd;
  }

  ts(): Toolstack {
    if (!this.toolstack) throw hostError('SIM_NOT_OPEN', 'the simulated host is not open');
    return this.toolstack;
  }

  emit(e: TraceEventInput): void {
    this.sink?.emit(e);
  }

  async open(trace: TraceSink, opts: { seed: number; artifactsDir?: string }): Promise<void> {
    this.sink = trace;
    this.artifactsDir = opts.artifactsDir;
    const sched = new Scheduler(opts.seed);
    this.xsd = simXenstore(sched);
    const hv = new Hypervisor(sched, this.xsd);
    this._hv = hv;
    hv.sched.onError = (e) => hv.report.log('error', `simulator: ${(e as Error).stack ?? String(e)}`);
    this.dom0 = await hv.boot();
    this.toolstack = new Toolstack(hv, this.dom0, (name) => this.bridge(name));
    const viewClient = XenstoreClient.inProcess(this.xsd.server, 0);
    this.view = new SimXenstoreView(viewClient, this.xsd.server, hv.sched);
    this.faultInjector.installHooks();
    await this.dom0.xs.write('/local/domain/0/name', 'Domain-0');
    await this.dom0.xs.write('/local/domain/0/domid', '0');
    hv.report.add({
      ringIo: (e) => {
        const g = this.byDomid(e.domid);
        if (!g) return;
        this.emit({ ev: 'ring.io', inst: g.inst, guest: g.ref.name, dev: e.dev, queue: e.queue, ring: e.ring, dir: e.dir, ids: [e.id], ...(e.op !== undefined ? { ops: [e.op] } : {}), ...(e.status !== undefined ? { statuses: [e.status] } : {}) });
      },
      deviceClosed: (domid, dev) => {
        const g = this.byDomid(domid);
        if (!g) return;
        this.audit(g, 'device-closed', dev);
        this.emitStats(g, dev);
      },
      log: (level, msg) => {
        if (level === 'debug') return;
        this.emit({ ev: 'log', level, msg });
      },
    });
  }

  async healthy(): Promise<boolean> {
    return this._hv !== undefined && this.sink !== undefined;
  }

  async close(): Promise<void> {
    for (const g of [...this.guests.values(), ...this.kept.values()]) await this.destroyGuest(g.ref).catch(() => undefined);
    this._hv?.sched.stop();
    this._hv?.releaseDisks();
    this.sink = undefined;
  }

  private bridge(name: string): VirtualBridge {
    let b = this.bridges.get(name);
    if (!b) {
      b = new VirtualBridge(name);
      b.attach(this.dom0Endpoint);
      this.bridges.set(name, b);
    }
    return b;
  }

  private byDomid(domid: number): SimGuest | undefined {
    for (const g of this.guests.values()) if (g.dom.domid === domid) return g;
    return undefined;
  }

  /** Guests are kept by handle, `<instance>/<guest>`, so instances sharing the host at once (a
   *  parallel run's bench) never meet; a ref without a handle (a fault naming a guest) finds the
   *  guest by name when only one guest has it. */
  private find(ref: GuestRef): SimGuest | undefined {
    const g = this.guests.get(ref.handle);
    if (g) return g;
    const named = [...this.guests.values()].filter((x) => x.ref.name === ref.name);
    return named.length === 1 ? named[0] : undefined;
  }

  guest(ref: GuestRef): SimGuest {
    const g = this.find(ref);
    if (!g) throw hostError('SIM_NO_GUEST', `no guest '${ref.name}' on the simulated host`);
    return g;
  }

  private lifecycle(g: SimGuest, what: GuestLifecycle, detail?: Record<string, string | number>): void {
    this.emit({ ev: 'guest', inst: g.inst, guest: g.ref.name, domid: g.dom.domid, what, ...(detail ? { detail } : {}) });
  }

  /** The domain's memory as Xen accounts it: the static maximum less what xenbus's balloon gave back. */
  private emitMemory(g: SimGuest): void {
    const staticMaxKiB = g.shape.memoryMiB * 1024;
    const targetKiB = (g.shape.memoryTargetMiB ?? g.shape.memoryMiB) * 1024;
    const actualKiB = g.win.balloon?.actualKiB(staticMaxKiB) ?? staticMaxKiB;
    this.emit({ ev: 'memory', inst: g.inst, guest: g.ref.name, domid: g.dom.domid, targetKiB, staticMaxKiB, actualKiB });
  }

  private audit(g: SimGuest, when: 'device-closed' | 'teardown', dev?: DeviceRef): void {
    const a = this.hv.grantOps.audit(g.dom.domid, dev);
    this.emit({ ev: 'grants', inst: g.inst, guest: g.ref.name, domid: g.dom.domid, ...(dev ? { dev } : {}), when, active: a.active, mapped: a.mapped, revokedWhileMapped: a.revokedWhileMapped });
  }

  private emitStats(g: SimGuest, dev: DeviceRef): void {
    const rec = this.ts().record(g.dom.domid, dev);
    if (rec) this.emit({ ev: 'backend.stats', inst: g.inst, guest: g.ref.name, dev, stats: rec.backend.stats() });
  }

  async createGuest(shape: GuestShape, inst: string): Promise<GuestRef> {
    if (shape.os !== 'windows') throw hostError('SIM_UNSUPPORTED_OS', `the simulated host runs Windows guests only (guest '${shape.name}' is ${shape.os})`);
    const handle = `${inst}/${shape.name}`;
    if (this.guests.has(handle)) throw hostError('SIM_GUEST_EXISTS', `guest '${shape.name}' of ${inst} already exists`);
    // The simulated drivers honour only the parameters their specs list (the INF's AddReg and the values the
    // driver source reads); any other would be silently ignored, so it is refused.
    for (const r of shape.registry ?? []) {
      if (this.opts.specs.get(r.driver)?.registry.some((p) => p.value === r.value && p.type === 'REG_DWORD')) continue;
      throw new WinpvError('input', 'SIM_UNKNOWN_REGISTRY_VALUE', `guest '${shape.name}': registry value ${r.driver} ${r.value} is not a REG_DWORD parameter the ${r.driver} spec lists`);
    }
    const hv = this.hv;
    const dom = await hv.createDomain(shape.name);
    await this.ts().createDomainKeys(dom, shape.name, shape.memoryMiB * 1024, (shape.memoryTargetMiB ?? shape.memoryMiB) * 1024);
    for (const vbd of shape.vbds) await this.ts().addVbd(dom, vbd);
    for (const vif of shape.vifs) await this.ts().addVif(dom, vif);
    const ref: GuestRef = { name: shape.name, domid: dom.domid, handle };
    const g: SimGuest = { ref, shape, inst, dom, win: new WindowsGuest(dom, this.opts.specs, this.ts(), shape), rng: hv.sched.rng.fork(), power: 'paused' };
    this.guests.set(handle, g);
    this.faultInjector.applyPending(g);
    this.lifecycle(g, 'created');
    g.win.onReservation = () => this.emitMemory(g);
    // what dom0 reads in xenstored's log when it stops serving a domain's connection
    g.win.onXenstoreLost = (reason) => this.lifecycle(g, 'xenstore-lost', { reason });
    g.win.onBugcheck = (reason) => this.crash(g, reason);
    this.emitMemory(g);
    return { ...ref };
  }

  async startGuest(ref: GuestRef): Promise<void> {
    const g = this.guest(ref);
    g.dom.setState('running');
    g.power = 'running';
    this.lifecycle(g, 'started');
    await g.win.boot();
  }

  async rebootGuest(ref: GuestRef): Promise<void> {
    const g = this.guest(ref);
    if (g.power !== 'running') throw hostError('SIM_NOT_RUNNING', `${ref.name} is ${g.power}`);
    const frontends = [...g.win.frontends.values()];
    await g.win.shutdown();
    // xl and xapi rebuild the domain on reboot, so its device directories start fresh: the keys the
    // drivers left behind when they closed (they remove none) do not survive into the next boot.
    for (const fe of frontends) for (const p of fe.keysLeftBehind()) await this.dom0!.xs.rm(p).catch(() => undefined);
    g.win.platform.reset();
    // the rebuilt domain has its whole memory again; the balloon starts empty at the next boot
    g.win.balloon?.reset();
    this.lifecycle(g, 'rebooted');
    this.emitMemory(g);
    await g.win.boot();
  }

  async shutdownGuest(ref: GuestRef, how: 'clean' | 'hard'): Promise<void> {
    const g = this.guest(ref);
    if (g.power === 'halted' || g.power === 'gone') return;
    if (how === 'clean' && g.power === 'running') await g.win.shutdown();
    g.dom.setState('shutdown');
    g.power = 'halted';
    this.lifecycle(g, 'shutdown', { how });
  }

  /** Guests --keep-on-failure kept past their instance, by domid: still running, their names free. */
  private readonly kept = new Map<number, SimGuest>();

  async keepGuest(ref: GuestRef): Promise<void> {
    const g = this.find(ref);
    if (!g) return;
    this.guests.delete(g.ref.handle);
    this.kept.set(g.dom.domid, g);
  }

  /** The simulated xenstored on a unix socket, as `winpv xenstored` serves its own (every client is dom0). */
  async serveXenstore(socketPath: string): Promise<() => Promise<void>> {
    const net = await this.xenstored.server.listen(socketPath);
    const clients = new Set<Socket>();
    net.on('connection', (c: Socket) => {
      clients.add(c);
      c.once('close', () => clients.delete(c));
    });
    return async () => {
      for (const c of clients) c.destroy();
      await new Promise<void>((done) => net.close(() => done()));
    };
  }

  async destroyGuest(ref: GuestRef): Promise<void> {
    const kept = this.kept.get(ref.domid);
    const g = kept ?? this.find(ref);
    if (!g || g.power === 'gone') return;
    // An orderly close first when the guest still runs, so the teardown audit judges the drivers,
    // not the act of pulling the plug.
    if (g.power === 'running' && g.dom.state === 'running') await g.win.shutdown().catch(() => undefined);
    this.audit(g, 'teardown');
    for (const rec of this.ts().devicesOf(g.dom.domid)) this.emitStats(g, rec.dev);
    await this.ts().destroyDevices(g.dom);
    await this.hv.destroyDomain(g.dom.domid);
    g.power = 'gone';
    this.lifecycle(g, 'destroyed');
    if (kept) this.kept.delete(ref.domid);
    else this.guests.delete(g.ref.handle);
  }

  async powerState(ref: GuestRef): Promise<GuestPowerState> {
    return this.find(ref)?.power ?? 'gone';
  }

  homePath(ref: GuestRef): string {
    return `/local/domain/${this.guest(ref).dom.domid}`;
  }

  agent(ref: GuestRef): GuestAgent {
    const name = ref.name;
    const host = this;
    const agent: GuestAgent = {
      async installDrivers(bundle: DriverBundle) {
        const g = host.guest({ ...ref, name });
        const drivers = bundle.drivers as DriverName[];
        // builtin:<version>[@<vendor prefix>]: the reference packages built with another vendor's prefix (XS, XN)
        const [builtinVersion, vendorPrefix] = bundle.location.slice(BUILTIN_PREFIX.length).split('@');
        const pkgs = bundle.location.startsWith(BUILTIN_PREFIX)
          ? builtinPackages(host.opts.specs, drivers, builtinVersion || bundle.version, vendorPrefix ? { vendorPrefix } : {})
          : await host.hv.sched.holding(() => bundlePackages(bundle.location, host.opts.specs, drivers));
        if (bundle.staged) g.win.stage(pkgs);
        else if (bundle.installer) await host.runInstaller(g, pkgs, `winpv-${builtinVersion || bundle.version}${vendorPrefix ? `-${vendorPrefix}` : ''}.msi`);
        else g.win.install(pkgs);
        host.installedBuild.set(name, bundle.version);
      },
      async uninstallDrivers(opts: { vendor?: string; installer?: boolean }) {
        host.guest({ ...ref, name }).win.uninstall(opts.vendor);
      },
      async setNic(nic) {
        if (!host.guest({ ...ref, name }).win.configureNic(nic)) throw guestError('SIM_NO_NIC', `${name}: no network interface with MAC ${nic.mac} is up`);
      },
      async driverStatus(): Promise<DriverStatus> {
        return host.guest({ ...ref, name }).win.driverStatus();
      },
      blockWorkload: (w) => host.blockWorkload(host.guest({ ...ref, name }), w),
      netWorkload: (w, peer) => host.netWorkload(host.guest({ ...ref, name }), w, peer),
    };
    this.agentGuest.set(agent, name);
    return agent;
  }

  /** msiexec /i <product> /qn /norestart /l*v <log>: the verbose log is collected as an `installer-log`
   *  artifact, and a failure is reported as the Windows agent reports it (guests/windows/installer.ts). */
  private async runInstaller(g: SimGuest, pkgs: Parameters<WindowsGuest['msiInstall']>[0], product: string): Promise<void> {
    let log: string;
    let failure: InstallerFailure | undefined;
    try {
      log = g.win.msiInstall(pkgs, product);
    } catch (e) {
      if (!(e instanceof InstallerFailure)) throw e;
      failure = e;
      log = e.log;
    }
    const source = `C:\\Windows\\Temp\\${product}.log`;
    let where = source;
    if (this.artifactsDir) {
      const dir = this.artifactsDir;
      const stored = await this.hv.sched.holding(() => storeArtifact(dir, g.inst, `${g.ref.name}-${product}.log`, (tmp) => writeFile(tmp, log)));
      this.emit({ ev: 'artifact', inst: g.inst, guest: g.ref.name, kind: 'installer-log', ...stored, source });
      where = stored.path;
    } else {
      this.emit({ ev: 'artifact', inst: g.inst, guest: g.ref.name, kind: 'installer-log', source, bytes: Buffer.byteLength(log), missing: 'this run keeps no artifacts (no report directory); the log stays in the guest' });
    }
    if (failure) {
      throw guestError('GUEST_DRIVER_INSTALL', `${g.ref.name}: the vendor installer ${product} failed (${failure.exitCode}: ${msiExitMeaning(failure.exitCode)}); its log is ${where}`);
    }
  }

  /** The driver build version each guest installed last (for `builds`). */
  private installedBuild = new Map<string, string>();

  /** Which guest an agent belongs to (a net workload may name its peer by agent). */
  private agentGuest = new WeakMap<GuestAgent, string>();

  private async blockWorkload(g: SimGuest, w: BlockWorkloadStep) {
    const fe = g.win.frontend(w.device);
    const rec = this.ts().record(g.dom.domid, w.device);
    if (!(fe instanceof Xenvbd) || !rec || !(rec.backend instanceof Blkback)) {
      throw guestError('SIM_NO_PV_DISK', `${g.ref.name}: ${w.device} has no PV disk (is xenvbd installed and bound?)`);
    }
    await this.waitConnected(fe);
    const disk = rec.backend.model;
    // builds are named as a person writes the version (9.1.7 for builtin:9.1.7 = 9.1.7.0)
    const installed = this.installedBuild.get(g.ref.name) ?? '';
    const build = Object.entries(this.opts.builds ?? {}).find(([v]) => sameVersion(v, installed))?.[1];
    const slow = build?.ioSlowdown ?? 1;
    const saved = { latencyUs: disk.latencyUs, bytesPerUs: disk.bytesPerUs };
    disk.latencyUs *= slow;
    disk.bytesPerUs /= slow;
    let out: Awaited<ReturnType<typeof runDiskspd>>;
    try {
      out = await runDiskspd(w, { sched: this.hv.sched, rng: g.rng, fe, disk, computerName: g.ref.name });
    } finally {
      Object.assign(disk, saved);
    }
    this.emitStats(g, w.device);
    return out;
  }

  private async waitConnected(fe: { phase: string }, ms = 30_000): Promise<void> {
    const deadline = this.hv.sched.now() + ms;
    while (fe.phase !== 'connected' && this.hv.sched.now() < deadline) await this.hv.sched.sleep(10);
  }

  private endpointOf(g: SimGuest, dev: DeviceRef): { ep: NetEndpoint; fe: Xenvif } {
    const fe = g.win.frontend(dev);
    const rec = this.ts().record(g.dom.domid, dev);
    if (!(fe instanceof Xenvif) || !rec || !(rec.backend instanceof Netback)) {
      throw guestError('SIM_NO_PV_NIC', `${g.ref.name}: ${dev} has no PV network device (is xenvif installed and bound?)`);
    }
    const nb = rec.backend;
    const ep: NetEndpoint = {
      mac: Buffer.alloc(6), // filled from the frontend's mac key by the caller
      send: (f) => fe.send(f),
      onReceive: (cb) => fe.onReceive(cb),
      links: [nb.model],
    };
    return { ep, fe };
  }

  private async netWorkload(g: SimGuest, w: NetWorkloadStep, peerAgent?: GuestAgent) {
    const { ep: local, fe } = this.endpointOf(g, w.device);
    await this.waitConnected(fe);
    local.mac = parseMac((await g.dom.xs.read(`${fe.fePath}/mac`)) ?? '00:16:3e:00:00:02');
    let peer: NetEndpoint;
    const peerName = w.peer ?? (peerAgent ? this.agentGuest.get(peerAgent) : undefined);
    const peerGuest = peerName ? this.guests.get(`${g.inst}/${peerName}`) : undefined;
    if (peerGuest) {
      const dev = (peerGuest.shape.vifs[0] ? `vif/${peerGuest.shape.vifs[0].devid}` : w.device) as DeviceRef;
      const p = this.endpointOf(peerGuest, dev);
      await this.waitConnected(p.fe);
      p.ep.mac = parseMac((await peerGuest.dom.xs.read(`${p.fe.fePath}/mac`)) ?? '00:16:3e:00:00:03');
      peer = p.ep;
    } else {
      const d0 = this.dom0Endpoint;
      const bridge = this.bridge((this.ts().record(g.dom.domid, w.device)!.shape as VifShape).bridge ?? 'xenbr0');
      const link = local.links[0];
      peer = {
        mac: d0.mac,
        links: [],
        send: async (f) => {
          // dom0's stack paces its frames by the link model of the guest's vif.
          await this.hv.sched.sleep(((link.latencyUs + f.length / link.bytesPerUs) * link.dilation) / 1000);
          bridge.transmit(d0, f);
          return 0;
        },
        onReceive: (cb) => d0.onReceive(cb),
      };
    }
    const gso = (await g.dom.xs.read(`${fe.fePath}/feature-gso-tcpv4`)) === '1';
    const out = await runNtttcp(w, { sched: this.hv.sched, local, peer, computerName: g.ref.name, gso });
    this.emitStats(g, w.device);
    return out;
  }

  /** One live ring of a guest, found directly (a sample is taken at every notification). */
  private guestRing(ref: GuestRef, id: RingId) {
    const g = this.find(ref);
    const fe = g?.win.frontends.get(id.dev);
    const r = fe?.liveRings().find((x) => x.queue === id.queue && x.name === id.ring && !x.isEnded);
    if (!g || !fe || !r) return undefined;
    const b = this.ts().record(g.dom.domid, fe.dev)?.backend.liveRings().find((x) => x.queue === r.queue && x.name === r.name && !x.closed);
    return { id: { dev: fe.dev, queue: r.queue, ring: r.name }, mem: r.mem, nrEnts: r.front.nrEnts, rspCons: r.front.rspCons, ...(b ? { reqCons: b.back.reqCons } : {}) };
  }

  private guestRings(ref: GuestRef) {
    const g = this.find(ref);
    if (!g) return [];
    const out: { id: RingId; mem: Buffer; nrEnts: number; rspCons: number; reqCons?: number }[] = [];
    for (const fe of g.win.frontends.values()) {
      const rec = this.ts().record(g.dom.domid, fe.dev);
      const back = rec?.backend.liveRings() ?? [];
      for (const r of fe.liveRings()) {
        if (r.isEnded) continue;
        const b = back.find((x) => x.queue === r.queue && x.name === r.name && !x.closed);
        out.push({ id: { dev: fe.dev, queue: r.queue, ring: r.name }, mem: r.mem, nrEnts: r.front.nrEnts, rspCons: r.front.rspCons, ...(b ? { reqCons: b.back.reqCons } : {}) });
      }
    }
    return out;
  }

  private async attachVbd(ref: GuestRef, vbd: VbdShape): Promise<DeviceRef> {
    const g = this.guest(ref);
    if (!g.shape.vbds.some((v) => v.vdev === vbd.vdev)) g.shape.vbds.push(vbd);
    const rec = await this.ts().addVbd(g.dom, vbd, this.savedDisk(g, vbd.vdev));
    return rec.dev;
  }

  private async attachVif(ref: GuestRef, vif: VifShape): Promise<DeviceRef> {
    const g = this.guest(ref);
    if (!g.shape.vifs.some((v) => v.devid === vif.devid)) g.shape.vifs.push(vif);
    return (await this.ts().addVif(g.dom, vif)).dev;
  }

  /** Disks survive unplug/replug (the same image is plugged back). */
  private unpluggedDisks = new Map<string, SparseDisk>();
  private savedDisk(g: SimGuest, vdev: string): SparseDisk | undefined {
    const k = `${g.ref.name}:${vdev}`;
    const d = this.unpluggedDisks.get(k);
    this.unpluggedDisks.delete(k);
    return d;
  }

  async detachDevice(ref: GuestRef, dev: DeviceRef, surprise: boolean): Promise<void> {
    const g = this.guest(ref);
    const rec = this.ts().record(g.dom.domid, dev);
    if (rec?.disk && 'vdev' in rec.shape) this.unpluggedDisks.set(`${g.ref.name}:${rec.shape.vdev}`, rec.disk);
    await this.ts().removeDevice(g.dom, dev, { surprise });
  }

  private async suspendGuest(ref: GuestRef, opts: { inPlace: boolean } = { inPlace: true }): Promise<void> {
    const g = this.guest(ref);
    if (g.power !== 'running') throw hostError('SIM_NOT_RUNNING', `${ref.name} is ${g.power}`);
    const xs = this.dom0!.xs;
    await xs.write(`${g.dom.home}/control/shutdown`, 'suspend');
    const deadline = this.hv.sched.now() + SUSPEND_TIMEOUT_MS;
    while (g.dom.state !== 'suspended') {
      if (this.hv.sched.now() >= deadline || g.dom.state === 'crashed') throw hostError('SIM_SUSPEND_TIMEOUT', `${ref.name} did not suspend within ${SUSPEND_TIMEOUT_MS} ms`);
      await this.hv.sched.sleep(10);
    }
    g.power = 'suspended';
    this.lifecycle(g, 'suspended');
    // Then the toolstack resets the backends for the resume and clears the guest's feature flags,
    // so it can tell when the resumed guest is ready again (the guest rewrites control/feature-suspend).
    if (opts.inPlace) {
      for (const rec of this.ts().devicesOf(g.dom.domid)) await this.ts().resetBackend(g.dom, rec.dev);
      await xs.rm(`${g.dom.home}/control/feature-suspend`);
    }
  }

  /** The guest lands on a destination whose backends offer other keys: its shape (copied, never the
   *  scenario's) says so from now on, for the devices built at the restore and at later reboots. */
  private landOn(g: SimGuest, dest: DestinationOptions['destination']): DeviceRef[] {
    if (!dest?.length) return [];
    const keys = new Map(dest.map((d) => [d.device, d.backend]));
    const over = <T extends { backend: Record<string, string> }>(dev: DeviceRef, x: T): T => (keys.has(dev) ? { ...x, backend: { ...x.backend, ...keys.get(dev) } } : x);
    const vbds = g.shape.vbds.map((v) => over(`vbd/${vdevToDevid(v.vdev)}` as DeviceRef, v));
    const vifs = g.shape.vifs.map((v) => over(`vif/${v.devid}` as DeviceRef, v));
    const known = new Set<string>([...g.shape.vbds.map((v) => `vbd/${vdevToDevid(v.vdev)}`), ...g.shape.vifs.map((v) => `vif/${v.devid}`)]);
    for (const d of keys.keys()) if (!known.has(d)) throw hostError('SIM_NO_DEVICE', `${g.ref.name} has no ${d} to give a destination backend`);
    g.shape = { ...g.shape, vbds, vifs };
    return [...keys.keys()];
  }

  private async resumeGuest(ref: GuestRef, opts: DestinationOptions = {}): Promise<void> {
    const g = this.guest(ref);
    if (g.power !== 'suspended') throw hostError('SIM_NOT_SUSPENDED', `${ref.name} is ${g.power}`);
    // resumed on other backends: each named device gets a fresh backend with the destination's keys
    for (const dev of this.landOn(g, opts.destination)) {
      const rec = this.ts().record(g.dom.domid, dev);
      if (!rec) continue;
      rec.shape = 'vdev' in rec.shape ? g.shape.vbds.find((v) => v.vdev === (rec.shape as VbdShape).vdev)! : g.shape.vifs.find((v) => v.devid === (rec.shape as VifShape).devid)!;
      await this.ts().resetBackend(g.dom, dev);
    }
    g.dom.setState('running');
    g.power = 'running';
    this.lifecycle(g, 'resumed');
    await g.win.resumed();
  }

  private async save(ref: GuestRef): Promise<string> {
    const g = this.guest(ref);
    await this.suspendGuest(ref, { inPlace: false });
    const disks = new Map<string, SparseDisk>();
    for (const rec of this.ts().devicesOf(g.dom.domid)) if (rec.disk && 'vdev' in rec.shape) disks.set(rec.shape.vdev, rec.disk);
    const id = `sim-image:${this.nextImage++}`;
    this.images.set(id, { guest: g, disks });
    await this.ts().destroyDevices(g.dom);
    await this.hv.destroyDomain(g.dom.domid, { keepMemory: true });
    g.power = 'halted';
    this.lifecycle(g, 'saved', { image: id });
    return id;
  }

  private async restore(ref: GuestRef, image: string, opts: DestinationOptions = {}): Promise<GuestRef> {
    const img = this.images.get(image);
    if (!img) throw hostError('SIM_NO_IMAGE', `no saved image '${image}'`);
    const g = img.guest;
    this.landOn(g, opts.destination);
    const old = g.dom.domid;
    const dom = await this.hv.createDomain(g.shape.name, { memory: g.dom.memory, grants: g.dom.grants });
    await this.ts().createDomainKeys(dom, g.shape.name, g.shape.memoryMiB * 1024, (g.shape.memoryTargetMiB ?? g.shape.memoryMiB) * 1024);
    for (const vbd of g.shape.vbds) await this.ts().addVbd(dom, vbd, img.disks.get(vbd.vdev));
    for (const vif of g.shape.vifs) await this.ts().addVif(dom, vif);
    g.dom = dom;
    g.ref = { name: g.ref.name, domid: dom.domid, handle: g.ref.handle };
    this.images.delete(image);
    g.power = 'running';
    this.lifecycle(g, 'restored', { from: old, domid: dom.domid });
    // The restore returns with the domain built and paused; it is unpaused a moment later and the
    // guest reconnects on its own, as after `xl restore` (the caller's probes attach meanwhile).
    this.hv.sched.after(RESTORE_UNPAUSE_MS * 1000, () => {
      dom.setState('running');
      void g.win.resumed(dom).catch((e) => this.hv.report.log('error', `${g.ref.name}: resume after restore: ${(e as Error).message}`));
    });
    void ref;
    return { ...g.ref };
  }

  private async migrateGuest(ref: GuestRef, opts: DestinationOptions = {}): Promise<GuestRef> {
    const g = this.guest(ref);
    const old = g.dom.domid;
    const img = await this.save(ref);
    const nref = await this.restore(ref, img, opts);
    this.lifecycle(g, 'migrated', { from: old, domid: nref.domid });
    return nref;
  }

  private async takeSnapshot(ref: GuestRef, label: string): Promise<string> {
    const g = this.guest(ref);
    const disks = new Map<string, SparseDisk>();
    for (const rec of this.ts().devicesOf(g.dom.domid)) if (rec.disk && 'vdev' in rec.shape) disks.set(rec.shape.vdev, rec.disk.clone());
    const id = `sim-snapshot:${label}:${this.nextImage++}`;
    this.snapshots.set(id, { guest: g.ref.name, disks });
    this.lifecycle(g, 'snapshot', { snapshot: id });
    return id;
  }

  private async revert(ref: GuestRef, snap: string): Promise<void> {
    const g = this.guest(ref);
    const s = this.snapshots.get(snap);
    if (!s || s.guest !== g.ref.name) throw hostError('SIM_NO_SNAPSHOT', `no snapshot '${snap}' of ${g.ref.name}`);
    // A revert leaves the VM halted with the snapshot's disks, as VM.revert of a disk-only snapshot does.
    if (g.power === 'running') await this.shutdownGuest(ref, 'hard');
    for (const rec of this.ts().devicesOf(g.dom.domid)) {
      if (rec.disk && 'vdev' in rec.shape) rec.disk.replaceWith(s.disks.get(rec.shape.vdev)!.clone());
    }
    this.lifecycle(g, 'reverted', { snapshot: snap });
  }

  /**
   * A BSOD on purpose: Windows writes its crash dump through xenvbd's dump path (sim/windows/crashdump.ts)
   * and restarts (AutoReboot, Windows' default); like xl and xapi, which build a rebooted domain's devices
   * afresh, the toolstack gives every device a new backend. Windows finds the dump in its page file as it
   * boots and keeps it as MEMORY.DMP, which is collected into the run's artifacts (./crash-dump.ts).
   */
  private async bugcheckGuest(ref: GuestRef, code: number): Promise<void> {
    const g = this.guest(ref);
    if (g.power !== 'running' || !g.win.booted) throw hostError('SIM_NOT_RUNNING', `${ref.name} is ${g.power}${g.win.booted ? '' : ' (Windows is not up)'}`);
    this.lifecycle(g, 'bugcheck', { code: stopCode(code), ...(STOP_NAMES[code] ? { name: STOP_NAMES[code] } : {}) });
    const { outcome, leftBehind, release } = await g.win.bugcheck(code, STOP_PARAMS);
    for (const p of leftBehind) await this.dom0!.xs.rm(p).catch(() => undefined);
    for (const rec of this.ts().devicesOf(g.dom.domid)) await this.ts().resetBackend(g.dom, rec.dev);
    await release();
    g.win.platform.reset();
    g.win.balloon?.reset();
    this.lifecycle(g, 'rebooted', { reason: `bugcheck ${stopCode(code)}` });
    this.emitMemory(g);
    await g.win.boot();
    await collectSimDump({ host: this, g, outcome, artifactsDir: this.artifactsDir });
  }

  /** Crashes a guest now (the guest-crash fault). */
  crash(g: SimGuest, reason = 'injected'): void {
    g.dom.setState('crashed');
    g.win.crashed();
    g.power = 'crashed';
    this.lifecycle(g, 'crashed', { reason });
  }

  /** Sets the backend state as `xenstore-write <backend>/state` would, for tests. */
  async backendState(ref: GuestRef, dev: DeviceRef): Promise<number | undefined> {
    const rec = this.ts().record(this.guest(ref).dom.domid, dev);
    return rec ? rec.backend.state : undefined;
  }

  static readonly XenbusState = XenbusState;
}

export function isSimHost(h: unknown): h is SimHost {
  return h instanceof SimHost;
}

export { WinpvError };
